"""The one retry loop: capped exponential backoff with jitter, Retry-After honoured, and a
budget of total waiting after which the call fails cleanly (built on tenacity)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from syncer.remote.errors import (
    RateLimited,
    RemoteError,
    RetriableRemoteError,
    RetryBudgetExhausted,
    UncertainWrite,
)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    """Attempts per call, the first included."""
    initial_wait: float = 0.5
    """First backoff step, seconds; it doubles on every retry."""
    max_wait: float = 30.0
    """Cap of one backoff step (a longer Retry-After is still honoured, within the budget)."""
    max_total_wait: float = 600.0
    """Total seconds one call may spend waiting between attempts before it gives up."""
    jitter: float = 0.5
    """Random extra seconds added to each backoff step, so clients do not retry in lockstep."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        step: float = min(self.max_wait, self.initial_wait * 2 ** (attempt - 1))
        return step + random.uniform(0, self.jitter)


def _retriable(error: BaseException) -> bool:
    # An uncertain write is retriable only behind a guard the caller owns (look the record up
    # first); retrying it here could create it twice.
    return isinstance(error, RetriableRemoteError) and not isinstance(error, UncertainWrite)


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Sleep,
    before_sleep: Callable[[RemoteError, float, int], None] | None = None,
) -> T:
    """Run ``call`` until it succeeds, raises a non-retriable error, or the budget runs out
    (then :class:`RetryBudgetExhausted`)."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # At least what the server asked for; a little more so a crowd of clients spreads.
            return error.retry_after + random.uniform(0, min(1.0, error.retry_after * 0.1))
        return policy.backoff(state.attempt_number)

    def stop(state: RetryCallState) -> bool:
        return (
            state.attempt_number >= policy.max_attempts
            or state.idle_for + state.upcoming_sleep > policy.max_total_wait
        )

    def give_up(state: RetryCallState) -> NoReturn:
        last = state.outcome.exception() if state.outcome else None
        assert isinstance(last, RemoteError)
        raise RetryBudgetExhausted(
            f"{last.message}; gave up after {state.attempt_number} attempts and "
            f"{state.idle_for:.1f}s of waiting (max_retry_wait is {policy.max_total_wait:.0f}s)",
            waited=state.idle_for,
            attempts=state.attempt_number,
            last=last,
        ) from last

    def announce(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if before_sleep is not None and isinstance(error, RemoteError):
            before_sleep(error, state.upcoming_sleep, state.attempt_number)

    retrying = AsyncRetrying(
        retry=retry_if_exception(_retriable),
        wait=wait,
        stop=stop,
        sleep=sleep,
        before_sleep=announce,
        retry_error_callback=give_up,
    )
    result: T = await retrying(call)
    return result
