"""Reading the next page while the current one is in the stages: the order, the errors and the
stop must be those of reading one page at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import pytest

from syncer.engine.readahead import read_ahead


class Source:
    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages, self.fail_at = pages, fail_at
        self.requested: list[int] = []
        self.closed = False
        self.cancelled = False

    async def read(self) -> AsyncGenerator[int]:
        try:
            for number in range(self.pages):
                self.requested.append(number)
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:
                    self.cancelled = True
                    raise
                if number == self.fail_at:
                    raise ConnectionError(f"page {number} failed")
                yield number
        finally:
            self.closed = True


def test_the_next_page_is_requested_while_the_current_one_is_used() -> None:
    asyncio.run(_test_the_next_page_is_requested_while_the_current_one_is_used())


async def _test_the_next_page_is_requested_while_the_current_one_is_used() -> None:
    source = Source(4)
    seen: list[tuple[int, list[int]]] = []
    async with contextlib.aclosing(read_ahead(source.read())) as pages:
        async for page in pages:
            await asyncio.sleep(0.05)  # the stages at work: the next page arrives meanwhile
            seen.append((page, list(source.requested)))
    assert [page for page, _ in seen] == [0, 1, 2, 3]
    # While page 0 was used, page 1 had been asked for; never more than one ahead.
    assert [requested for _, requested in seen][:3] == [[0, 1], [0, 1, 2], [0, 1, 2, 3]]
    assert source.closed


def test_an_error_is_raised_where_its_page_would_have_been_handed_over() -> None:
    asyncio.run(_test_an_error_is_raised_where_its_page_would_have_been_handed_over())


async def _test_an_error_is_raised_where_its_page_would_have_been_handed_over() -> None:
    source = Source(5, fail_at=2)
    handed: list[int] = []
    with pytest.raises(ConnectionError, match="page 2 failed"):
        async with contextlib.aclosing(read_ahead(source.read())) as pages:
            async for page in pages:
                handed.append(page)
    assert handed == [0, 1]  # the pages before the failure all went through first


def test_stopping_early_ends_the_request_in_flight_before_the_source_is_closed() -> None:
    asyncio.run(_test_stopping_early_ends_the_request_in_flight_before_the_source_is_closed())


async def _test_stopping_early_ends_the_request_in_flight_before_the_source_is_closed() -> None:
    source = Source(10)
    generator = source.read()
    async with (
        contextlib.aclosing(generator),
        contextlib.aclosing(read_ahead(generator)) as pages,
    ):
        async for page in pages:
            await asyncio.sleep(0.001)  # the stages at work: the next page is in flight
            if page == 1:
                break  # a stop: the page ahead is never used, and never committed
    assert source.cancelled and source.closed
    assert source.requested == [0, 1, 2]


def test_an_empty_source_gives_no_pages() -> None:
    asyncio.run(_test_an_empty_source_gives_no_pages())


async def _test_an_empty_source_gives_no_pages() -> None:
    source = Source(0)
    async with contextlib.aclosing(read_ahead(source.read())) as pages:
        assert [page async for page in pages] == []
