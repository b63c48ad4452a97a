"""One run of one flow: read the source page by page, map, decide, write, commit.

Per page, in order:

1. map each native record to canonical (the source's mapping, references through the id map);
   a record that cannot be mapped becomes a dead letter and the page goes on;
2. compare with what was last synced on the source side: unchanged records (including our own
   writes read back: echoes) cost nothing more;
3. reserve canonical ids for records seen for the first time (a commit of its own, so a crash
   after the target accepted a create cannot make the retry create it again: the retry finds it
   by the key the target stores);
4. find each record's counterpart in the target through the id map, or by its identity key
   (``integration_meta.id``, a document number, the canonical id) before creating it;
5. for two-way pairs, read the target's current version and let the pair's policy decide what
   to write;
6. write the batch with bounded concurrency (a batch refused as a whole is split);
7. commit the id map, snapshots, dead letters, counters and the cursor's progress together.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from syncer.canonical import ENTITIES
from syncer.concurrency import bounded_map
from syncer.config.models import FlowConfig
from syncer.connector import (
    LOCATION_FIELD,
    Page,
    PartialWrite,
    ReadRequest,
    Record,
    WriteKind,
    WriteOp,
    WriteResult,
    parse_instant,
)
from syncer.engine import abandoned, conflicts, cursor, deadletters, idmap, leases
from syncer.engine.context import EngineContext
from syncer.engine.deadletters import Failure
from syncer.engine.filters import source_filters, takes
from syncer.engine.idmap import Resolver
from syncer.engine.repzo_logs import RunLogs
from syncer.engine.snapshots import changed_fields, merged, snapshot
from syncer.errors import OutOfMemory, RecordError, SuspectListing, SyncerError
from syncer.logs import get_logger, log_context
from syncer.mapping.errors import MappingError, RecordRefused, UnresolvedReference
from syncer.mapping.hashing import content_hash
from syncer.mapping.mapping import CanonicalRecord, CompiledMapping, MappingContext, Rounded
from syncer.mapping.paths import dig
from syncer.remote.budget import current_run, note_progress, run_scope
from syncer.remote.errors import (
    FatalRemoteError,
    RemoteError,
    RunStopping,
    SkippableRemoteError,
    UncertainWrite,
)
from syncer.state.base import utcnow
from syncer.state.failures import store_failure
from syncer.state.models import IdMapEntry, Run

log = get_logger(__name__)

SETTLE_CHUNK = 200
"""Keys per lookup when a pair's flow reads back what the other half wrote."""

ROUNDING_SHOWN = 3
"""Rounded values a run's summary names (it counts them all)."""


@dataclass(slots=True)
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    deleted: int = 0
    conflicts: int = 0
    echoes: int = 0
    """Unchanged records that were the engine's own writes read back (part of ``unchanged``)."""
    rounded: int = 0
    """Values a write rounded to what the target keeps (0.0004 to Repzo's thousandths)."""

    def as_body(self) -> dict[str, int]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "deleted": self.deleted,
            "conflicts": self.conflicts,
            "rounded": self.rounded,
        }


@dataclass(slots=True)
class RunResult:
    run_id: str
    flow: str
    status: str
    """``succeeded``, ``partial`` (dead letters), ``failed``, ``stopped``, or ``busy`` (another
    process holds the flow's lease; nothing was done)."""
    counts: Counts
    error: str | None = None
    error_exit: int | None = None
    """The exit code the error maps to (3: a system could not be reached)."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    read_back: bool = False
    """The pass that only read back what the other half of the pair wrote."""
    rounding: list[str] = field(default_factory=list)
    """The first few values a write rounded (``lines[0].discount 0.0005 -> 0.001``)."""

    @property
    def label(self) -> str:
        """The flow's name as a summary shows this run."""
        return f"{self.flow} (read back)" if self.read_back else self.flow


@dataclass(slots=True)
class _Item:
    """One source record on its way through a page."""

    native: Record
    native_id: str
    key: str
    canonical: CanonicalRecord
    values: dict[str, Any]
    snap: dict[str, Any]
    row: IdMapEntry | None
    target_row: IdMapEntry | None = None
    found: str | None = None
    """Target native id found by the identity key (not yet in the id map)."""
    lookup: tuple[str, str] | None = None
    op: WriteOp | None = None
    written_fields: frozenset[str] = frozenset()
    undecided: frozenset[str] = frozenset()
    result: WriteResult | None = None
    failure: Failure | None = None
    outcome: str = ""


@dataclass(slots=True)
class _PageOutcome:
    at_bound: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Listing:
    """What this run's reads of the source saw, for mirror mode and damaged files."""

    listed: int = 0
    """Records and unreadable rows the source handed over."""
    rejected: int = 0
    """Rows the source could not read (a broken CSV row)."""
    rejected_keys: set[str] = field(default_factory=set)
    unidentified: int = 0
    """Records without a usable key: nobody can tell which record they are."""
    claimed: int | None = None
    """How many records the source said its complete listing holds, on the first page."""

    @property
    def clean(self) -> bool:
        return not self.rejected and not self.unidentified


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
        settle_only: bool = False,
    ) -> None:
        self.context = context
        self.flow = flow
        self.settle_only = settle_only
        """Only read back what the other half of the pair wrote (see :meth:`_settle`): the pass
        ``syncer sync`` makes once both halves ran."""
        self._read_back: list[int] = []
        """Id-map rows of records the other half wrote, read back unchanged in this batch."""
        self._abandoned: list[Run] = []
        """Earlier runs of the flow whose process died, closed as interrupted by this one."""
        self.stop = stop or asyncio.Event()
        self.full = full
        """Read the whole source once, whatever the cursor says (``syncer sync --full``)."""
        self.allow_mass_delete = allow_mass_delete
        """Let mirror mode disable more than ``mirror.max_delete`` in this run."""
        self.listing = _Listing()
        self.run_id = str(uuid.uuid4())
        self.counts = Counts()
        self.binding = context.binding(flow.name)
        self.source_mapping: CompiledMapping = self.binding.source
        self.target_mapping: CompiledMapping = self.binding.target
        self.fields = self.binding.fields
        self.entity = self.source_mapping.entity
        self.filters = source_filters(flow, self.source_mapping)
        self.source = context.connector(flow.source.connector)
        self.target = context.connector(flow.target.connector)
        self.source_info = context.stream_info(flow.source.connector, flow.source.stream)
        self.target_info = context.stream_info(flow.target.connector, flow.target.stream)
        store = context.store
        self.source_refs = Resolver(
            store.session, flow.source.connector, context.entity_streams(flow.source.connector)
        )
        self.target_refs = Resolver(
            store.session, flow.target.connector, context.entity_streams(flow.target.connector)
        )
        self.source_context = MappingContext(
            context.variables(flow.source.connector), self.source_refs
        )
        self.rounding: list[str] = []
        self.target_context = MappingContext(
            context.variables(flow.target.connector), self.target_refs, self._rounded
        )
        self.pair = context.pair_of(flow)
        self.write_back = context.write_back(flow)
        self.model = ENTITIES[self.entity]
        self.logs = RunLogs.for_flow(context, flow, self.run_id)
        self.failed_records: list[dict[str, Any]] = []
        self.lease_ttl = leases.DEFAULT_TTL
        self._lease: leases.Held | None = None

    # -- the run -----------------------------------------------------------------------------

    async def execute(self) -> RunResult:
        started = utcnow()
        # Fresh retry budgets and progress clock for this run alone; the tasks it starts (writes
        # in flight, the heartbeat) inherit them with the context.
        with log_context(flow=self.flow.name, run_id=self.run_id), run_scope(stop=self.stop):
            name = leases.lease_name(self.flow)
            try:
                self._lease = leases.acquire(
                    self.context.store, name, leases.new_holder(), self.lease_ttl
                )
            except leases.LeaseBusy as busy:
                log.warning("flow is busy in another process", holder=busy.holder)
                return RunResult(
                    self.run_id, self.flow.name, "busy", self.counts, busy.message, None, started
                )
            except DBAPIError as error:
                # The store fails before the run is even recorded (a read-only file, a full
                # disk): say which store, as a run failing under it would.
                failure = store_failure(error, self.context.store.display_url)
                if failure is None:
                    raise
                raise failure from error
            heartbeat = asyncio.create_task(self._heartbeat())
            try:
                return await self._execute(started)
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
                leases.release(self.context.store, self._lease)

    async def _execute(self, started: datetime) -> RunResult:
        self._open_run(started)
        status, error, exit_code = "succeeded", None, None
        try:
            await self.logs.started()
            await self.logs.interrupted(self._abandoned)
            complete = await self._scan() if not self.settle_only else False
            if not self.stop.is_set() and not self.settle_only:
                await self.retry_dead_letters()
                if complete and self.flow.mode == "mirror":
                    await self._mirror()
            if not self.stop.is_set():
                await self._settle()
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
        self._close_run(status, error, finished)
        await self.logs.finished(status, self.counts.as_body(), error, self.failed_records)
        log.info("run finished", status=status, **self.counts.as_body())
        return RunResult(
            self.run_id,
            self.flow.name,
            status,
            self.counts,
            error,
            exit_code,
            started,
            finished,
            read_back=self.settle_only,
            rounding=self.rounding,
        )

    def _rounded(self, rounded: Rounded) -> None:
        self.counts.rounded += 1
        if len(self.rounding) < ROUNDING_SHOWN:
            self.rounding.append(f"{rounded.field} {rounded.given} -> {rounded.written}")
        log.warning(
            "a value was rounded to what the target keeps",
            field=rounded.field,
            given=str(rounded.given),
            written=str(rounded.written),
        )

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
        elif (failure := store_failure(error, self.context.store.display_url)) is not None:
            store_down = failure
            message = failure.message
        else:
            first = str(error).strip().splitlines() or [""]
            message = f"{type(error).__name__}: {first[0][:500]} (a bug in syncer; see the log)"
        log.error("run failed", error=message, error_type=type(error).__name__)
        try:
            self._close_run("failed", message, utcnow())
        except Exception as closing:  # noqa: BLE001 - the first error is the one to report
            log.error(
                "the run could not be closed as failed; the next run of the flow on this host "
                "closes it as interrupted",
                error=str(closing).splitlines()[0] if str(closing) else type(closing).__name__,
            )
        return store_down

    async def _flush_target(self) -> None:
        """A target that acknowledges writes before it shows them makes them visible now."""
        flush = getattr(self.target, "flush", None)
        if flush is not None:
            await flush(self.flow.target.stream)

    async def _heartbeat(self) -> None:
        """Keep the lease while the run waits on remote systems (commits renew it too), but
        only while it gets somewhere: a run without progress for ``stall_timeout`` (no answer
        that settled a request, no commit) lets its lease run out, so another process can take
        the flow over. Should it get going again first, it renews again."""
        assert self._lease is not None
        scope = current_run()
        stall_timeout = self.flow.stall_timeout.total_seconds()
        stalled = False
        while True:
            await asyncio.sleep(self.lease_ttl.total_seconds() / 3)
            idle = scope.idle_for() if scope is not None else 0.0
            if idle >= stall_timeout:
                if not stalled:
                    log.error(
                        "the run makes no progress; its lease is no longer renewed, so another "
                        "process can take the flow over",
                        seconds_without_progress=round(idle, 1),
                        stall_timeout_seconds=stall_timeout,
                    )
                    stalled = True
                continue
            if stalled:
                log.info("the run makes progress again; renewing its lease")
                stalled = False
            try:
                with self.context.store.session() as session:
                    leases.renew(session, self._lease)
            except leases.LeaseLost:
                log.error("the flow's lease was taken over; the next commit will stop this run")
                return

    @contextlib.contextmanager
    def _fenced(self) -> Iterator[Session]:
        """A state-store transaction that commits only while this run still holds its lease."""
        with self.context.store.session() as session:
            if self._lease is not None:
                leases.renew(session, self._lease)
            yield session
        note_progress()  # committed: the run got somewhere

    def _open_run(self, started: datetime) -> None:
        with self.context.store.session() as session:
            self._abandoned = abandoned.close_abandoned(session, self.flow.name)
            for earlier in self._abandoned:
                log.warning("an earlier run was interrupted", earlier_run=earlier.id)
            session.add(
                Run(
                    id=self.run_id,
                    flow=self.flow.name,
                    kind="sync",
                    status="running",
                    started_at=started,
                    sync_id=self.logs.sync_id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                )
            )

    def _close_run(self, status: str, error: str | None, finished: datetime) -> None:
        with self.context.store.session() as session:
            run = session.get(Run, self.run_id)
            if run is None:
                return
            run.status = status
            run.finished_at = finished
            run.error = error
            for name, value in self.counts.as_body().items():
                setattr(run, name, value)

    async def _scan(self) -> bool:
        """Read the source; True when everything due was read to its end.

        A scan that resumes one a crash or a stop interrupted finishes that window first, then
        goes on in the same run with a fresh window up to the source's clock now: a run that
        succeeds has brought everything changed before it started."""
        while True:
            scan = await self._plan()
            if scan is None:
                log.info("nothing new: the source's clock has not passed the watermark")
                return True
            finished, moved = await self._read(scan)
            if not finished:
                return False
            if not (scan.resumed and moved):
                return True
            log.info("the interrupted scan is complete; reading what changed since it began")

    async def _plan(self) -> cursor.Scan | None:
        flow = self.flow
        listing = flow.mode == "mirror"
        server_now = None
        if self.source_info.cursor in ("updated_at", "id") and not listing:
            server_now = await self.source.server_time()
        with self._fenced() as session:
            scan = cursor.plan(
                session,
                flow=flow.name,
                connector=flow.source.connector,
                stream=flow.source.stream,
                info=self.source_info,
                settings=flow.cursor,
                server_now=server_now,
                listing=listing,
                fresh=self.full,
            )
            # Mirror mode has its own check of an emptied listing, which a person can
            # override (--allow-mass-delete).
            if scan is not None and self.source_info.from_files and not listing:
                known = idmap.live_count(
                    session, self.entity, flow.source.connector, flow.source.stream
                )
                scan.request = dataclasses.replace(scan.request, known=known)
        if scan is not None:
            log.info(
                "scan",
                kind=scan.kind,
                since=scan.request.updated_from.isoformat() if scan.request.updated_from else None,
                until=scan.bound.isoformat() if scan.bound else None,
                resumed=scan.resumed,
                full=self.full or listing,
            )
        return scan

    async def _read(self, scan: cursor.Scan) -> tuple[bool, bool]:
        """Read one scan's pages; (read to the end, cursor moved on)."""
        flow = self.flow
        at_bound: dict[str, str] = {}
        position: str | None = None
        rejected_before = self.listing.rejected
        async with self._reading(scan.request) as pages:
            async for page in pages:
                position = page.position if page.position is not None else position
                outcome = await self._page(page, scan)
                at_bound.update(outcome.at_bound)
                if self.stop.is_set():
                    log.info("stopping after this page, as asked")
                    return False, False
        unreadable = self.listing.rejected - rejected_before
        with self._fenced() as session:
            if self.source_info.from_files:
                deadletters.resolve_reread(session, flow.name, self.listing.rejected_keys)
            if unreadable:
                # The cursor stays where it was (or where the last page before the damage left
                # it): once the file is fixed, the next scan reads those rows.
                log.warning(
                    "some records could not be read; the cursor stays so that they are read "
                    "again once the source is fixed",
                    unreadable=unreadable,
                )
                return True, False
            cursor.complete(
                session,
                flow.name,
                flow.source.connector,
                flow.source.stream,
                scan,
                position,
                at_bound,
            )
        return True, True

    @contextlib.asynccontextmanager
    async def _reading(self, request: ReadRequest) -> AsyncIterator[AsyncIterator[Page]]:
        """The source's pages for ``request``, closed however the reading ends (a stop, an
        error), so a connector releases its files and connections at once."""
        pages = self.source.read(self.flow.source.stream, request)
        try:
            yield pages
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _page(self, page: Page, scan: cursor.Scan) -> _PageOutcome:
        outcome = _PageOutcome()
        delimited = [r for r in page.rejected if r.delimited]
        self.counts.read += len(page.records) + len(delimited)
        if scan.listing and self.listing.claimed is None:
            self.listing.claimed = page.total
        self.listing.listed += len(page.records) + len(page.rejected)
        self.listing.rejected += len(page.rejected)
        self.listing.rejected_keys.update(r.key for r in page.rejected)
        kept: list[Record] = []
        seen: list[str] = []
        updated_field = self.source_info.updated_field
        for record in page.records:
            if scan.listing:
                try:
                    seen.append(self.source_mapping.native_id(record))
                except MappingError:
                    self.listing.unidentified += 1
            stamp = parse_instant(record.get(updated_field)) if updated_field else None
            if stamp is not None and scan.bound is not None and stamp == scan.bound:
                native_id = str(record.get(self.source_info.key))
                outcome.at_bound[native_id] = cursor.record_hash(record)
            if (
                stamp is not None
                and scan.watermark is not None
                and stamp == scan.watermark
                and scan.boundary.get(str(record.get(self.source_info.key)))
                == cursor.record_hash(record)
            ):
                self.counts.unchanged += 1  # read at the boundary last time, exactly like this
                continue
            kept.append(record)
        rejected = [
            Failure(r.key, r.reason, "read", {"raw": r.raw}, field=r.field) for r in page.rejected
        ]
        damaged = self.listing.rejected > 0

        def progress(session: Session) -> None:
            if seen:
                idmap.mark_seen(
                    session,
                    self.entity,
                    self.flow.source.connector,
                    self.flow.source.stream,
                    seen,
                    self.run_id,
                )
            if not damaged:  # never checkpoint past a record that could not be read
                cursor.save_progress(
                    session,
                    self.flow.name,
                    self.flow.source.connector,
                    self.flow.source.stream,
                    scan,
                    page.position,
                )

        # A page bigger than the flow's batch_size goes through in several batches; the scan's
        # position is saved with the last one, when the whole page is in.
        once = self._last_of_each(kept)
        size = self.flow.batch_size
        batches = [once[start : start + size] for start in range(0, len(once), size)] or [[]]
        for number, batch in enumerate(batches, start=1):
            last = number == len(batches)
            await self.process(
                batch,
                extra_failures=rejected if last else (),
                on_commit=progress if last else None,
            )
        return outcome

    # -- records -----------------------------------------------------------------------------

    async def process(
        self,
        records: Sequence[Record],
        *,
        extra_failures: Sequence[Failure] = (),
        on_commit: Callable[[Session], None] | None = None,
    ) -> list[_Item]:
        """Sync a batch of native source records (a page, or dead letters being retried)."""
        records, failures = self._filtered(records)
        items, mapped_failures = self._map(self._last_of_each(records))
        failures.extend(mapped_failures)
        failures.extend(extra_failures)
        changed = self._changed(items)
        self._reserve(changed)
        await self._counterparts(changed)
        await self._decide(changed)
        self._one_target_each(changed)
        try:
            await self._write([item for item in changed if item.op is not None])
        except PartialWrite as partial:
            await self._keep_what_was_written(changed, partial)
            raise partial.cause from None
        fatal = await self._write_back(changed)
        self._commit(items, changed, failures, on_commit)
        await self.logs.documents(changed, self)
        await self.logs.deliver()
        if fatal is not None:
            raise fatal  # after the commit: what the target accepted is recorded first
        return items

    def _filtered(self, records: Sequence[Record]) -> tuple[Sequence[Record], list[Failure]]:
        """The records the flow's ``filter`` and its source mapping's let through. The others
        are skipped and left alone; a record a filter fails on (a field of the wrong type) is a
        dead letter, since syncer cannot tell whether it belongs to this flow."""
        if not self.filters:
            return records, []
        kept: list[Record] = []
        failures: list[Failure] = []
        for record in records:
            wanted, problem = takes(self.filters, record)
            if problem is not None:
                try:
                    key = self.source_mapping.native_id(record)
                except MappingError:
                    key = str(record.get(LOCATION_FIELD) or "?")
                failures.append(Failure(key, problem, "mapping", record, "filter"))
            elif wanted:
                kept.append(record)
            else:
                self.counts.skipped += 1
        return kept, failures

    async def _keep_what_was_written(self, changed: list[_Item], partial: PartialWrite) -> None:
        """A write that ended part way: record the records the target answered for (their
        links, snapshots, write-backs, dead letters), so neither half of a pair takes them for
        new ones. The others stay as they were, and so does the scan's position: the next run
        reads this page again."""
        by_ref = {result.ref: result for result in partial.results}
        answered: list[_Item] = []
        for item in changed:
            if item.op is None:
                continue
            item.result = by_ref.get(item.key)
            if item.result is not None:
                answered.append(item)
        log.warning(
            "the batch's writes stopped part way; recording the ones the target answered",
            answered=len(answered),
            unwritten=sum(1 for item in changed if item.op is not None) - len(answered),
            error=str(partial.cause),
        )
        if not answered:
            return
        await self._write_back(answered)  # a failure here is the run's failure already
        self._commit(answered, answered, [], None)

    def _last_of_each(self, records: Sequence[Record]) -> Sequence[Record]:
        """One record per key: the last one read. A source may hand the same record over twice
        in one page (a CSV file with a key on two rows, an ERP page that repeats a record),
        and one record cannot be synced twice at once. The last is the newest a file holds,
        and the one a later page would have synced anyway; the earlier ones are counted as
        skipped, with a warning naming the key and where each one was."""
        keys: list[str | None] = []
        last: dict[str, int] = {}
        for index, record in enumerate(records):
            try:
                key: str | None = self.source_mapping.native_id(record)
            except MappingError:
                key = None  # fails on its own in _map
            keys.append(key)
            if key is not None:
                last[key] = index
        if len(last) == sum(key is not None for key in keys):
            return records
        kept: list[Record] = []
        earlier: dict[str, list[Record]] = {}
        for index, (record, key) in enumerate(zip(records, keys, strict=True)):
            if key is None or last[key] == index:
                kept.append(record)
            else:
                earlier.setdefault(key, []).append(record)
        for key, skipped in earlier.items():
            self.counts.skipped += len(skipped)
            synced = records[last[key]].get(LOCATION_FIELD)
            places = [str(r.get(LOCATION_FIELD)) for r in skipped if r.get(LOCATION_FIELD)]
            log.warning(
                "the source has this record more than once; the last one read is synced and "
                "the earlier ones are skipped",
                record=key,
                times=len(skipped) + 1,
                **({"synced": str(synced), "skipped": places} if synced and places else {}),
            )
        return kept

    def _map(self, records: Sequence[Record]) -> tuple[list[_Item], list[Failure]]:
        mapping = self.source_mapping
        self.source_refs.prefetch_native(
            pair for record in records for pair in mapping.references(record)
        )
        items: list[_Item] = []
        failures: list[Failure] = []
        for record in records:
            location = record.get(LOCATION_FIELD)
            try:
                native_id = mapping.native_id(record)
            except MappingError as error:
                # A row that cannot even be told apart from others is a reading problem: it
                # is retried by reading its file again, like a broken row.
                kind = "read" if location else "mapping"
                failures.append(
                    Failure(str(location or "?"), error.reason, kind, record, error.field)
                )
                continue
            key = native_id
            try:
                canonical = mapping.read(record, self.source_context)
            except UnresolvedReference as error:
                failures.append(self._waiting(key, error, record))
                continue
            except RecordError as error:
                failures.append(Failure(key, error.reason, "mapping", record, error.field))
                continue
            snap = snapshot(canonical.values, self.fields)
            items.append(_Item(record, native_id, key, canonical, canonical.values, snap, None))
        with self.context.store.session() as session:
            rows = idmap.by_native(
                session,
                self.entity,
                self.flow.source.connector,
                self.flow.source.stream,
                [i.native_id for i in items],
            )
        for item in items:
            item.row = rows.get(item.native_id)
        return items, failures

    def _changed(self, items: list[_Item]) -> list[_Item]:
        """The items to go on with: a record is unchanged only when its source side still
        matches what was last synced *and* it is linked in this flow's target. The second half
        matters when one source feeds several targets (Repzo clients to the ERP and to a CSV
        drop): the source snapshot says nothing about a target never written."""
        same = {
            item.row.canonical_id: item
            for item in items
            if item.row is not None
            and item.row.snapshot is not None
            and not changed_fields(item.snap, item.row.snapshot, self.fields)
        }
        linked: set[str] = set()
        if same:
            with self.context.store.session() as session:
                linked = set(
                    idmap.by_canonical(
                        session,
                        self.entity,
                        self.flow.target.connector,
                        self.flow.target.stream,
                        list(same),
                    )
                )
        changed = []
        for item in items:
            row = item.row
            if (
                row is None
                or row.canonical_id not in linked
                or same.get(row.canonical_id) is not item
            ):
                changed.append(item)
                continue
            item.outcome = "unchanged"
            self.counts.unchanged += 1
            if self.pair is not None and row.origin == self.pair.reverse:
                self.counts.echoes += 1
                self._read_back.append(row.id)
        return changed

    def _reserve(self, items: list[_Item]) -> None:
        """Give first-seen records their canonical id, committed before anything is written.

        A record syncer itself created in this system carries the canonical id it was created
        for (``external_ref: "{canonical_id}"``). When the run that created it died before it
        recorded the link (kill -9 after the 201, a retry budget spent mid-batch), the record
        is new to the id map but not to syncer: it is linked to that canonical id, so the
        other half of a pair updates the original instead of creating it a second time."""
        fresh = [item for item in items if item.row is None]
        if not fresh:
            return
        source = self.flow.source
        carried = {
            item.key: found
            for item in fresh
            if (found := self.source_mapping.carried_canonical_id(item.native)) is not None
        }
        with self._fenced() as session:
            adoptable = (
                idmap.claimed_elsewhere(
                    session, self.entity, source.connector, source.stream, carried.values()
                )
                if carried
                else set()
            )
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
                    canonical_id = idmap.new_canonical_id()
                item.row = idmap.link(
                    session,
                    None,
                    entity=self.entity,
                    canonical_id=canonical_id,
                    connector=source.connector,
                    stream=source.stream,
                    native_id=item.native_id,
                    snapshot=None,
                    natural_key=self._natural_key(item),
                )

    async def _counterparts(self, items: list[_Item]) -> None:
        if not items:
            return
        with self.context.store.session() as session:
            rows = idmap.by_canonical(
                session,
                self.entity,
                self.flow.target.connector,
                self.flow.target.stream,
                [item.row.canonical_id for item in items if item.row is not None],
            )
        by_lookup: dict[str, dict[str, list[_Item]]] = {}
        for item in items:
            assert item.row is not None
            item.target_row = rows.get(item.row.canonical_id)
            item.lookup = self.target_mapping.lookup(
                item.values, self.target_context, item.row.canonical_id
            )
            if item.target_row is None and item.lookup is not None:
                path, value = item.lookup
                by_lookup.setdefault(path, {}).setdefault(value, []).append(item)
        for path, wanted in by_lookup.items():
            found = await self.target.lookup(self.flow.target.stream, path, list(wanted))
            for record in found:
                value = dig(record, path)
                for item in wanted.get(str(value), []):
                    item.found = self.target_mapping.native_id(record)

    async def _decide(self, items: list[_Item]) -> None:
        current = await self._current_targets(items)
        mode = self.flow.mode
        for item in items:
            assert item.row is not None
            canonical_id = item.row.canonical_id
            existing = item.target_row.native_id if item.target_row is not None else item.found
            if existing is None:
                if item.canonical.deleted and mode != "create_only":
                    item.outcome = "skipped"  # nothing to disable where it never arrived
                    continue
                fields: set[str] | frozenset[str] = self.fields
                kind: WriteKind = "create"
            elif mode == "create_only":
                # Documents are sent once; one already there (a crash after the target took
                # it, or a retry) is linked, never sent again.
                item.outcome = "skipped" if item.target_row is not None else "linked"
                continue
            else:
                fields = self._fields_to_write(item, current.get(existing))
                kind = "update"
                if not fields and not item.canonical.deleted:
                    item.outcome = "linked" if item.target_row is None else "unchanged"
                    continue
            if (
                item.canonical.deleted
                and kind == "update"
                and "active" not in self.target_mapping.write_fields
            ):
                item.op = WriteOp("delete", {}, ref=item.key, native_id=existing)
                item.written_fields = frozenset()
                continue
            try:
                native = self.target_mapping.write(
                    item.values,
                    self.target_context,
                    frozenset(fields),
                    record_key=item.key,
                    canonical_id=canonical_id,
                )
            except UnresolvedReference as error:
                item.failure = self._waiting(item.key, error, item.native)
                continue
            except RecordRefused as error:
                item.failure = Failure(item.key, error.reason, "refused", item.native, error.field)
                continue
            except RecordError as error:
                item.failure = Failure(item.key, error.reason, "mapping", item.native, error.field)
                continue
            item.written_fields = frozenset(fields)
            item.op = WriteOp(kind, native, ref=item.key, native_id=existing, lookup=item.lookup)

    def _waiting(self, key: str, error: UnresolvedReference, record: Record) -> Failure:
        """A record that waits for one it refers to, with who would bring that one."""
        reason = f"{error.reason} ({self.context.who_links(self.flow, error.entity)})"
        return Failure(key, reason, "reference", record, error.field)

    def _one_target_each(self, items: list[_Item]) -> None:
        """Before anything is written: records of the source that would land on one target
        record become dead letters instead, every one of them, since syncer cannot tell which
        is right (two Repzo clients with one client_code exported to a CSV file keyed by
        code; two sources feeding one Repzo stream with the same codes). Writing them would
        let one overwrite the other, and linking both to one record cannot be stored.

        A target record is known by its key where the record to write carries it (a CSV key
        column), the one the identity lookup found, or the identity key it would be found by."""
        claims: dict[tuple[str, ...], list[_Item]] = {}
        new_links: dict[str, list[_Item]] = {}
        for item in items:
            if item.failure is not None or item.row is None:
                continue
            if item.target_row is not None:
                continue  # linked already: the record it goes to is its own
            if item.op is None and item.found is None:
                continue  # nothing to write or link (a deletion of what never arrived)
            native = self._target_key(item)
            if native is not None:
                claims.setdefault(("key", native), []).append(item)
                new_links.setdefault(native, []).append(item)
            if item.lookup is not None:
                claims.setdefault(("lookup", *item.lookup), []).append(item)
        target = f"{self.flow.target.connector}.{self.flow.target.stream}"
        for claim, sharing in claims.items():
            if len({item.key for item in sharing}) < 2:
                continue
            where = f"{claim[1]} {claim[2]!r}" if claim[0] == "lookup" else f"the key {claim[1]!r}"
            names = ", ".join(_described(item) for item in sharing)
            for item in sharing:
                self._refuse(
                    item,
                    f"{len(sharing)} records of {self.flow.source.connector}."
                    f"{self.flow.source.stream} ({names}) would all be the {target} record "
                    f"with {where}, and syncer cannot tell which one is right; none of them is "
                    "synced until each has its own key in the source (or the extra ones are "
                    "gone)",
                )
        if not new_links:
            return
        with self.context.store.session() as session:
            taken = idmap.by_native(
                session,
                self.entity,
                self.flow.target.connector,
                self.flow.target.stream,
                list(new_links),
            )
            owners = {row.canonical_id for row in taken.values()}
            others = idmap.other_sides(
                session,
                self.entity,
                owners,
                connector=self.flow.target.connector,
                stream=self.flow.target.stream,
            )
        for native, row in taken.items():
            for item in new_links[native]:
                assert item.row is not None
                if item.failure is not None or row.canonical_id == item.row.canonical_id:
                    continue
                self._refuse(
                    item,
                    f"the {target} record {native} is already the counterpart of "
                    f"{_side_names(others.get(row.canonical_id, []), row.canonical_id)}, and "
                    "syncer links one record to one record; this one is not synced. If both "
                    "are the same record, keep only one of them; if not, give this one a key "
                    "of its own",
                )

    def _target_key(self, item: _Item) -> str | None:
        """The target's key of the record a record not linked yet goes to, where it is known
        before writing: found by the identity lookup, or carried by the record to write."""
        if item.found is not None:
            return item.found
        if item.op is None:
            return None
        try:
            return self.target_mapping.native_id(item.op.record)
        except MappingError:
            return None  # the target gives it its key (a Repzo _id) when it is created

    def _refuse(self, item: _Item, reason: str) -> None:
        log.warning("record not synced: it shares a target record", record=item.key, reason=reason)
        item.failure = Failure(item.key, reason, "identity", item.native)
        item.op = None

    def _fields_to_write(self, item: _Item, target_now: dict[str, Any] | None) -> set[str]:
        """Every carried field for a one-way flow (the source is the authority); for a two-way
        pair, what the policy lets through."""
        if self.pair is None or target_now is None:
            target_row = item.target_row
            if target_row is not None and target_row.deleted and not item.canonical.deleted:
                return set(self.fields)  # deleted there (mirror mode): bring all of it back
            if target_row is not None and target_row.snapshot is not None:
                stale = changed_fields(item.snap, target_row.snapshot, self.fields)
                return stale  # only what the target does not already have
            return set(self.fields)
        assert item.row is not None
        with self.context.store.session() as session:
            held = conflicts.open_fields(session, self.entity, item.row.canonical_id)
        decision = conflicts.decide(
            source=self.flow.source.connector,
            target=self.flow.target.connector,
            source_now=item.snap,
            source_synced=item.row.snapshot,
            target_now=target_now,
            target_synced=item.target_row.snapshot if item.target_row else None,
            fields=self.fields,
            settings=self.pair.conflict,
            source_time=_time(item.canonical.updated_at),
            target_time=_time(target_now.get("__updated_at")),
            target_unknown=item.target_row is not None and item.target_row.snapshot is None,
        )
        for name, reason in decision.reasons.items():
            log.info(
                "conflict decided" if name not in decision.undecided else "conflict for review",
                record=item.key,
                field=name,
                reason=reason,
            )
        undecided = decision.undecided | (held & set(self.fields))
        if decision.reasons:
            self.counts.conflicts += 1
        if decision.undecided:
            values = {
                name: {
                    self.flow.source.connector: item.snap.get(name),
                    self.flow.target.connector: target_now.get(name),
                    "synced": (item.row.snapshot or {}).get(name),
                }
                for name in decision.undecided
            }
            with self._fenced() as session:
                conflicts.record(
                    session,
                    flow=self.flow.name,
                    entity=self.entity,
                    canonical_id=item.row.canonical_id,
                    source=self.flow.source.connector,
                    target=self.flow.target.connector,
                    values=values,
                    reason="; ".join(decision.reasons[name] for name in sorted(decision.undecided)),
                )
        item.undecided = frozenset(undecided)
        return decision.write - undecided

    async def _current_targets(self, items: list[_Item]) -> dict[str, dict[str, Any]]:
        """For a two-way pair: the target's current version of records about to be updated,
        as canonical snapshots (one lookup per page)."""
        if self.pair is None:
            return {}
        natives = [
            item.target_row.native_id if item.target_row is not None else item.found
            for item in items
        ]
        wanted = [native for native in natives if native]
        if not wanted:
            return {}
        key = self.target_mapping.key.text
        found = await self.target.lookup(self.flow.target.stream, key, wanted)
        current: dict[str, dict[str, Any]] = {}
        for record in found:
            try:
                canonical = self.target_mapping.read(record, self.target_context)
            except RecordError:
                continue  # the reverse flow will dead-letter it with the full story
            snap = snapshot(canonical.values, self.fields)
            snap["__updated_at"] = canonical.updated_at
            current[canonical.native_id] = snap
        return current

    async def _write(self, items: list[_Item]) -> None:
        ops = [item.op for item in items if item.op is not None]
        if not ops:
            return
        results = await self._write_split(ops)
        by_ref = {result.ref: result for result in results}
        for item in items:
            item.result = by_ref.get(item.key)

    async def _write_split(self, ops: list[WriteOp]) -> list[WriteResult]:
        """Write; a batch the target refuses as a whole is split until the bad records are
        alone, so the good ones still go through."""
        try:
            return await self.target.write(self.flow.target.stream, ops)
        except (SkippableRemoteError, UncertainWrite) as error:
            if len(ops) == 1:
                return [WriteResult(ops[0].ref, "failed", native_id=ops[0].native_id, error=error)]
            middle = len(ops) // 2
            return [*await self._write_split(ops[:middle]), *await self._write_split(ops[middle:])]

    async def _write_back(self, items: list[_Item]) -> FatalRemoteError | None:
        """Tell the source the target's key of what it just created there, where the flow's
        write-back rule says so (see :mod:`syncer.engine.writeback`) and where the source can
        store it without it counting as a change (Repzo's update-integration-meta).

        A key the record already carries is not sent again; a different key already there is
        never overwritten but opened as a conflict. A failure that stops the run (the source
        is unreachable, the retry budget is spent) ends the write-backs at once and is
        returned, so the page is committed before the run stops."""
        annotate = getattr(self.source, "annotate", None)
        if annotate is None or not self.write_back.enabled:
            return None
        pending: list[tuple[_Item, dict[str, Any]]] = []
        clashes: list[tuple[_Item, dict[str, tuple[Any, Any]]]] = []
        for item in items:
            found = self._identity_to_write_back(item)
            if found is None:
                continue
            missing, different = found
            if different:
                clashes.append((item, different))
            if missing:
                pending.append((item, missing))
        if clashes:
            self._key_conflicts(clashes)
        if not pending:
            return None
        stopped: list[FatalRemoteError] = []

        async def send(entry: tuple[_Item, dict[str, Any]]) -> None:
            if stopped:
                return
            item, identity = entry
            try:
                await annotate(self.flow.source.stream, item.native_id, identity)
            except FatalRemoteError as error:
                stopped.append(error)
            except RemoteError as error:
                log.warning(
                    "could not write the target's key back to the source",
                    record=item.key,
                    error=error.message,
                )

        settings = self.context.config.connectors.get(self.flow.source.connector)
        limit = getattr(settings, "write_concurrency", 1)
        await bounded_map(send, pending, limit)
        return stopped[0] if stopped else None

    def _identity_to_write_back(
        self, item: _Item
    ) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]] | None:
        """For a record the target just created: the source's identity keys it lacks, and
        the ones it holds with a different value (path -> (there, ours))."""
        result = item.result
        if result is None or result.outcome != "created" or not result.record:
            return None
        try:
            target_view = self.target_mapping.read(result.record, self.target_context)
        except RecordError:
            return None
        assert item.row is not None
        keys = self.source_mapping.write(
            target_view.values,
            self.source_context,
            frozenset(),
            canonical_id=item.row.canonical_id,
            target_key=result.native_id,
        )
        missing: dict[str, Any] = {}
        different: dict[str, tuple[Any, Any]] = {}
        for path, _ in self.source_mapping.identity:
            ours = dig(keys, path.text)
            if ours is None:
                continue
            there = dig(item.native, path.text)
            if there in (None, ""):
                missing[path.text] = ours
            elif there != ours:
                different[path.text] = (there, ours)
        return missing, different

    def _key_conflicts(self, clashes: list[tuple[_Item, dict[str, tuple[Any, Any]]]]) -> None:
        """A source record already linked to a different key (by another integration, or by
        hand): the link is left alone and a person decides."""
        source, target = self.flow.source.connector, self.flow.target.connector
        with self._fenced() as session:
            for item, different in clashes:
                assert item.row is not None
                described = "; ".join(
                    f"{path} is {there!r}, syncer's key from {target} would be {ours!r}"
                    for path, (there, ours) in different.items()
                )
                log.warning(
                    "the source record is already linked to another key; not overwritten",
                    record=item.key,
                    keys=described,
                )
                conflicts.record(
                    session,
                    flow=self.flow.name,
                    entity=self.entity,
                    canonical_id=item.row.canonical_id,
                    source=source,
                    target=target,
                    values={
                        path: {source: there, target: ours}
                        for path, (there, ours) in different.items()
                    },
                    reason=f"{source} record {item.native_id} is already linked to another "
                    f"key ({described}); syncer never overwrites a key it did not write",
                    kind="key",
                )
                self.counts.conflicts += 1

    # -- commit ------------------------------------------------------------------------------

    def _commit(
        self,
        items: list[_Item],
        changed: list[_Item],
        failures: list[Failure],
        on_commit: Callable[[Session], None] | None,
    ) -> None:
        flow = self.flow
        synced: list[str] = []
        with self._fenced() as session:
            # One SELECT for the page's rows, and no flush per record: the inserts and updates
            # go out together when the transaction commits.
            stored = idmap.Attached(session, [r for i in items for r in (i.row, i.target_row)])
            taken = self._taken(session, changed)
            with session.no_autoflush:
                for item in changed:
                    failure = item.failure or self._failure_of(item) or self._clash(item, taken)
                    if failure is not None:
                        failures.append(failure)
                        continue
                    self._record_success(session, stored, item)
                    synced.append(item.key)
                for item in items:
                    if item.outcome == "unchanged":
                        synced.append(item.key)
            del stored
            for failure in failures:
                deadletters.park(
                    session,
                    flow.name,
                    flow.source.connector,
                    flow.source.stream,
                    failure,
                    self.run_id,
                    reference_wait=flow.reference_wait,
                )
                self.counts.failed += 1
                if len(self.failed_records) < 100:
                    self.failed_records.append(
                        {
                            "record": failure.record_key,
                            "field": failure.field,
                            "error": failure.reason,
                        }
                    )
            deadletters.resolve(session, flow.name, synced)
            if self._read_back:
                idmap.read_back(session, self._read_back)
                self._read_back = []
            run = session.get(Run, self.run_id)
            if run is not None:
                for name, value in self.counts.as_body().items():
                    setattr(run, name, value)
            if on_commit is not None:
                on_commit(session)

    def _linked_native(self, item: _Item) -> str | None:
        """The target's key of the record this item is linked to once it is recorded."""
        result = item.result
        if result is not None and result.native_id:
            return result.native_id
        if item.target_row is not None:
            return item.target_row.native_id
        return item.found

    def _new_link(self, item: _Item) -> str | None:
        native = self._linked_native(item)
        if native is None or (item.target_row is not None and item.target_row.native_id == native):
            return None
        return native

    def _taken(self, session: Session, items: list[_Item]) -> dict[str, str]:
        """Target keys this batch is about to link that the id map already links: key ->
        canonical id."""
        natives = [n for item in items if item.failure is None if (n := self._new_link(item))]
        if not natives:
            return {}
        flow = self.flow
        rows = idmap.by_native(
            session, self.entity, flow.target.connector, flow.target.stream, natives
        )
        return {native: row.canonical_id for native, row in rows.items()}

    def _clash(self, item: _Item, taken: dict[str, str]) -> Failure | None:
        """The last guard of one record to one record, for a target that answers a write with
        a record another one is linked to (one that keys records by a value it was sent): the
        record is not linked, but parked, so the id map never holds two links to one record."""
        native = self._new_link(item)
        if native is None:
            return None
        assert item.row is not None
        owner = taken.setdefault(native, item.row.canonical_id)
        if owner == item.row.canonical_id:
            return None
        target = f"{self.flow.target.connector}.{self.flow.target.stream}"
        reason = (
            f"{target} stored this record as its record {native}, which is already the "
            f"counterpart of another record (canonical id {owner}); syncer links one record "
            "to one record, so this one was written but is not linked, and is tried again "
            "later. Give it a key of its own in the source, or keep only one of the two"
        )
        log.warning("record not linked: it shares a target record", record=item.key, reason=reason)
        return Failure(item.key, reason, "identity", item.native)

    def _failure_of(self, item: _Item) -> Failure | None:
        result = item.result
        if item.op is None or result is None:
            return None
        if result.outcome != "failed":
            return None
        error = result.error
        kind = "validation" if isinstance(error, SkippableRemoteError) else "remote"
        reason = error.message if error is not None else "the target refused the record"
        return Failure(
            item.key,
            reason,
            kind,
            item.native,
            field=None,
            status_code=error.status if error is not None else None,
        )

    def _record_success(self, session: Session, stored: idmap.Attached, item: _Item) -> None:
        flow = self.flow
        assert item.row is not None
        canonical_id = item.row.canonical_id
        settled = set(self.fields) - item.undecided
        source_row = stored.current(item.row)
        source_row.snapshot = merged(source_row.snapshot, item.snap, settled)
        source_row.content_hash = content_hash(source_row.snapshot)
        source_row.native_updated_at = _text(item.canonical.updated_at)
        source_row.origin = None
        source_row.deleted = item.canonical.deleted
        natural_key = self._natural_key(item)
        if natural_key is not None:
            source_row.natural_key = natural_key
        result = item.result
        target_native = self._linked_native(item)
        if target_native is None:
            self._count(item)  # skipped: nothing in the target to link
            return
        previous = stored.current(item.target_row) if item.target_row is not None else None
        written = merged(previous.snapshot if previous else None, item.snap, item.written_fields)
        if result is None and previous is None:
            written = merged(None, item.snap, self.fields)  # found by its key, already in place
        target_row = idmap.link(
            session,
            previous,
            entity=self.entity,
            canonical_id=canonical_id,
            connector=flow.target.connector,
            stream=flow.target.stream,
            native_id=target_native,
            snapshot=written,
            content_hash=content_hash(written),
            written_hash=content_hash(item.snap, item.written_fields)
            if item.op is not None
            else None,
            origin=flow.name if item.op is not None else None,
            deleted=item.canonical.deleted,
            **({"natural_key": natural_key} if natural_key is not None else {}),
        )
        self.target_refs.learn(self.entity, target_row.native_id, canonical_id)
        self.source_refs.learn(self.entity, item.native_id, canonical_id)
        self._count(item)

    def _natural_key(self, item: _Item) -> str | None:
        """The record's natural key (a document number, a code), kept in the id map so that
        other records can refer to it by that key (``by:`` in a mapping)."""
        name = self.model.natural_key
        value = item.values.get(name) if name else None
        return None if value in (None, "") else str(value)[:255]

    def _count(self, item: _Item) -> None:
        if item.result is not None:
            item.outcome = item.result.outcome
        outcome = item.outcome or "unchanged"
        if outcome == "created":
            self.counts.created += 1
        elif outcome == "updated":
            self.counts.updated += 1
        elif outcome == "deleted":
            self.counts.deleted += 1
        elif outcome == "skipped":
            self.counts.skipped += 1
        else:  # unchanged, or linked to what the target already had
            self.counts.unchanged += 1

    # -- dead letters and mirror -------------------------------------------------------------

    async def retry_dead_letters(self, *, force: bool = False) -> int:
        """Run due dead letters through the flow again; returns how many went through.

        Records of a source a person can fix (files) are read again from the source, so a
        fixed file fixes its dead letters; others are retried from the payload kept with
        them (the source may no longer have them)."""
        from_files = self.source_info.from_files
        with self.context.store.session() as session:
            letters = deadletters.due(
                session, self.flow.name, utcnow(), include_read=from_files, everything=force
            )
            keys = {letter.record_key for letter in letters}
            payloads = [letter.payload for letter in letters if letter.payload]
        if not keys:
            return 0
        self.source_refs.forget_misses()
        self.target_refs.forget_misses()
        log.info("retrying dead letters", count=len(keys), reread=from_files)
        if from_files:
            return await self._reread(keys)
        if not payloads:
            return 0
        before = self.counts.failed
        await self.process(payloads)
        return len(payloads) - (self.counts.failed - before)

    async def _reread(self, keys: set[str]) -> int:
        """Read the whole source again and send the records the dead letters name (by id, or
        by ``file:line`` for rows that could not be read) through the flow. Letters whose
        record is nowhere to be found stay, tried again later."""
        found: set[str] = set()
        unreadable: set[str] = set()
        async with self._reading(ReadRequest()) as pages:
            async for page in pages:
                wanted: list[Record] = []
                for record in page.records:
                    location = record.get(LOCATION_FIELD)
                    try:
                        native_id: str | None = self.source_mapping.native_id(record)
                    except MappingError:
                        native_id = None
                    hits = {key for key in (native_id, location) if key in keys}
                    if hits:
                        found.update(hits)
                        wanted.append(record)
                rejected = [
                    Failure(r.key, r.reason, "read", {"raw": r.raw}, field=r.field)
                    for r in page.rejected
                    if r.key in keys
                ]
                unreadable.update(failure.record_key for failure in rejected)
                found.update(unreadable)
                if wanted or rejected:
                    await self.process(wanted, extra_failures=rejected)
        with self._fenced() as session:
            deadletters.resolve_reread(session, self.flow.name, unreadable, only=found)
            deadletters.postpone(session, self.flow.name, keys - found)
            resolved = deadletters.count_resolved(session, self.flow.name, keys)
        if keys - found:
            log.info(
                "some dead letters' records were not found when the source was read again",
                missing=len(keys - found),
            )
        return resolved

    async def _settle(self) -> None:
        """Read back, by key, the records the other half of the pair wrote to this flow's
        source and this flow has not read since.

        A scan stops at its upper bound (the source's clock minus the safety margin), so what
        the other half wrote in the last seconds, or after this flow's scan, would wait for a
        later run: a code the ERP gave a customer created from a Repzo client, a field the
        conflict policy kept for this side while the other half wrote the rest of the record.
        Read back now, an echo costs a hash comparison and anything more is synced, so one
        ``syncer sync`` leaves a pair settled. Later scans see these records as echoes; the
        cursor is not moved here."""
        if self.pair is None:
            return
        source = self.flow.source
        with self.context.store.session() as session:
            natives = idmap.written_by(
                session, self.entity, source.connector, source.stream, self.pair.reverse
            )
        if not natives:
            return
        log.info("reading back what the other half of the pair wrote", records=len(natives))
        key = self.source_mapping.key.text
        for start in range(0, len(natives), SETTLE_CHUNK):
            if self.stop.is_set():
                return
            chunk = natives[start : start + SETTLE_CHUNK]
            records = await self.source.lookup(source.stream, key, chunk)
            if records:
                await self.process(records)
            with self._fenced() as session:
                # Gone since (deleted, merged): the next scans say what became of them.
                idmap.read_back_natives(
                    session, self.entity, source.connector, source.stream, chunk
                )

    async def _mirror(self) -> None:
        """After a complete, clean listing: records the source no longer has are disabled in
        the target.

        Never after a partial listing (an outage would disable everything), nor after one
        with rows that could not be read or identified (a broken row is not a deleted one).
        An empty listing of a source that had records, or one that would disable more than
        ``mirror.max_delete``, looks like a broken source rather than an emptied one: nothing
        is disabled and the run fails, unless ``--allow-mass-delete`` was given."""
        flow = self.flow
        listing = self.listing
        if not listing.clean:
            log.warning(
                "mirror: some rows of the listing could not be read or identified, so nothing is "
                "disabled in this run; fix the source and the next clean listing will",
                unreadable=listing.rejected,
                unidentified=listing.unidentified,
            )
            return
        with self.context.store.session() as session:
            present = idmap.live_count(
                session, self.entity, flow.source.connector, flow.source.stream
            )
            gone = list(
                session.scalars(
                    select(IdMapEntry).where(
                        IdMapEntry.connector == flow.source.connector,
                        IdMapEntry.stream == flow.source.stream,
                        IdMapEntry.entity == self.entity,
                        IdMapEntry.deleted.is_(False),
                        (IdMapEntry.last_seen_run.is_(None))
                        | (IdMapEntry.last_seen_run != self.run_id),
                    )
                )
            )
            targets = idmap.by_canonical(
                session,
                self.entity,
                flow.target.connector,
                flow.target.stream,
                [row.canonical_id for row in gone],
            )
        live = [
            (row, target)
            for row in gone
            if (target := targets.get(row.canonical_id)) is not None and not target.deleted
        ]
        self._check_mass_delete(present, len(live))
        ops: list[WriteOp] = []
        disables = "active" in self.target_mapping.write_fields
        for row, target_row in live:
            if disables:
                native = self.target_mapping.write(
                    {"active": False}, self.target_context, frozenset({"active"})
                )
                ops.append(
                    WriteOp("update", native, ref=row.native_id, native_id=target_row.native_id)
                )
            else:
                ops.append(WriteOp("delete", {}, ref=row.native_id, native_id=target_row.native_id))
        results = await self._write_split(ops) if ops else []
        done = {result.ref for result in results if result.outcome != "failed"}
        with self._fenced() as session:
            for row in gone:
                linked = targets.get(row.canonical_id)
                if row.native_id in done or linked is None:
                    # Forgetting the synced snapshot makes the record's return to the source a
                    # change, which brings it back in the target.
                    gone_row = session.merge(row)
                    gone_row.deleted = True
                    gone_row.snapshot = gone_row.content_hash = None
                if row.native_id in done and linked is not None:
                    # Remember that the target now has it disabled, so the record coming back
                    # to the source is a change that enables it again.
                    stored = session.merge(linked)
                    stored.deleted = True
                    if disables:
                        stored.snapshot = {**(stored.snapshot or {}), "active": False}
                        stored.content_hash = content_hash(stored.snapshot)
                    self.counts.deleted += 1
        if gone:
            log.info("mirror: gone from the source", count=len(gone), disabled=len(done))

    def _check_mass_delete(self, present: int, deleting: int) -> None:
        flow = self.flow
        source = f"{flow.source.connector}.{flow.source.stream}"
        limit = flow.mirror.max_delete
        claimed = self.listing.claimed
        if claimed is not None and self.listing.listed < claimed:
            # Not something --allow-mass-delete should wave through: the listing is short.
            raise SuspectListing(
                f"the complete listing of {source} gave {self.listing.listed} records, but "
                f"{flow.source.connector} said it holds {claimed}: a short listing (a page "
                "lost or capped) is not a complete one. Nothing was disabled",
                flow=flow.name,
                source=source,
                listed=self.listing.listed,
                present=present,
                deleting=deleting,
            )
        if self.listing.listed == 0 and present > 0:
            problem = (
                f"the complete listing of {source} is empty, but {present} records were there "
                "before: a missing, unmounted or truncated source looks like this"
            )
        elif deleting and not limit.allows(deleting, present):
            problem = (
                f"mirror would disable {deleting} of the {present} records of {source} in "
                f"{flow.target.connector}.{flow.target.stream}, more than mirror.max_delete "
                f"({limit}) allows"
            )
        else:
            return
        if self.allow_mass_delete:
            log.warning("mirror: going ahead as --allow-mass-delete asks", reason=problem)
            return
        raise SuspectListing(
            f"{problem}. Nothing was disabled. If the source really lost these records, run "
            f"`syncer sync {flow.name} --allow-mass-delete` once",
            flow=flow.name,
            source=source,
            listed=self.listing.listed,
            present=present,
            deleting=deleting,
        )


def _described(item: _Item) -> str:
    """A record as a person finds it: its key, and its place in a file when it has one."""
    location = item.native.get(LOCATION_FIELD)
    return f"{item.key} ({location})" if location else item.key


def _side_names(rows: Sequence[IdMapEntry], canonical_id: str) -> str:
    if not rows:
        return f"another record (canonical id {canonical_id})"
    return " and ".join(f"{row.connector}.{row.stream} {row.native_id}" for row in rows)


def _time(value: Any) -> datetime | None:
    return parse_instant(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:64]
