"""Bounded concurrency for connector writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded_map(func: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int) -> list[R]:
    """``[await func(item) for item in items]`` with at most ``limit`` calls in flight.

    Results keep the order of ``items``. The first exception cancels the calls still running
    and is raised as itself (not wrapped in an ExceptionGroup), so callers handle the same
    error types as with a plain loop.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    gate = asyncio.Semaphore(limit)
    results: list[R | None] = [None] * len(items)

    async def run(index: int, item: T) -> None:
        async with gate:
            results[index] = await func(item)

    try:
        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(items):
                group.create_task(run(index, item))
    except BaseExceptionGroup as failures:
        raise _first(failures) from None
    return results  # type: ignore[return-value]  # every slot was filled


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
