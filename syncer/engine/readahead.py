"""Reading the next page while the current one goes through the stages.

A page is mapped, written and committed before the next is asked for; without this, the run
waits on the source's answer for every page in turn. The next page is requested as soon as
the current one is handed over, so the waiting happens while the engine works. Only one page
is held ahead: memory stays flat, and a stop discards at most that one (never committed, so
the next run reads it again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar, cast

T = TypeVar("T")


async def read_ahead(pages: AsyncIterator[T]) -> AsyncGenerator[T]:
    """``pages``, each one requested while the previous one is being used. An error reading
    a page is raised where that page would have been handed over, not earlier.

    Close it (``contextlib.aclosing``) before ``pages``: that ends the request in flight, which
    must not be running when ``pages`` itself is closed."""
    pending = asyncio.ensure_future(_next(pages))
    try:
        while True:
            done, page = await pending
            if done:
                return
            pending = asyncio.ensure_future(_next(pages))
            yield cast(T, page)
    finally:
        if not pending.done():
            pending.cancel()
        # Collected whatever became of it (cancelled, failed): the reading ends here.
        await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()


async def _next(pages: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return False, await anext(pages)
    except StopAsyncIteration:
        return True, None
