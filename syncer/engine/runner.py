"""One run of one flow: read the source page by page, and send each batch through the stages.

    read (scan)      the source's pages, minus what the boundary says was read already
    map (prepare)    native records to canonical values; what cannot be mapped is parked
    match            unchanged records (echoes among them) stop here; first-seen records get
                     their canonical id; counterparts are found in the target
    decide           what to write, by the flow's mode and, for a pair, its conflict policy;
                     records that would share a target record are parked (identity)
    write            bounded concurrency, a batch refused as a whole is split; keys written back
    commit           id map, snapshots, dead letters, counts and the cursor's progress together

Each stage is a module with a typed batch in and out (:mod:`syncer.engine.batch`). The run's
lease, heartbeat and record are :mod:`syncer.engine.lifecycle`'s; what the run does is told to
its observers (:mod:`syncer.observe`), such as the Repzo connector's integration logs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from syncer.config.models import FlowConfig
from syncer.connector import Flushable, ObservesRuns, PartialWrite, Record
from syncer.engine import commit, decide, identity, leases, match, prepare, write
from syncer.engine.batch import Decision, Write, Written
from syncer.engine.binding import FlowBinding, Side
from syncer.engine.context import EngineContext
from syncer.engine.cursor import Scan
from syncer.engine.deadletters import Failure
from syncer.engine.lifecycle import RunLifecycle
from syncer.engine.mirror import mirror
from syncer.engine.retries import retry_dead_letters
from syncer.engine.scan import Reader
from syncer.engine.scope import RunScope
from syncer.engine.settle import settle
from syncer.engine.tally import Counts, RunResult, Tally
from syncer.errors import OutOfMemory, SuspectListing, SyncerError
from syncer.logs import get_logger, log_context
from syncer.observe import FailedRecord, Observers, RunDescription, RunObserver
from syncer.remote.budget import run_scope
from syncer.remote.errors import RemoteError, RunStopping
from syncer.state.base import utcnow
from syncer.state.failures import store_failure

log = get_logger(__name__)

Job = Literal["sync", "read_back", "retry"]
"""What a run does: a scan of the source (then due dead letters, mirror and read-back), only
the read-back of what the other half of the pair wrote, or only all pending dead letters."""


class FlowRun:
    """Runs one flow once. Create a fresh one per run."""

    def __init__(
        self,
        context: EngineContext,
        flow: FlowConfig,
        *,
        stop: asyncio.Event | None = None,
        full: bool = False,
        allow_mass_delete: bool = False,
        job: Job = "sync",
        observers: Sequence[RunObserver] = (),
    ) -> None:
        self.flow = flow
        self.job = job
        self.stop = stop or asyncio.Event()
        self.full = full
        """Read the whole source once, whatever the cursor says (``syncer sync --full``)."""
        self.allow_mass_delete = allow_mass_delete
        """Let mirror mode disable more than ``mirror.max_delete`` in this run."""
        self.run_id = str(uuid.uuid4())
        self.retried = 0
        self.tally = Tally()
        self.binding = FlowBinding.build(context, flow, rounded=self.tally.rounded)
        self.lifecycle = RunLifecycle(
            context.store, flow, self.run_id, kind="retry" if job == "retry" else "sync"
        )
        self.scope = RunScope(self.binding, self.lifecycle, self.tally)
        self.reader = Reader(self.scope, full=full)
        self.observers = Observers([*observers, *connector_observers(self.binding, self.run_id)])

    @property
    def counts(self) -> Counts:
        return self.tally.counts

    @property
    def lease_ttl(self) -> timedelta:
        return self.lifecycle.lease_ttl

    @lease_ttl.setter
    def lease_ttl(self, ttl: timedelta) -> None:
        self.lifecycle.lease_ttl = ttl

    # -- the run -----------------------------------------------------------------------------

    async def execute(self) -> RunResult:
        started = utcnow()
        # Fresh retry budgets and progress clock for this run alone; the tasks it starts (writes
        # in flight, the heartbeat) inherit them with the context.
        with log_context(flow=self.flow.name, run_id=self.run_id), run_scope(stop=self.stop):
            try:
                async with self.lifecycle.held():
                    return await self._execute(started)
            except leases.LeaseBusy as busy:
                log.warning("flow is busy in another process", holder=busy.holder)
                return RunResult(
                    self.run_id, self.flow.name, "busy", self.counts, busy.message, None, started
                )

    async def _execute(self, started: datetime) -> RunResult:
        interrupted = self.lifecycle.open(started, self.observers.sync_id)
        self.tally.letters = self.lifecycle.letters
        status, error, exit_code = "succeeded", None, None
        try:
            await self.observers.run_started(interrupted)
            self.lifecycle.close_interrupted(interrupted)
            await self._work()
            await self._flush_target()
            if self.stop.is_set():
                status = "stopped"
            elif self.counts.failed:
                status = "partial"
        except RunStopping as stopping:
            # Asked to stop while retrying: the last committed checkpoint stands, as after any
            # stop; the next run goes on from there.
            status = "stopped"
            log.info("stopping as asked", reason=stopping.message)
        except RemoteError as failure:
            status, error, exit_code = "failed", failure.message, int(failure.exit_code)
            log.error("run failed", **failure.fields())
        except leases.LeaseLost as lost:
            status, error, exit_code = "failed", lost.message, int(lost.exit_code)
            log.error("run lost its lease", lease=lost.name)
        except SuspectListing as suspect:
            status, error, exit_code = "failed", suspect.message, int(suspect.exit_code)
            log.error(
                "mirror refused to disable records",
                source=suspect.source,
                listed=suspect.listed,
                present=suspect.present,
                deleting=suspect.deleting,
            )
        except Exception as unexpected:
            # Whatever stopped it, the run is closed: a run left `running` would read as one
            # still going, in `syncer status` and to the next run. Then the error goes on, to
            # exit with its own code (70 and a traceback for a bug).
            store_down = self._died(unexpected)
            if store_down is None:
                raise
            raise store_down from unexpected
        finished = utcnow()
        counts = self.counts.as_body()
        self.lifecycle.close(status, error, finished, counts)
        await self.observers.run_finished(status, counts, error)
        log.info("run finished", status=status, **counts)
        return RunResult(
            self.run_id,
            self.flow.name,
            status,
            self.counts,
            error,
            exit_code,
            started,
            finished,
            read_back=self.job == "read_back",
            rounding=self.tally.rounding,
            retried=self.retried,
        )

    async def _work(self) -> None:
        if self.job == "retry":
            self.retried += await retry_dead_letters(self.scope, self._process, everything=True)
            return
        if self.job == "sync":
            complete = await self._scan()
            if not self.stop.is_set():
                self.retried += await retry_dead_letters(
                    self.scope, self._process, everything=False
                )
                if complete and self.flow.mode == "mirror":
                    await mirror(
                        self.scope, self.reader.listing, allow_mass_delete=self.allow_mass_delete
                    )
        if not self.stop.is_set():
            await settle(self.scope, self._process, self.stop)

    def _died(self, error: Exception) -> SyncerError | None:
        """Close a run an unexpected error ended as ``failed``, with the error. The state store
        failing under the run, or the host running out of memory, is not a bug: returned as
        the error to raise instead (exit 3)."""
        store_down: SyncerError | None = None
        if isinstance(error, SyncerError):
            message = error.message
        elif isinstance(error, MemoryError):
            store_down = OutOfMemory(f"running flow {self.flow.name}")
            message = store_down.message
        elif (failure := store_failure(error, self.binding.store.display_url)) is not None:
            store_down = failure
            message = failure.message
        else:
            first = str(error).strip().splitlines() or [""]
            message = f"{type(error).__name__}: {first[0][:500]} (a bug in syncer; see the log)"
        log.error("run failed", error=message, error_type=type(error).__name__)
        try:
            self.lifecycle.close("failed", message, utcnow(), self.counts.as_body())
        except Exception as closing:  # noqa: BLE001 - the first error is the one to report
            log.error(
                "the run could not be closed as failed; the next run of the flow on this host "
                "closes it as interrupted",
                error=str(closing).splitlines()[0] if str(closing) else type(closing).__name__,
            )
        return store_down

    async def _flush_target(self) -> None:
        """A target that acknowledges writes before it shows them makes them visible now."""
        target = self.binding.target
        if isinstance(target.connector, Flushable):
            await target.connector.flush(target.stream)

    # -- reading -----------------------------------------------------------------------------

    async def _scan(self) -> bool:
        """Read the source; True when everything due was read to its end.

        A scan that resumes one a crash or a stop interrupted finishes that window first, then
        goes on in the same run with a fresh window up to the source's clock now: a run that
        succeeds has brought everything changed before it started."""
        while True:
            scan = await self.reader.plan()
            if scan is None:
                log.info("nothing new: the source's clock has not passed the watermark")
                return True
            finished, moved = await self._read(scan)
            if not finished:
                return False
            if not (scan.resumed and moved):
                return True
            log.info("the interrupted scan is complete; reading what changed since it began")

    async def _read(self, scan: Scan) -> tuple[bool, bool]:
        """Read one scan's pages; (read to the end, cursor moved on)."""
        async with contextlib.aclosing(self.reader.batches(scan)) as batches:
            async for batch in batches:
                await self.process(batch.records, batch.failures, batch.on_commit)
                if batch.ends_page and self.stop.is_set():
                    log.info("stopping after this page, as asked")
                    return False, False
        return True, self.reader.complete(scan)

    # -- a batch through the stages ----------------------------------------------------------

    async def _process(self, records: Sequence[Record], failures: Sequence[Failure]) -> None:
        await self.process(records, failures)

    async def process(
        self,
        records: Sequence[Record],
        extra_failures: Sequence[Failure] = (),
        on_commit: Callable[[Session], None] | None = None,
    ) -> None:
        """Sync a batch of native source records (pages of a scan, dead letters being retried,
        records read back)."""
        scope = self.scope
        taken, failures = prepare.filtered(scope, records)
        mapped, unmappable = prepare.map_records(scope, prepare.once_each(scope, taken))
        changed, unchanged = match.split_unchanged(scope, mapped)
        match.reserve(scope, changed)
        matched, ambiguous = await match.counterparts(scope, changed)
        decided = [*ambiguous, *await decide.decide(scope, matched)]
        decisions = identity.one_target_each(scope, decided)
        if any(isinstance(decision, Write) for decision in decisions):
            self.lifecycle.check()  # a process that lost the flow writes nothing more
        try:
            outcomes = await write.write(self.binding, decisions)
        except PartialWrite as partial:
            await self._keep_what_was_written(decisions, partial)
            raise partial.cause from None
        written = [outcome for outcome in outcomes if isinstance(outcome, Written)]
        fatal = await write.write_back(scope, written)
        committed = commit.commit(
            scope,
            outcomes,
            unchanged=unchanged.records,
            failures=[*failures, *unmappable, *extra_failures],
            read_back=unchanged.read_back,
            on_commit=on_commit,
        )
        for failure in committed.parked:
            await self.observers.record_failed(
                FailedRecord(failure.record_key, failure.reason, failure.field)
            )
        await self.observers.page_committed(self.counts.as_body(), committed.records)
        if fatal is not None:
            raise fatal  # after the commit: what the target accepted is recorded first

    async def _keep_what_was_written(
        self, decisions: list[Decision], partial: PartialWrite
    ) -> None:
        """A write that ended part way: record the records the target answered for (their
        links, snapshots, write-backs, dead letters), so neither half of a pair takes them for
        new ones. The others stay as they were, and so does the scan's position: the next run
        reads this batch again."""
        outcomes = write.answered(decisions, partial.results)
        answered = [o for o in outcomes if isinstance(o, Written) and o.result is not None]
        log.warning(
            "the batch's writes stopped part way; recording the ones the target answered",
            answered=len(answered),
            unwritten=sum(1 for o in outcomes if isinstance(o, Written)) - len(answered),
            error=str(partial.cause),
        )
        if not answered:
            return
        await write.write_back(self.scope, answered)  # a failure here is the run's already
        committed = commit.commit(self.scope, answered)
        await self.observers.page_committed(self.counts.as_body(), committed.records)


def connector_observers(binding: FlowBinding, run_id: str) -> list[RunObserver]:
    """The observer a connector of the flow keeps for the run (Repzo's integration logs): the
    target's if it keeps one, else the source's."""
    roles: tuple[tuple[Side, Literal["source", "target"]], ...] = (
        (binding.target, "target"),
        (binding.source, "source"),
    )
    for side, role in roles:
        connector = side.connector
        if not isinstance(connector, ObservesRuns):
            continue
        run = RunDescription(run_id, binding.flow, binding.entity, side.name, role, binding.store)
        observer = connector.run_observer(run)
        if observer is not None:
            return [observer]
    return []
