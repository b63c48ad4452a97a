"""Two batches at once: the next batch is mapped, matched and decided while the current one's
writes are in flight, so the target is kept busy instead of waiting between batches.

What keeps this as safe as one batch after the other:

- Writes and commits stay in order, one batch at a time: a batch is written and committed
  only after the one before it is, and the scan's position moves with each commit as before.
- A batch holding a record the batch in flight also holds waits for that one to be committed
  before it is looked at (its id-map rows and snapshots would be stale).
- A record that would go to a target record the batch in flight is linking (the same key, or
  the same identity key) is parked as it would be once that link is committed
  (:func:`identity.one_target_each` with ``in_flight``).
- A stop lets the batch in flight finish and commit; the next one, decided or not, is not
  written. An error does the same, then goes on up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from syncer.engine.identity import Claim

B = TypeVar("B")
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Planned(Generic[P]):
    plan: P
    claims: frozenset[Claim]
    """The target records the batch will link its records to."""


async def overlapped(
    batches: AsyncIterator[B],
    *,
    keys: Callable[[B], Collection[str]],
    plan: Callable[[B, frozenset[Claim]], Awaitable[Planned[P]]],
    apply: Callable[[P], Coroutine[Any, Any, None]],
    stops_after: Callable[[B], bool],
) -> bool:
    """Plan each batch (``plan(batch, claims in flight)``) while the one before is applied;
    True when the batches ran out, False when a stop was asked for after a batch that
    ``stops_after`` says may end the run (one that ends a page)."""
    flight: asyncio.Task[None] | None = None
    flight_keys: Collection[str] = ()
    flight_claims: frozenset[Claim] = frozenset()
    last: B | None = None

    def stopping() -> bool:
        return last is not None and stops_after(last)

    try:
        async for batch in batches:
            batch_keys = keys(batch)
            if flight is not None and not _disjoint(batch_keys, flight_keys):
                await _land(flight)
                flight = None
                if stopping():
                    return False
            in_flight = flight_claims if flight is not None else frozenset()
            planned = await plan(batch, in_flight)
            if flight is not None:
                await _land(flight)
                flight = None
                if stopping():
                    return False  # this batch is not written: the next run reads it again
            flight = asyncio.create_task(apply(planned.plan))
            last, flight_keys, flight_claims = batch, batch_keys, planned.claims
        if flight is not None:
            await _land(flight)
            flight = None
        return not stopping()
    finally:
        if flight is not None:
            # Something failed while the batch before was being written: it finishes and
            # commits what the target took (its own error, if any, gives way to this one).
            with contextlib.suppress(Exception):
                await _land(flight)


async def _land(flight: asyncio.Task[None]) -> None:
    """Wait for the batch in flight to be committed. If the wait itself is cancelled (a stop
    that does not wait), the batch is cancelled too rather than left running on its own."""
    try:
        await asyncio.shield(flight)
    except asyncio.CancelledError:
        if not flight.done():
            flight.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await flight
        raise


def _disjoint(keys: Collection[str], others: Collection[str]) -> bool:
    small, big = (keys, others) if len(keys) <= len(others) else (others, keys)
    lookup = big if isinstance(big, set | frozenset) else set(big)
    return not any(key in lookup for key in small)
