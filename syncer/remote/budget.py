"""What a flow run may still spend waiting on each system, and whether it is getting anywhere.

A flow run makes hundreds of calls through one connector: reads, look-ups, writes at
``write_concurrency``, write-backs, logs. ``max_retry_wait`` bounds the waiting of the whole run
on that connector, not of each call, or a system that went away would hold the run for the
budget times the calls still queued. The run opens a :class:`RunScope` when it starts
(:func:`run_scope`); it lives in a context variable, and asyncio tasks copy the context they are
created in, so the writes a run has in flight share its budgets. Code outside a flow run
(``syncer check``, tools, tests) sees no scope, and each call keeps its policy's own limits.

The scope also keeps the run's progress clock: the time of the last answer that settled a
request (a success, or a refusal of one record; not a 429 or 5xx that is retried) or of the
last commit of the run's state. The run's heartbeat stops renewing the flow's lease when that
clock has stood still for ``stall_timeout``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from syncer.remote.errors import RequestContext, RetryBudgetExhausted

Clock = Callable[[], float]
"""Seconds on a monotonic scale: ``time.monotonic``, or a fake clock in tests."""


@dataclass(slots=True)
class RetryBudget:
    """One run's waiting on one system (connector)."""

    system: str
    max_wait: float
    """``max_retry_wait``: seconds the run may spend waiting to retry requests to this system
    (and on the attempts that failed before those waits)."""
    max_connect_wait: float
    """``max_connect_wait``: seconds the system may stay unreachable before the run gives up."""
    clock: Clock
    spent: float = 0.0
    """Seconds charged so far."""
    gave_up: RetryBudgetExhausted | None = None
    """Set when the run gave up on this system: its later requests are not sent at all."""
    _horizon: float = field(default=float("-inf"))
    _unreachable_since: float | None = None

    def left(self) -> float:
        return max(0.0, self.max_wait - self.spent)

    def charge(self, seconds: float) -> bool:
        """Book a wait that starts now; False (nothing booked) when the budget cannot pay it.

        Waits of concurrent calls that overlap in time are paid once: the budget is the time
        the run spends waiting, so eight writes waiting out the same outage cost what one does.
        """
        now = self.clock()
        end = now + seconds
        cost = max(0.0, end - max(now, self._horizon))
        if self.spent + cost > self.max_wait:
            return False
        self.spent += cost
        self._horizon = max(self._horizon, end)
        return True

    def book_failed_attempt(self, started: float) -> None:
        """Charge the time an attempt that is about to be retried took (from ``started`` on
        :attr:`clock` to now): a system that hangs until the timeout costs the run that time as
        surely as a wait does. May overdraw: the next failure then gives up."""
        now = self.clock()
        self.spent += max(0.0, now - max(started, self._horizon))
        self._horizon = max(self._horizon, now)

    def unreachable(self, since: float) -> None:
        """An attempt that started at ``since`` (on :attr:`clock`) could not connect."""
        if self._unreachable_since is None or since < self._unreachable_since:
            self._unreachable_since = since

    def reachable(self) -> None:
        """The system answered (anything, even an error): it is not unreachable."""
        self._unreachable_since = None

    def unreachable_for(self) -> float:
        """Seconds since the first of the current run of failures to connect (0 if none)."""
        if self._unreachable_since is None:
            return 0.0
        return max(0.0, self.clock() - self._unreachable_since)

    def connect_left(self) -> float:
        return max(0.0, self.max_connect_wait - self.unreachable_for())

    def refuse(self, context: RequestContext) -> None:
        """Raise, without sending, once the run has given up on this system: its remaining
        requests (write-backs, logs, a second page) would each fail again, and a system that
        hangs would make every one of them wait for its timeout."""
        if self.gave_up is None:
            return
        raise RetryBudgetExhausted(
            f"not sent: this run already gave up on {self.system}: {self.gave_up.message}",
            waited=0.0,
            attempts=0,
            last=self.gave_up.last,
            reason="already_gave_up",
            context=context,
        )


class RunScope:
    """The retry budgets and the progress clock of one flow run."""

    def __init__(self, clock: Clock = time.monotonic, stop: asyncio.Event | None = None) -> None:
        self.clock = clock
        self.stop = stop
        """Set when the run is asked to stop (SIGTERM, Ctrl-C): waits between retries end at
        once, so a run never outlives the signal by a retry budget."""
        self._budgets: dict[str, RetryBudget] = {}
        self._last_progress = clock()

    def budget(self, system: str, *, max_wait: float, max_connect_wait: float) -> RetryBudget:
        """The run's budget for ``system``, created by its first request with that system's
        limits."""
        found = self._budgets.get(system)
        if found is None:
            found = RetryBudget(system, max_wait, max_connect_wait, self.clock)
            self._budgets[system] = found
        return found

    def progress(self) -> None:
        self._last_progress = self.clock()

    def idle_for(self) -> float:
        """Seconds since the run last got anywhere."""
        return max(0.0, self.clock() - self._last_progress)


_CURRENT: ContextVar[RunScope | None] = ContextVar("syncer_run_scope", default=None)


@contextmanager
def run_scope(
    clock: Clock = time.monotonic, stop: asyncio.Event | None = None
) -> Iterator[RunScope]:
    """Fresh budgets and progress clock for the code run inside (one flow run); ``stop`` is
    the run's stop request."""
    scope = RunScope(clock, stop)
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)


def current_run() -> RunScope | None:
    return _CURRENT.get()


def note_progress() -> None:
    """The current run got somewhere (an answer that settled a request, a commit)."""
    scope = _CURRENT.get()
    if scope is not None:
        scope.progress()
