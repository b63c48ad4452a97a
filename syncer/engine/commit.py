"""The commit stage: one fenced transaction records what a batch did. The id map links and
snapshots of what was written, dead letters of what failed (and the resolution of those that
went through), the run's counts and the cursor's progress, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from syncer.engine import deadletters, idmap
from syncer.engine.batch import Mapped, Matched, Outcome, Parked, Settled, Written
from syncer.engine.deadletters import Failure
from syncer.engine.match import natural_key
from syncer.engine.scope import RunScope
from syncer.engine.snapshots import merged
from syncer.logs import get_logger
from syncer.observe import RecordOutcome
from syncer.remote.errors import SkippableRemoteError

log = get_logger(__name__)


@dataclass(slots=True)
class Committed:
    """What a commit recorded, for the run's observers."""

    parked: list[Failure] = field(default_factory=list)
    records: list[RecordOutcome] = field(default_factory=list)


def commit(
    scope: RunScope,
    outcomes: Sequence[Outcome],
    *,
    unchanged: Sequence[Mapped] = (),
    failures: Sequence[Failure] = (),
    read_back: Sequence[int] = (),
    on_commit: Callable[[Session], None] | None = None,
) -> Committed:
    binding = scope.binding
    flow = binding.flow
    done = Committed(parked=list(failures))
    synced: list[str] = [item.key for item in unchanged]
    with scope.fenced() as session:
        # One SELECT for the batch's rows, and no flush per record: the inserts and updates go
        # out together when the transaction commits.
        changes = idmap.Changes(
            session, [row for o in outcomes for row in (o.match.row, o.match.target_row)]
        )
        taken = _taken(scope, session, outcomes)
        for outcome in outcomes:
            if isinstance(outcome, Written):
                done.records.append(_described(outcome))  # whatever becomes of its link
            failure = _failure_of(outcome) or _clash(scope, outcome, taken)
            if failure is not None:
                done.parked.append(failure)
                continue
            assert not isinstance(outcome, Parked)
            _record_success(scope, changes, outcome)
            synced.append(outcome.match.key)
            if isinstance(outcome, Settled):
                done.records.append(_described(outcome))
        changes.store()
        del changes
        for failure in done.parked:
            deadletters.park(
                session,
                flow.name,
                flow.source.connector,
                flow.source.stream,
                failure,
                scope.run_id,
                reference_wait=flow.reference_wait,
            )
            scope.counts.failed += 1
        if done.parked:
            scope.tally.letters = True
        if scope.tally.letters:
            deadletters.resolve(session, flow.name, synced)
        if read_back:
            idmap.read_back(session, read_back)
        scope.lifecycle.save_counts(session, scope.counts.as_body())
        if on_commit is not None:
            on_commit(session)
    return done


def _linked_native(outcome: Settled | Written) -> str | None:
    """The target's key of the record this one is linked to once it is recorded."""
    if isinstance(outcome, Written) and outcome.result is not None and outcome.result.native_id:
        return outcome.result.native_id
    return outcome.match.existing


def _new_link(outcome: Outcome) -> str | None:
    if isinstance(outcome, Parked):
        return None
    native = _linked_native(outcome)
    target_row = outcome.match.target_row
    if native is None or (target_row is not None and target_row.native_id == native):
        return None
    return native


def _taken(scope: RunScope, session: Session, outcomes: Sequence[Outcome]) -> dict[str, str]:
    """Target keys this batch is about to link that the id map already links: key ->
    canonical id."""
    natives = [n for o in outcomes if _failure_of(o) is None if (n := _new_link(o))]
    if not natives:
        return {}
    binding = scope.binding
    rows = idmap.by_native(
        session, binding.entity, binding.target.name, binding.target.stream, natives
    )
    return {native: row.canonical_id for native, row in rows.items()}


def _clash(scope: RunScope, outcome: Outcome, taken: dict[str, str]) -> Failure | None:
    """The last guard of one record to one record, for a target that answers a write with a
    record another one is linked to (one that keys records by a value it was sent): the record
    is not linked, but parked, so the id map never holds two links to one record."""
    native = _new_link(outcome)
    if native is None:
        return None
    match = outcome.match
    owner = taken.setdefault(native, match.canonical_id)
    if owner == match.canonical_id:
        return None
    reason = (
        f"{scope.binding.target.label} stored this record as its record {native}, which is "
        f"already the counterpart of another record (canonical id {owner}); syncer links one "
        "record to one record, so this one was written but is not linked, and is tried again "
        "later. Give it a key of its own in the source, or keep only one of the two"
    )
    log.warning("record not linked: it shares a target record", record=match.key, reason=reason)
    return Failure(match.key, reason, "identity", match.record.native)


def _failure_of(outcome: Outcome) -> Failure | None:
    if isinstance(outcome, Parked):
        return outcome.failure
    if not isinstance(outcome, Written):
        return None
    result = outcome.result
    if result is None or result.outcome != "failed":
        return None
    error = result.error
    kind = "validation" if isinstance(error, SkippableRemoteError) else "remote"
    reason = error.message if error is not None else "the target refused the record"
    return Failure(
        outcome.match.key,
        reason,
        kind,
        outcome.match.record.native,
        field=None,
        status_code=error.status if error is not None else None,
    )


def _record_success(scope: RunScope, changes: idmap.Changes, outcome: Settled | Written) -> None:
    binding = scope.binding
    match: Matched = outcome.match
    item = match.record
    write = outcome.write if isinstance(outcome, Written) else None
    undecided = outcome.write.undecided if isinstance(outcome, Written) else outcome.undecided
    snap_hash = changes.hash(item.snap)

    def kept(values: dict[str, Any]) -> dict[str, Any]:
        # Mostly the record's own snapshot: kept as that one object, so it is encoded and
        # hashed once a record, not once a row.
        return item.snap if values == item.snap else values

    source_row = changes.current(match.row)
    source_snapshot = kept(merged(source_row.snapshot, item.snap, binding.fields - undecided))
    key = natural_key(scope, item)
    changes.change(
        source_row,
        snapshot=source_snapshot,
        content_hash=changes.hash(source_snapshot),
        native_updated_at=_text(item.canonical.updated_at),
        origin=None,
        deleted=item.canonical.deleted,
        **({"natural_key": key} if key is not None else {}),
    )
    target_native = _linked_native(outcome)
    if target_native is None:
        scope.counts.outcome(_outcome_name(outcome))  # skipped: nothing in the target to link
        return
    previous = changes.current(match.target_row) if match.target_row is not None else None
    written_fields = write.fields if write is not None else frozenset()
    written = merged(previous.snapshot if previous else None, item.snap, written_fields)
    result = outcome.result if isinstance(outcome, Written) else None
    if result is None and previous is None:
        written = merged(None, item.snap, binding.fields)  # found by its key, already in place
    written = kept(written)
    target_row = idmap.link(
        changes,
        previous,
        entity=binding.entity,
        canonical_id=match.canonical_id,
        connector=binding.target.name,
        stream=binding.target.stream,
        native_id=target_native,
        snapshot=written,
        content_hash=changes.hash(written),
        written_hash=(
            (
                snap_hash
                if written_fields >= item.snap.keys()
                else changes.hash({k: v for k, v in item.snap.items() if k in written_fields})
            )
            if write is not None
            else None
        ),
        origin=binding.flow.name if write is not None else None,
        deleted=item.canonical.deleted,
        **({"natural_key": key} if key is not None else {}),
    )
    binding.target.refs.learn(binding.entity, target_row.native_id, match.canonical_id)
    binding.source.refs.learn(binding.entity, item.key, match.canonical_id)
    scope.counts.outcome(_outcome_name(outcome))


def _outcome_name(outcome: Settled | Written) -> str:
    if isinstance(outcome, Written):
        return outcome.result.outcome if outcome.result is not None else "unchanged"
    return outcome.outcome


def _described(outcome: Outcome) -> RecordOutcome:
    match = outcome.match
    number = str(match.record.values.get("number") or match.key)
    if isinstance(outcome, Written) and outcome.result is not None:
        result = outcome.result
        error = result.error.message if result.error is not None else None
        return RecordOutcome(match.key, number, result.outcome, result.native_id, error)
    name = outcome.outcome if isinstance(outcome, Settled) else "unchanged"
    return RecordOutcome(match.key, number, name, match.existing)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:64]
