"""The life of a run: the flow's lease, its heartbeat, fenced commits and the run record.

Every entry point that moves a flow's records goes through here (a sync, a retry of its dead
letters, a conflict resolved by hand, later the daemon and backfill), so one flow is only ever
moved by one process at a time, and a process that lost the flow commits nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from syncer.config.models import FlowConfig
from syncer.engine import abandoned, deadletters, leases
from syncer.logs import get_logger
from syncer.observe import InterruptedRun
from syncer.remote.budget import current_run, note_progress
from syncer.state.failures import store_failure
from syncer.state.models import Run
from syncer.state.store import StateStore

log = get_logger(__name__)


class RunLifecycle:
    """One run of one flow, from taking its lease to closing its record."""

    def __init__(
        self,
        store: StateStore,
        flow: FlowConfig,
        run_id: str,
        *,
        kind: str = "sync",
        lease_ttl: timedelta = leases.DEFAULT_TTL,
    ) -> None:
        self.store = store
        self.flow = flow
        self.run_id = run_id
        self.kind = kind
        """``sync``, ``retry`` (dead letters) or ``resolve`` (a conflict)."""
        self.lease_ttl = lease_ttl
        self.letters = True
        """The flow had pending dead letters when the run opened."""
        self._lease: leases.Held | None = None

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[RunLifecycle]:
        """Hold the flow's lease (renewed by a heartbeat) for the duration; raises
        :class:`leases.LeaseBusy` when another process holds it."""
        try:
            self._lease = leases.acquire(
                self.store, leases.lease_name(self.flow), leases.new_holder(), self.lease_ttl
            )
        except DBAPIError as error:
            # The store fails before the run is even recorded (a read-only file, a full
            # disk): say which store, as a run failing under it would.
            failure = store_failure(error, self.store.display_url)
            if failure is None:
                raise
            raise failure from error
        heartbeat = asyncio.create_task(self._heartbeat(self._lease))
        try:
            yield self
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            leases.release(self.store, self._lease)

    @contextlib.contextmanager
    def fenced(self) -> Iterator[Session]:
        """A state-store transaction that commits only while this run still holds its lease."""
        with self.store.session() as session:
            if self._lease is not None:
                leases.renew(session, self._lease)
            yield session
        note_progress()  # committed: the run got somewhere

    def check(self) -> None:
        """Raise :class:`leases.LeaseLost` if another process took the flow over; nothing is
        written (a run looks before it writes to a target)."""
        if self._lease is not None:
            with self.store.session() as session:
                leases.check(session, self._lease)

    def open(self, started: datetime, sync_id: str | None) -> list[InterruptedRun]:
        """Record the run as running, and return this host's earlier runs of the flow whose
        process died. They stay ``running`` until :meth:`close_interrupted`, called once the
        observers have recorded their end."""
        with self.store.session() as session:
            dead = abandoned.find_abandoned(session, self.flow.name)
            for earlier in dead:
                log.warning("an earlier run was interrupted", earlier_run=earlier.id)
            self.letters = deadletters.any_pending(session, self.flow.name)
            session.add(
                Run(
                    id=self.run_id,
                    flow=self.flow.name,
                    kind=self.kind,
                    status="running",
                    started_at=started,
                    sync_id=sync_id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                )
            )
            return [InterruptedRun(run.id, run.sync_id, run.started_at) for run in dead]

    def close_interrupted(self, runs: list[InterruptedRun]) -> None:
        if runs:
            with self.store.session() as session:
                abandoned.close_abandoned(session, [run.run_id for run in runs])

    def close(
        self, status: str, error: str | None, finished: datetime, counts: dict[str, int]
    ) -> None:
        with self.store.session() as session:
            run = session.get(Run, self.run_id)
            if run is None:
                return
            run.status = status
            run.finished_at = finished
            run.error = error
            for name, value in counts.items():
                setattr(run, name, value)

    def save_counts(self, session: Session, counts: dict[str, int]) -> None:
        """The run's counts so far, in the transaction of a commit (``syncer status`` shows a
        running run's progress)."""
        run = session.get(Run, self.run_id)
        if run is not None:
            for name, value in counts.items():
                setattr(run, name, value)

    async def _heartbeat(self, lease: leases.Held) -> None:
        """Keep the lease while the run waits on remote systems (commits renew it too), but
        only while it gets somewhere: a run without progress for ``stall_timeout`` (no answer
        that settled a request, no commit) lets its lease run out, so another process can take
        the flow over. Should it get going again first, it renews again."""
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
                with self.store.session() as session:
                    leases.renew(session, lease)
            except leases.LeaseLost:
                log.error("the flow's lease was taken over; the next commit will stop this run")
                return
