"""The write stage: the batch's writes go to the target with bounded concurrency (a batch
refused as a whole is split so the good records still go through), then the target's keys of
what it created are written back to the source where the flow says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from syncer.concurrency import bounded_map
from syncer.connector import KeyWriteBack, WriteOp, WriteResult
from syncer.engine import conflicts
from syncer.engine.batch import Decision, Outcome, Write, Written
from syncer.engine.binding import FlowBinding
from syncer.engine.scope import RunScope
from syncer.errors import RecordError
from syncer.logs import get_logger
from syncer.mapping.paths import dig
from syncer.remote.errors import (
    FatalRemoteError,
    RemoteError,
    SkippableRemoteError,
    UncertainWrite,
)

log = get_logger(__name__)


async def write(binding: FlowBinding, decisions: Sequence[Decision]) -> list[Outcome]:
    """The decisions with each :class:`Write` replaced by the target's answer. A failure that
    ends the run part way is raised as ``PartialWrite`` by the connector."""
    writes = [decision for decision in decisions if isinstance(decision, Write)]
    if not writes:
        return [d for d in decisions if not isinstance(d, Write)]
    results = await write_split(binding, [w.op for w in writes])
    return answered(decisions, results)


def answered(decisions: Sequence[Decision], results: Sequence[WriteResult]) -> list[Outcome]:
    by_ref = {result.ref: result for result in results}
    return [Written(d, by_ref.get(d.match.key)) if isinstance(d, Write) else d for d in decisions]


async def write_split(binding: FlowBinding, ops: list[WriteOp]) -> list[WriteResult]:
    """Write; a batch the target refuses as a whole is split until the bad records are alone,
    so the good ones still go through."""
    target = binding.target
    try:
        return await target.connector.write(target.stream, ops)
    except (SkippableRemoteError, UncertainWrite) as error:
        if len(ops) == 1:
            return [WriteResult(ops[0].ref, "failed", native_id=ops[0].native_id, error=error)]
        middle = len(ops) // 2
        return [
            *await write_split(binding, ops[:middle]),
            *await write_split(binding, ops[middle:]),
        ]


async def write_back(scope: RunScope, written: Sequence[Written]) -> FatalRemoteError | None:
    """Tell the source the target's key of what it just created there, where the flow's
    write-back rule says so (see :mod:`syncer.engine.writeback`) and where the source can
    store it without it counting as a change (Repzo's update-integration-meta).

    A key the record already carries is not sent again; a different key already there is
    never overwritten but opened as a conflict. A failure that stops the run (the source is
    unreachable, the retry budget is spent) ends the write-backs at once and is returned, so
    the batch is committed before the run stops."""
    binding = scope.binding
    source = binding.source.connector
    if not isinstance(source, KeyWriteBack) or not binding.write_back.enabled:
        return None
    pending: list[tuple[Written, dict[str, Any]]] = []
    clashes: list[tuple[Written, dict[str, tuple[Any, Any]]]] = []
    for item in written:
        found = _identity_to_write_back(binding, item)
        if found is None:
            continue
        missing, different = found
        if different:
            clashes.append((item, different))
        if missing:
            pending.append((item, missing))
    if clashes:
        _key_conflicts(scope, clashes)
    if not pending:
        return None
    stopped: list[FatalRemoteError] = []

    async def send(entry: tuple[Written, dict[str, Any]]) -> None:
        if stopped:
            return
        item, identity = entry
        try:
            await source.annotate(binding.source.stream, item.match.key, identity)
        except FatalRemoteError as error:
            stopped.append(error)
        except RemoteError as error:
            log.warning(
                "could not write the target's key back to the source",
                record=item.match.key,
                error=error.message,
            )

    settings = binding.context.config.connectors[binding.source.name]
    await bounded_map(send, pending, settings.write_limit())
    return stopped[0] if stopped else None


def _identity_to_write_back(
    binding: FlowBinding, item: Written
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]] | None:
    """For a record the target just created: the source's identity keys it lacks, and the
    ones it holds with a different value (path -> (there, ours))."""
    result = item.result
    if result is None or result.outcome != "created" or not result.record:
        return None
    source, target = binding.source, binding.target
    try:
        target_view = target.mapping.read(result.record, target.context)
    except RecordError:
        return None
    keys = source.mapping.write(
        target_view.values,
        source.context,
        frozenset(),
        canonical_id=item.match.canonical_id,
        target_key=result.native_id,
    )
    missing: dict[str, Any] = {}
    different: dict[str, tuple[Any, Any]] = {}
    for path, _ in source.mapping.identity:
        ours = dig(keys, path.text)
        if ours is None:
            continue
        there = dig(item.match.record.native, path.text)
        if there in (None, ""):
            missing[path.text] = ours
        elif there != ours:
            different[path.text] = (there, ours)
    return missing, different


def _key_conflicts(
    scope: RunScope, clashes: list[tuple[Written, dict[str, tuple[Any, Any]]]]
) -> None:
    """A source record already linked to a different key (by another integration, or by
    hand): the link is left alone and a person decides."""
    binding = scope.binding
    source, target = binding.source.name, binding.target.name
    with scope.fenced() as session:
        for item, different in clashes:
            described = "; ".join(
                f"{path} is {there!r}, syncer's key from {target} would be {ours!r}"
                for path, (there, ours) in different.items()
            )
            log.warning(
                "the source record is already linked to another key; not overwritten",
                record=item.match.key,
                keys=described,
            )
            conflicts.record(
                session,
                flow=binding.flow.name,
                entity=binding.entity,
                canonical_id=item.match.canonical_id,
                source=source,
                target=target,
                values={
                    path: {source: there, target: ours} for path, (there, ours) in different.items()
                },
                reason=f"{source} record {item.match.key} is already linked to another key "
                f"({described}); syncer never overwrites a key it did not write",
                kind="key",
            )
            scope.counts.conflicts += 1
