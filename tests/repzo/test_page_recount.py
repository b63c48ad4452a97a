"""Page-number listings without a stable order are verified by a recount, and read again for
whatever moved past the pages already read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.repzo.client import RepzoClient
from connectors.repzo.registry import Resource
from syncer.remote.errors import FatalRemoteError
from tests.repzo.fakes import BASE, oid

pytestmark = pytest.mark.anyio

PATH = "/pricelistsitems"


def unordered(client: RepzoClient) -> Resource:
    """pricelistsitems as the SDK describes it: page numbers, no sortBy, no from__id."""
    return client.resource("pricelistsitems").model_copy(
        update={"id_keyset": False, "sort_by": False, "list_params": None}
    )


class MovingListing:
    """A server whose implicit order is updatedAt ascending: the record edited after the first
    page moves to the end, and everything behind it moves up one place, so plain page-number
    paging skips one record."""

    def __init__(self, count: int, *, edit_after_page: int | None = 1, keep_editing: bool = False):
        self.rows: list[dict[str, Any]] = [
            {"_id": oid(n), "price": n, "updatedAt": n} for n in range(1, count + 1)
        ]
        self.served = 0
        self.edit_after_page = edit_after_page
        self.keep_editing = keep_editing
        self.clock = count
        self.requests: list[httpx.Request] = []

    def _edit(self, index: int) -> None:
        self.clock += 1
        self.rows[index]["updatedAt"] = self.clock

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        query = request.url.params
        per_page, page = int(query["per_page"]), int(query.get("page", 1))
        rows = sorted(self.rows, key=lambda row: row["updatedAt"])
        chunk = rows[(page - 1) * per_page : page * per_page]
        pages = max(1, -(-len(rows) // per_page))
        body = {
            "total_result": len(rows),
            "current_count": len(chunk),
            "total_pages": pages,
            "current_page": page,
            "per_page": per_page,
            "next_page_url": None if page >= pages else f"{BASE}{PATH}?page={page + 1}",
            "data": [dict(row) for row in chunk],
        }
        if per_page > 1:
            self.served += 1
            if self.served == self.edit_after_page or (self.keep_editing and self.served > 1):
                self._edit(0 if not self.keep_editing else self.served % len(self.rows))
                if self.keep_editing:
                    self.rows.append(
                        {"_id": oid(1000 + self.served), "price": 0, "updatedAt": self.clock}
                    )
        return httpx.Response(200, json=body)


async def ids(client: RepzoClient, resource: Resource, **kwargs: Any) -> list[str]:
    found: list[str] = []
    async for page in client.pages(resource, **kwargs):
        found.extend(str(record["_id"]) for record in page.records)
    return found


async def test_a_record_that_moves_during_the_scan_is_not_skipped(fake, client):
    server = MovingListing(9)
    fake.router.get(PATH).mock(side_effect=server)
    seen = await ids(client, unordered(client))
    assert sorted(seen) == [oid(n) for n in range(1, 10)]
    assert len(seen) == len(set(seen))  # the second reading hands on only what was missed


async def test_without_the_recount_the_same_scan_skips_a_record(fake, client):
    # The failure the recount exists for: plain page numbers over a moving order.
    server = MovingListing(9)
    fake.router.get(PATH).mock(side_effect=server)
    seen = await ids(client, unordered(client), verify=False)
    assert len(set(seen)) == 8


async def test_a_stable_listing_costs_one_count_request(fake, client):
    server = MovingListing(9, edit_after_page=None)
    fake.router.get(PATH).mock(side_effect=server)
    pages = [page async for page in client.pages(unordered(client))]
    assert sum(len(page.records) for page in pages) == 9
    assert pages[-1].records == [] and pages[-1].total == 9  # the verified size, last
    assert len(server.requests) == 3 + 1
    assert server.requests[-1].url.params["per_page"] == "1"


async def test_a_listing_that_never_settles_fails_the_scan(fake, client):
    server = MovingListing(6, keep_editing=True)
    fake.router.get(PATH).mock(side_effect=server)
    with pytest.raises(FatalRemoteError, match="kept changing"):
        await ids(client, unordered(client))
