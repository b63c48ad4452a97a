"""The map stage: native source records in, canonical :class:`Mapped` values out.

Records the flow's filters leave out are skipped, a record the source handed over twice is
taken once (the last one read), and a record that cannot be mapped becomes a dead letter while
the batch goes on."""

from __future__ import annotations

from collections.abc import Sequence

from syncer.connector import LOCATION_FIELD, Record
from syncer.engine import idmap
from syncer.engine.batch import Mapped
from syncer.engine.binding import FlowBinding
from syncer.engine.deadletters import Failure
from syncer.engine.filters import takes
from syncer.engine.scope import RunScope
from syncer.engine.snapshots import snapshot
from syncer.errors import RecordError
from syncer.logs import get_logger
from syncer.mapping.errors import MappingError, UnresolvedReference
from syncer.mapping.mapping import CompiledMapping

log = get_logger(__name__)


def filtered(scope: RunScope, records: Sequence[Record]) -> tuple[list[Record], list[Failure]]:
    """The records the flow's ``filter`` and its source mapping's let through. The others
    are skipped and left alone; a record a filter fails on (a field of the wrong type) is a
    dead letter, since syncer cannot tell whether it belongs to this flow."""
    binding = scope.binding
    if not binding.filters:
        return list(records), []
    kept: list[Record] = []
    failures: list[Failure] = []
    for record in records:
        wanted, problem = takes(binding.filters, record)
        if problem is not None:
            key = binding.source.mapping.native_id_or_none(record) or str(
                record.get(LOCATION_FIELD) or "?"
            )
            failures.append(Failure(key, problem, "mapping", record, "filter"))
        elif wanted:
            kept.append(record)
        else:
            scope.counts.skipped += 1
    return kept, failures


def last_of_each(
    mapping: CompiledMapping, records: Sequence[Record]
) -> tuple[list[Record], dict[str, list[Record]]]:
    """One record per key, the last one read, and the earlier ones of each key repeated.

    A source may hand the same record over twice in one page (a CSV file with a key on two
    rows, an ERP page that repeats a record), and one record cannot be synced twice at once.
    The last is the newest a file holds, and the one a later page would have synced anyway.
    A record without a usable key is kept: it fails on its own when it is mapped."""
    keys: list[str | None] = []
    last: dict[str, int] = {}
    for index, record in enumerate(records):
        key = mapping.native_id_or_none(record)
        keys.append(key)
        if key is not None:
            last[key] = index
    if len(last) == sum(key is not None for key in keys):
        return list(records), {}
    kept: list[Record] = []
    earlier: dict[str, list[Record]] = {}
    for index, (record, key) in enumerate(zip(records, keys, strict=True)):
        if key is None or last[key] == index:
            kept.append(record)
        else:
            earlier.setdefault(key, []).append(record)
    return kept, earlier


def once_each(scope: RunScope, records: Sequence[Record]) -> list[Record]:
    """:func:`last_of_each`, with the earlier copies counted as skipped and a warning naming
    the key and where each copy was."""
    kept, earlier = last_of_each(scope.binding.source.mapping, records)
    if not earlier:
        return kept
    synced_at = {
        key: record.get(LOCATION_FIELD)
        for record in kept
        if (key := scope.binding.source.mapping.native_id_or_none(record)) in earlier
    }
    for key, skipped in earlier.items():
        scope.counts.skipped += len(skipped)
        synced = synced_at.get(key)
        places = [str(r.get(LOCATION_FIELD)) for r in skipped if r.get(LOCATION_FIELD)]
        log.warning(
            "the source has this record more than once; the last one read is synced and "
            "the earlier ones are skipped",
            record=key,
            times=len(skipped) + 1,
            **({"synced": str(synced), "skipped": places} if synced and places else {}),
        )
    return kept


def map_records(scope: RunScope, records: Sequence[Record]) -> tuple[list[Mapped], list[Failure]]:
    binding = scope.binding
    mapping = binding.source.mapping
    binding.source.refs.prefetch_native(
        pair for record in records for pair in mapping.references(record)
    )
    items: list[Mapped] = []
    failures: list[Failure] = []
    for record in records:
        location = record.get(LOCATION_FIELD)
        try:
            key = mapping.native_id(record)
        except MappingError as error:
            # A row that cannot even be told apart from others is a reading problem: it is
            # retried by reading its file again, like a broken row.
            kind = "read" if location else "mapping"
            failures.append(Failure(str(location or "?"), error.reason, kind, record, error.field))
            continue
        try:
            canonical = mapping.read(record, binding.source.context)
        except UnresolvedReference as error:
            failures.append(waiting(binding, key, error, record))
            continue
        except RecordError as error:
            failures.append(Failure(key, error.reason, "mapping", record, error.field))
            continue
        items.append(
            Mapped(record, key, canonical, snapshot(canonical.values, binding.fields), None)
        )
    with scope.session() as session:
        rows = idmap.by_native(
            session,
            binding.entity,
            binding.source.name,
            binding.source.stream,
            [item.key for item in items],
        )
    for item in items:
        item.row = rows.get(item.key)
    return items, failures


def waiting(binding: FlowBinding, key: str, error: UnresolvedReference, record: Record) -> Failure:
    """A record that waits for one it refers to, with who would bring that one."""
    reason = f"{error.reason} ({binding.context.who_links(binding.flow, error.entity)})"
    return Failure(key, reason, "reference", record, error.field)
