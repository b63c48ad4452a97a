"""The match stage: which mapped records changed, their canonical ids, and their counterparts
in the target.

A record is unchanged only when its source side still matches what was last synced *and* it
is linked in this flow's target; unchanged records (our own writes read back among them: the
echoes) cost nothing more. A record seen for the first time gets its canonical id reserved in
a commit of its own, so a crash after the target accepted a create cannot make the retry
create it again: the retry finds it by the key the target stores."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncer.engine import idmap
from syncer.engine.batch import Mapped, Matched, Parked
from syncer.engine.deadletters import Failure
from syncer.engine.scope import RunScope
from syncer.engine.snapshots import changed_fields
from syncer.logs import get_logger
from syncer.mapping.paths import dig

log = get_logger(__name__)


@dataclass(slots=True)
class Unchanged:
    """The records of a batch with nothing to do, and the id-map rows of those that were the
    other half of the pair's writes, read back."""

    records: list[Mapped] = field(default_factory=list)
    read_back: list[int] = field(default_factory=list)


def split_unchanged(scope: RunScope, items: list[Mapped]) -> tuple[list[Mapped], Unchanged]:
    """(the changed records, the unchanged ones). Linked in the target matters when one source
    feeds several targets (Repzo clients to the ERP and to a CSV drop): the source snapshot
    says nothing about a target never written."""
    binding = scope.binding
    same = {
        item.row.canonical_id: item
        for item in items
        if item.row is not None
        and item.row.snapshot is not None
        and not changed_fields(item.snap, item.row.snapshot, binding.fields)
    }
    linked: set[str] = set()
    if same:
        with scope.session() as session:
            linked = set(
                idmap.by_canonical(
                    session, binding.entity, binding.target.name, binding.target.stream, list(same)
                )
            )
    changed: list[Mapped] = []
    unchanged = Unchanged()
    for item in items:
        row = item.row
        if row is None or row.canonical_id not in linked or same.get(row.canonical_id) is not item:
            changed.append(item)
            continue
        unchanged.records.append(item)
        scope.counts.unchanged += 1
        if binding.pair is not None and row.origin == binding.pair.reverse:
            scope.counts.echoes += 1
            if row.id is not None:
                unchanged.read_back.append(row.id)
    return changed, unchanged


def reserve(scope: RunScope, items: list[Mapped]) -> None:
    """Give first-seen records their canonical id.

    The id is derived from where the record was first seen (:func:`idmap.canonical_id_for`),
    so a run that dies after the target accepted a create finds it again by that id. Where the
    target keeps the canonical id on the record (``external_ref: "{canonical_id}"``), the ids
    are also committed before anything is written: the other half of a pair adopts a record
    carrying one only if the id map knows it.

    A record syncer itself created in this system carries the canonical id it was created
    for. When the run that created it died before it recorded the link (kill -9 after the
    201, a retry budget spent mid-batch), the record is new to the id map but not to syncer:
    it is linked to that canonical id, so the other half of a pair updates the original
    instead of creating it a second time."""
    fresh = [item for item in items if item.row is None]
    if not fresh:
        return
    binding = scope.binding
    source = binding.source
    carried = {
        item.key: found
        for item in fresh
        if (found := source.mapping.carried_canonical_id(item.native)) is not None
    }
    keeps_ids = binding.target.mapping.keeps_canonical_id
    with scope.fenced() if keeps_ids else scope.session() as session:
        adoptable = (
            idmap.claimed_elsewhere(
                session, binding.entity, source.name, source.stream, carried.values()
            )
            if carried
            else set()
        )
        changes = idmap.Changes(session, ())
        for item in fresh:
            canonical_id = carried.get(item.key)
            if canonical_id in adoptable:
                adoptable.discard(canonical_id)  # one record per canonical id
                log.info(
                    "linked a record syncer created before its link was recorded",
                    record=item.key,
                    canonical_id=canonical_id,
                )
            else:
                canonical_id = idmap.canonical_id_for(
                    binding.entity, source.name, source.stream, item.key
                )
            item.row = row = idmap.new_link(
                binding.entity,
                canonical_id,
                source.name,
                source.stream,
                item.key,
                natural_key=natural_key(scope, item),
            )
            if keeps_ids:
                changes.add(row)
        if keeps_ids:
            changes.store()
            stored = idmap.by_native(
                session, binding.entity, source.name, source.stream, [i.key for i in fresh]
            )
            for item in fresh:
                item.row = stored[item.key]


async def counterparts(scope: RunScope, items: list[Mapped]) -> tuple[list[Matched], list[Parked]]:
    """Each reserved record with its counterpart in the target: linked in the id map, or
    found by its identity key (``integration_meta.id``, a document number, the canonical id)
    before it is created. A record whose key finds several target records is parked: syncer
    cannot tell which one is its counterpart, and writing to any would be a guess."""
    if not items:
        return [], []
    binding = scope.binding
    target = binding.target
    with scope.session() as session:
        rows = idmap.by_canonical(
            session,
            binding.entity,
            target.name,
            target.stream,
            [item.row.canonical_id for item in items if item.row is not None],
        )
    found: dict[str, set[str]] = {}
    lookups: dict[str, tuple[str, str] | None] = {}
    by_lookup: dict[str, dict[str, list[str]]] = {}
    for item in items:
        assert item.row is not None
        lookup = target.mapping.lookup(item.values, target.context, item.row.canonical_id)
        lookups[item.key] = lookup
        if rows.get(item.row.canonical_id) is None and lookup is not None:
            path, value = lookup
            by_lookup.setdefault(path, {}).setdefault(value, []).append(item.key)
    for path, wanted in by_lookup.items():
        for record in await target.connector.lookup(target.stream, path, list(wanted)):
            for key in wanted.get(str(dig(record, path)), []):
                found.setdefault(key, set()).add(target.mapping.native_id(record))
    matched: list[Matched] = []
    parked: list[Parked] = []
    for item in items:
        assert item.row is not None
        lookup = lookups[item.key]
        natives = sorted(found.get(item.key, ()))
        match = Matched(
            item,
            item.row,
            rows.get(item.row.canonical_id),
            natives[0] if len(natives) == 1 else None,
            lookup,
        )
        if len(natives) < 2 or lookup is None:
            matched.append(match)
            continue
        reason = (
            f"{target.label} has {len(natives)} records with {lookup[0]} {lookup[1]!r} "
            f"({', '.join(natives)}), and syncer cannot tell which one is this record's "
            "counterpart; it is not synced until only one of them has that key"
        )
        log.warning("record not synced: its key finds several target records", record=item.key)
        parked.append(Parked(match, Failure(item.key, reason, "identity", item.native)))
    return matched, parked


def natural_key(scope: RunScope, item: Mapped) -> str | None:
    """The record's natural key (a document number, a code), kept in the id map so that other
    records can refer to it by that key (``by:`` in a mapping)."""
    name = scope.binding.model.natural_key
    value = item.values.get(name) if name else None
    return None if value in (None, "") else str(value)[:255]
