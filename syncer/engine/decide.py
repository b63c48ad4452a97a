"""The decide stage: for each changed record, what to write to the target, if anything.

A one-way flow writes every carried field the target does not already have (the source is
the authority). For a two-way pair the target's current version is read (one lookup per
batch) and the pair's conflict policy decides field by field; what it cannot decide waits for
a person, and the rest goes through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncer.connector import WriteKind, WriteOp, parse_instant
from syncer.engine import conflicts
from syncer.engine.batch import Decision, Matched, Parked, Settled, Write
from syncer.engine.deadletters import Failure
from syncer.engine.prepare import waiting
from syncer.engine.scope import RunScope
from syncer.engine.snapshots import changed_fields, snapshot
from syncer.errors import RecordError
from syncer.logs import get_logger
from syncer.mapping.errors import RecordRefused, UnresolvedReference

log = get_logger(__name__)


async def decide(scope: RunScope, items: list[Matched]) -> list[Decision]:
    current = await current_targets(scope, items)
    return [_decide_one(scope, item, current) for item in items]


def _decide_one(scope: RunScope, item: Matched, current: dict[str, dict[str, Any]]) -> Decision:
    binding = scope.binding
    mode = binding.flow.mode
    canonical = item.record.canonical
    existing = item.existing
    undecided: frozenset[str] = frozenset()
    if existing is None:
        if canonical.deleted and mode != "create_only":
            return Settled(item, "skipped")  # nothing to disable where it never arrived
        fields: frozenset[str] = binding.fields
        kind: WriteKind = "create"
    elif mode == "create_only":
        # Documents are sent once; one already there (a crash after the target took it, or a
        # retry) is linked, never sent again.
        return Settled(item, "skipped" if item.target_row is not None else "linked")
    elif unseen(scope, item, current):
        return Parked(item, _unseen_failure(scope, item))
    else:
        fields, undecided = fields_to_write(scope, item, current.get(existing))
        kind = "update"
        if not fields and not canonical.deleted:
            if item.target_row is None:
                return Settled(item, "linked", undecided)
            return Settled(item, "unchanged", undecided)
    if (
        canonical.deleted
        and kind == "update"
        and "active" not in binding.target.mapping.write_fields
    ):
        op = WriteOp("delete", {}, ref=item.key, native_id=existing)
        return Write(item, op, frozenset(), undecided)
    native = item.record.native
    try:
        record = binding.target.mapping.write(
            item.record.values,
            binding.target.context,
            fields,
            record_key=item.key,
            canonical_id=item.canonical_id,
        )
    except UnresolvedReference as error:
        return Parked(item, waiting(binding, item.key, error, native))
    except RecordRefused as error:
        return Parked(item, Failure(item.key, error.reason, "refused", native, error.field))
    except RecordError as error:
        return Parked(item, Failure(item.key, error.reason, "mapping", native, error.field))
    op = WriteOp(kind, record, ref=item.key, native_id=existing, lookup=item.lookup)
    return Write(item, op, fields, undecided)


def unseen(scope: RunScope, item: Matched, current: dict[str, dict[str, Any]]) -> bool:
    """A two-way pair's record whose current version the target did not give: its conflict
    rules cannot be applied, and deciding it as a one-way flow would write this side's edits
    over fields the other side owns. (A record mirror mode disabled there is brought back
    without them: all its fields are this side's to write.)"""
    target_row = item.target_row
    return (
        scope.binding.pair is not None
        and item.existing not in current
        and not (target_row is not None and target_row.deleted)
    )


def _unseen_failure(scope: RunScope, item: Matched) -> Failure:
    target = scope.binding.flow.target
    reason = (
        f"{target.connector}.{target.stream} did not return its record {item.existing} when "
        "asked for the current version; the pair's conflict rules need it, so the record "
        "waits and is tried again on the next runs"
    )
    return Failure(item.key, reason, "remote", item.record.native)


def fields_to_write(
    scope: RunScope, item: Matched, target_now: dict[str, Any] | None
) -> tuple[frozenset[str], frozenset[str]]:
    """(the fields to write, the fields held for a person): every carried field the target
    lacks for a one-way flow; for a two-way pair, what the policy lets through."""
    binding = scope.binding
    snap = item.record.snap
    target_row = item.target_row
    if binding.pair is None or target_now is None:
        if target_row is not None and target_row.deleted and not item.record.canonical.deleted:
            return binding.fields, frozenset()  # deleted there (mirror mode): bring it back
        if target_row is not None and target_row.snapshot is not None:
            stale = changed_fields(snap, target_row.snapshot, binding.fields)
            return frozenset(stale), frozenset()  # only what the target does not have
        return binding.fields, frozenset()
    flow = binding.flow
    with scope.session() as session:
        held = conflicts.open_fields(session, binding.entity, item.canonical_id)
    decision = conflicts.decide(
        source=flow.source.connector,
        target=flow.target.connector,
        source_now=snap,
        source_synced=item.row.snapshot,
        target_now=target_now,
        target_synced=target_row.snapshot if target_row else None,
        fields=binding.fields,
        settings=binding.pair.conflict,
        source_time=_time(item.record.canonical.updated_at),
        target_time=_time(target_now.get("__updated_at")),
        target_unknown=target_row is not None and target_row.snapshot is None,
    )
    for name, reason in decision.reasons.items():
        log.info(
            "conflict decided" if name not in decision.undecided else "conflict for review",
            record=item.key,
            field=name,
            reason=reason,
        )
    undecided = frozenset(decision.undecided | (held & binding.fields))
    if decision.reasons:
        scope.counts.conflicts += 1
    if decision.undecided:
        values = {
            name: {
                flow.source.connector: snap.get(name),
                flow.target.connector: target_now.get(name),
                "synced": (item.row.snapshot or {}).get(name),
            }
            for name in decision.undecided
        }
        with scope.fenced() as session:
            conflicts.record(
                session,
                flow=flow.name,
                entity=binding.entity,
                canonical_id=item.canonical_id,
                source=flow.source.connector,
                target=flow.target.connector,
                values=values,
                reason="; ".join(decision.reasons[name] for name in sorted(decision.undecided)),
            )
    return frozenset(decision.write - undecided), undecided


async def current_targets(scope: RunScope, items: list[Matched]) -> dict[str, dict[str, Any]]:
    """For a two-way pair: the target's current version of records about to be updated, as
    canonical snapshots (one lookup per batch)."""
    binding = scope.binding
    if binding.pair is None:
        return {}
    wanted = [native for item in items if (native := item.existing)]
    if not wanted:
        return {}
    target = binding.target
    found = await target.connector.lookup(target.stream, target.mapping.key.text, wanted)
    current: dict[str, dict[str, Any]] = {}
    for record in found:
        try:
            canonical = target.mapping.read(record, target.context)
        except RecordError:
            continue  # the reverse flow will dead-letter it with the full story
        snap = snapshot(canonical.values, binding.fields)
        snap["__updated_at"] = canonical.updated_at
        current[canonical.native_id] = snap
    return current


def _time(value: Any) -> datetime | None:
    return parse_instant(value)
