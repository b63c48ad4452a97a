"""What a person does about records syncer could not handle alone: dead letters to retry or
drop, conflicts to resolve by taking one side."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from syncer.config.models import FlowConfig
from syncer.connector import KeyWriteBack, PartialWrite, WriteOp
from syncer.engine import idmap, leases, links
from syncer.engine.binding import FlowBinding
from syncer.engine.engine import Engine
from syncer.engine.lifecycle import RunLifecycle
from syncer.engine.snapshots import merged, snapshot
from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode
from syncer.mapping.hashing import content_hash
from syncer.state.base import utcnow
from syncer.state.models import Conflict, DeadLetter


class ReviewError(SyncerError):
    """The dead letter or conflict named does not exist or cannot be acted on."""

    exit_code = ExitCode.BAD_CONFIG


class RetryFailed(SyncerError):
    """The run that retried a flow's dead letters failed: a system could not be reached, or
    the flow was taken over; its dead letters stay as they were."""

    exit_code = ExitCode.UNREACHABLE


@dataclass(frozen=True, slots=True)
class RetryReport:
    flows: dict[str, tuple[int, int]]
    """Flow -> (retried, now synced)."""


def select_letters(engine: Engine, ids: Sequence[int], flow: str | None) -> list[DeadLetter]:
    with engine.store.session() as session:
        query = select(DeadLetter).where(DeadLetter.status == "pending")
        if ids:
            query = query.where(DeadLetter.id.in_(list(ids)))
        if flow:
            query = query.where(DeadLetter.flow == flow)
        letters = list(session.scalars(query.order_by(DeadLetter.id)))
    missing = sorted(set(ids) - {letter.id for letter in letters})
    if missing:
        raise ReviewError(
            f"no pending dead letter with id {', '.join(map(str, missing))}; "
            "`syncer dead-letters list` shows them"
        )
    return letters


async def retry(engine: Engine, ids: Sequence[int], flow: str | None) -> RetryReport:
    """Retry now, whatever their backoff says."""
    letters = select_letters(engine, ids, flow)
    now = utcnow()
    with engine.store.session() as session:
        for letter in letters:
            stored = session.get(DeadLetter, letter.id)
            if stored is not None:
                stored.next_attempt_at = now
    report: dict[str, tuple[int, int]] = {}
    for name in sorted({letter.flow for letter in letters}):
        result = await engine.retry_dead_letters(name)
        if result.status == "busy":
            raise ReviewError(f"{result.error}; try again once that run has finished")
        if result.status == "failed":
            raise RetryFailed(f"retrying the dead letters of {name} failed: {result.error}")
        count = sum(1 for letter in letters if letter.flow == name)
        report[name] = (count, result.retried)
    return RetryReport(report)


def drop(engine: Engine, ids: Sequence[int], flow: str | None) -> int:
    """A person decided these records will not be synced: stop retrying them."""
    letters = select_letters(engine, ids, flow)
    with engine.store.session() as session:
        for letter in letters:
            stored = session.get(DeadLetter, letter.id)
            if stored is not None:
                stored.status = "dropped"
                stored.resolved_at = utcnow()
    return len(letters)


async def resolve_conflict(engine: Engine, conflict_id: int, take: str) -> list[str]:
    """Write the chosen side's values of the conflicting fields to the other side, and mark
    them synced on both. Returns the fields written."""
    with engine.store.session() as session:
        conflict = session.get(Conflict, conflict_id)
        if conflict is None or conflict.status != "open":
            raise ReviewError(
                f"no open conflict with id {conflict_id}; `syncer conflicts list` shows them"
            )
        sides = {conflict.source, conflict.target}
        if take not in sides:
            raise ReviewError(
                f"--take must be one side of the conflict: {' or '.join(sorted(sides))}"
            )
        fields = frozenset(conflict.fields)
        entity, canonical_id = conflict.entity, conflict.canonical_id
        kind, found_by, keep = conflict.kind, conflict.flow, take == conflict.source
        keys = {path: sides.get(take) for path, sides in conflict.fields.items()}
    if kind == "key":
        # Keeping the source's key needs no write; taking syncer's overwrites it on request.
        if not keep:
            await _overwrite_keys(engine, found_by, entity, canonical_id, keys)
        _close(engine, conflict_id, take)
        return sorted(fields)
    flow = next(
        (
            f
            for f in engine.config.flows
            if f.source.connector == take
            and f.target.connector in sides - {take}
            and engine.context.binding(f.name).source.entity == entity
        ),
        None,
    )
    if flow is None:
        raise ReviewError(f"no flow goes from {take} to the other side for {entity} records")
    async with _holding(engine, flow) as binding:
        fields_written = await _take(engine, binding, entity, canonical_id, fields, take)
    _close(engine, conflict_id, take)
    return fields_written


async def _take(
    engine: Engine,
    binding: FlowBinding,
    entity: str,
    canonical_id: str,
    fields: frozenset[str],
    take: str,
) -> list[str]:
    """Write ``take``'s values of ``fields`` to the other side and mark them synced on both."""
    flow = binding.flow
    source, target = binding.source, binding.target
    with engine.store.session() as session:
        source_row = idmap.by_canonical(
            session, entity, flow.source.connector, flow.source.stream, [canonical_id]
        ).get(canonical_id)
        target_row = idmap.by_canonical(
            session, entity, flow.target.connector, flow.target.stream, [canonical_id]
        ).get(canonical_id)
    if source_row is None or target_row is None:
        raise ReviewError("the record is no longer linked on both sides; run the flows again")
    native = await source.connector.get(source.stream, source_row.native_id)
    if native is None:
        raise ReviewError(f"{take} no longer has the record {source_row.native_id}")
    canonical = source.mapping.read(native, source.context)
    values = snapshot(canonical.values, fields)
    record = target.mapping.write(
        canonical.values, target.context, fields, canonical_id=canonical_id
    )
    try:
        [result] = await target.connector.write(
            target.stream,
            [WriteOp("update", record, ref=canonical_id, native_id=target_row.native_id)],
        )
    except PartialWrite as stopped:
        raise stopped.cause from None  # one write: nothing went through
    if result.outcome == "failed":
        message = result.error.message if result.error else "refused"
        raise ReviewError(f"{flow.target.connector} refused the values: {message}")
    with engine.store.session() as session:
        for row in (source_row, target_row):
            kept = merged(row.snapshot, values, fields)
            assert row.id is not None  # loaded from the store
            links.update_row(session, row.id, snapshot=kept, content_hash=content_hash(kept))
    return sorted(fields)


@contextlib.asynccontextmanager
async def _holding(engine: Engine, flow: FlowConfig) -> AsyncIterator[FlowBinding]:
    """The flow, bound, while this process holds its lease: a person's change goes through
    the same "one run per flow" as a sync, and never races one."""
    lifecycle = RunLifecycle(engine.store, flow, str(uuid.uuid4()), kind="resolve")
    try:
        async with lifecycle.held():
            yield FlowBinding.build(engine.context, flow)
    except leases.LeaseBusy as busy:
        raise ReviewError(f"{busy.message}; try again once that run has finished") from None


def _close(engine: Engine, conflict_id: int, take: str) -> None:
    with engine.store.session() as session:
        conflict = session.get(Conflict, conflict_id)
        assert conflict is not None
        conflict.status = "resolved"
        conflict.resolution = take
        conflict.resolved_at = utcnow()


async def _overwrite_keys(
    engine: Engine, flow_name: str, entity: str, canonical_id: str, keys: dict[str, object]
) -> None:
    """A person chose syncer's key over the one the source record carried: write it."""
    if flow_name not in {flow.name for flow in engine.config.flows}:
        raise ReviewError(
            f"the flow {flow_name!r} that found this conflict is no longer configured"
        )
    flow = engine.config.flow(flow_name)
    async with _holding(engine, flow) as binding:
        with engine.store.session() as session:
            row = idmap.by_canonical(
                session, entity, flow.source.connector, flow.source.stream, [canonical_id]
            ).get(canonical_id)
        source = binding.source.connector
        if row is None or not isinstance(source, KeyWriteBack):
            raise ReviewError("the record is no longer linked in the source; run the flow again")
        await source.annotate(flow.source.stream, row.native_id, keys)
