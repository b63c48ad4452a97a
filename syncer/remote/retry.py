"""The one retry loop: capped exponential backoff with jitter, Retry-After honoured, and limits
on waiting after which the call fails cleanly (built on tenacity).

A call stops retrying at the first limit it reaches:

- its policy's ``max_attempts`` and ``max_total_wait`` (the whole budget when no run is going
  on; a short one for calls that must fail fast, such as connection checks);
- ``max_connect_wait`` while the system cannot be reached at all (counted over consecutive
  failures to connect: any answer starts it again);
- inside a flow run, the run's :class:`~syncer.remote.budget.RetryBudget` for the system, shared
  by every call of the run and charged with the waits and with the time of the attempts that
  failed (a hanging system costs its timeouts): once it is spent, the next failure gives up at
  once, and the run's later requests to that system are not sent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from syncer.remote.budget import RetryBudget, current_run
from syncer.remote.errors import (
    GiveUpReason,
    RateLimited,
    RemoteError,
    RetriableRemoteError,
    RetryBudgetExhausted,
    RunStopping,
    UncertainWrite,
    Unreachable,
)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

_NONE_LEFT = 1e-3
"""Less than a millisecond left of a limit counts as none (sums of waits carry rounding)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    """Attempts per call, the first included."""
    initial_wait: float = 0.5
    """First backoff step, seconds; it doubles on every retry."""
    max_wait: float = 30.0
    """Cap of one backoff step (a longer Retry-After is still honoured, within the budget)."""
    max_total_wait: float = 600.0
    """Seconds of waiting between attempts: for one call, and inside a flow run for all of the
    run's calls to the system (``max_retry_wait``)."""
    max_connect_wait: float = 30.0
    """Seconds a system may stay unreachable (refused, unknown host, connect timeout) before
    the call gives up, attempts included (``max_connect_wait``)."""
    jitter: float = 0.5
    """Random extra seconds added to each backoff step, so clients do not retry in lockstep."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        step: float = min(self.max_wait, self.initial_wait * 2 ** (attempt - 1))
        return step + random.uniform(0, self.jitter)


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """What the loop tells its caller before each wait (to log and count it)."""

    error: RemoteError
    wait: float
    attempt: int
    """The attempt that just failed (1-based)."""
    budget_left: float
    """Seconds of waiting left after this wait: the run's, inside a flow run; else the call's."""
    connect_left: float | None = None
    """For an unreachable system: seconds left before ``max_connect_wait`` ends the call."""


def _retriable(error: BaseException) -> bool:
    # An uncertain write is retriable only behind a guard the caller owns (look the record up
    # first); retrying it here could create it twice.
    return isinstance(error, RetriableRemoteError) and not isinstance(error, UncertainWrite)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _whole(seconds: float) -> str:
    """Seconds as a server gave them, without an exponent: ``999999``, ``2.5``."""
    return str(int(seconds)) if seconds == int(seconds) else f"{seconds:.3f}".rstrip("0")


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Sleep,
    before_sleep: Callable[[RetryNotice], None] | None = None,
    budget: RetryBudget | None = None,
) -> T:
    """Run ``call`` until it succeeds, raises a non-retriable error, or a limit is reached
    (then :class:`RetryBudgetExhausted`). ``budget`` is the run's budget for the system, when
    the call belongs to a flow run."""
    # Seconds this call has gone without a connection: its failed attempts and its waits. The
    # attempts are timed on the run's clock (the real one outside a run) and the waits counted
    # as asked, so a test's fake sleep counts as the time it stands for.
    clock = budget.clock if budget is not None else time.monotonic
    unreachable_for: float | None = None
    reason: GiveUpReason = "attempts"
    run_limit = False

    def connect_left() -> float:
        left = policy.max_connect_wait - (unreachable_for or 0.0)
        if budget is not None:
            left = min(left, budget.connect_left())
        return max(0.0, left)

    async def attempt() -> T:
        nonlocal unreachable_for
        started = clock()
        try:
            result = await call()
        except RemoteError as error:
            if isinstance(error, Unreachable):
                unreachable_for = (unreachable_for or 0.0) + (clock() - started)
                if budget is not None:
                    budget.unreachable(started)
            else:
                reached()
            if budget is not None and _retriable(error):
                budget.book_failed_attempt(started)
            raise
        reached()
        return result

    def reached() -> None:
        nonlocal unreachable_for
        unreachable_for = None
        if budget is not None:
            budget.reachable()

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # At least what the server asked for (a shorter wait is pointless, so it is never
            # cut to fit a budget); a little more so a crowd of clients spreads.
            return error.retry_after + random.uniform(0, min(1.0, error.retry_after * 0.1))
        step = policy.backoff(state.attempt_number)
        # The last step is cut to what is left, so the final attempt comes when the time is up
        # rather than a whole step early.
        if isinstance(error, Unreachable):
            step = min(step, connect_left())
        if budget is not None:
            step = min(step, budget.left())
        return step

    def stop(state: RetryCallState) -> bool:
        nonlocal reason, run_limit
        error = state.outcome.exception() if state.outcome else None
        upcoming = state.upcoming_sleep
        if isinstance(error, Unreachable) and connect_left() < _NONE_LEFT:
            reason = "max_connect_wait"
            run_limit = budget is not None and budget.connect_left() < _NONE_LEFT
        elif state.attempt_number >= policy.max_attempts:
            reason = "attempts"
        elif budget is not None and budget.left() < _NONE_LEFT:
            reason, run_limit = "run_budget", True
        elif state.idle_for + upcoming > policy.max_total_wait + _NONE_LEFT:
            reason = "max_retry_wait"
        elif budget is not None and not budget.charge(upcoming):
            reason, run_limit = "run_budget", True
        else:
            return False
        return True

    def give_up(state: RetryCallState) -> NoReturn:
        last = state.outcome.exception() if state.outcome else None
        assert isinstance(last, RemoteError)
        exhausted = RetryBudgetExhausted(
            explain(last, reason, state.attempt_number, state.idle_for, unreachable_for),
            waited=state.idle_for,
            attempts=state.attempt_number,
            last=last,
            reason=reason,
        )
        if run_limit and budget is not None:
            budget.gave_up = exhausted
        raise exhausted from last

    def explain(
        last: RemoteError,
        why: GiveUpReason,
        attempts: int,
        waited: float,
        without_connection: float | None,
    ) -> str:
        where = f" on {last.method} {last.url}" if last.url and last.url not in last.message else ""
        done = f"; gave up{where} after {attempts} attempt{'' if attempts == 1 else 's'}"
        if why in ("max_retry_wait", "run_budget") and _asked_too_long(last, waited):
            assert isinstance(last, RateLimited) and last.retry_after is not None
            done = (
                f"; {last.system or 'the server'} asked to wait {_whole(last.retry_after)}s "
                f"before trying again (Retry-After), more than the wait left{done}"
            )
        if why == "max_connect_wait":
            limit = policy.max_connect_wait
            seconds = without_connection or 0.0
            if run_limit and budget is not None:
                limit, seconds = budget.max_connect_wait, max(seconds, budget.unreachable_for())
            return (
                f"{last.message}{done} and {seconds:.1f}s (max_connect_wait is {_seconds(limit)})"
            )
        if why == "run_budget" and budget is not None:
            return (
                f"{last.message}{done}: this run has waited {budget.spent:.1f}s for "
                f"{budget.system} in all (max_retry_wait is {_seconds(budget.max_wait)})"
            )
        if why == "max_retry_wait":
            return (
                f"{last.message}{done} and {waited:.1f}s of waiting "
                f"(max_retry_wait is {_seconds(policy.max_total_wait)})"
            )
        return f"{last.message}{done} and {waited:.1f}s of waiting"

    def _asked_too_long(last: RemoteError, waited: float) -> bool:
        """A 429 whose Retry-After is past what this call or the run may still wait."""
        if not isinstance(last, RateLimited) or last.retry_after is None:
            return False
        left = policy.max_total_wait - waited
        if budget is not None:
            left = min(left, budget.left())
        return last.retry_after > left

    def announce(state: RetryCallState) -> None:
        nonlocal unreachable_for
        error = state.outcome.exception() if state.outcome else None
        if not isinstance(error, RemoteError):
            return
        unreachable = isinstance(error, Unreachable)
        if unreachable and unreachable_for is not None:
            unreachable_for += state.upcoming_sleep
        if before_sleep is None:
            return
        # tenacity has added this wait to idle_for already: what is left is left after it.
        left = (
            budget.left()
            if budget is not None
            else max(0.0, policy.max_total_wait - state.idle_for)
        )
        connect = None
        if unreachable:
            # The call's own count includes this wait already; the run's clock has not run it.
            connect = policy.max_connect_wait - (unreachable_for or 0.0)
            if budget is not None:
                connect = min(connect, budget.connect_left() - state.upcoming_sleep)
            connect = max(0.0, connect)
        before_sleep(RetryNotice(error, state.upcoming_sleep, state.attempt_number, left, connect))

    scope = current_run()
    stop_request = scope.stop if scope is not None else None

    async def pause(seconds: float) -> None:
        """The wait before a retry, cut short when the run is asked to stop."""
        if stop_request is None:
            await sleep(seconds)
            return
        if not stop_request.is_set():
            stopped = asyncio.ensure_future(stop_request.wait())
            waited = asyncio.ensure_future(sleep(seconds))
            try:
                await asyncio.wait({stopped, waited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                waited.cancel()
        if stop_request.is_set():
            system = budget.system if budget is not None else "the system"
            raise RunStopping(
                f"stopped as asked while waiting to retry a request to {system}; the run "
                "keeps its last checkpoint"
            )

    retrying = AsyncRetrying(
        retry=retry_if_exception(_retriable),
        wait=wait,
        stop=stop,
        sleep=pause,
        before_sleep=announce,
        retry_error_callback=give_up,
    )
    result: T = await retrying(attempt)
    return result
