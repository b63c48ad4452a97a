"""A server that ignores the paging parameters is never paged forever: a page that repeats an
earlier one, or more pages than the listing's reported size can fill, stops the listing with an
error naming the system, the path and what was seen (exit 3: the run fails, the cursor stays).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.erp_stub import ErpStubConnector, ErpStubSettings
from connectors.repzo.client import RepzoClient
from connectors.repzo.registry import Resource
from sandboxes.erp import ErpStub
from sandboxes.repzo import RepzoSandbox
from sandboxes.repzo.query import page_params
from syncer.cli import app
from syncer.connector import ReadRequest
from syncer.exit_codes import ExitCode
from syncer.remote.paging import EndlessListing
from syncer.state import upgrade_store
from syncer.state.models import Cursor, Run
from tests.engine.conftest import KEY, PASSWORD, T0_MS, USER, World, store_for
from tests.repzo.fakes import BASE, oid

pytestmark = pytest.mark.anyio

PATH = "/pricelistsitems"
ROWS = [{"_id": oid(n), "price": n, "updatedAt": n} for n in range(1, 8)]
"""Seven records: three pages of three (the fake settings' page_size), the last short."""


def unordered(client: RepzoClient) -> Resource:
    """pricelistsitems as the SDK describes it: page numbers, no sortBy, no from__id."""
    return client.resource("pricelistsitems").model_copy(
        update={"id_keyset": False, "sort_by": False, "list_params": None}
    )


def envelope(rows: list[dict[str, Any]], page: int, per_page: int, **over: Any) -> dict:
    pages = max(1, -(-len(ROWS) // per_page))
    body = {
        "total_result": len(ROWS),
        "current_count": len(rows),
        "total_pages": pages,
        "current_page": page,
        "per_page": per_page,
        "next_page_url": f"{BASE}{PATH}?page={page + 1}",
        "data": rows,
    }
    return {**body, **over}


class Server:
    """A Repzo list endpoint with one paging bug; ``answer`` decides what page ``page`` gets."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) > 200:  # the bug this file is about: fail the test, not hang
            raise AssertionError("paged forever")
        query = request.url.params
        page, per_page = int(query.get("page", 1)), int(query["per_page"])
        return httpx.Response(200, json=self.answer(page, per_page))


async def read(client: RepzoClient, resource: Resource, **kwargs: Any) -> list[dict]:
    return [r async for page in client.pages(resource, **kwargs) for r in page.records]


def ignores_page(page: int, per_page: int) -> dict:
    # The first page, whatever was asked for, and "more follow" from the page asked for.
    return envelope(ROWS[:per_page], page, per_page, current_page=1)


@pytest.mark.parametrize("verify", [True, False], ids=["verified", "plain"])
async def test_a_server_that_ignores_page_is_stopped_at_the_first_repeat(fake, client, verify):
    server = Server(ignores_page)
    fake.router.get(PATH).mock(side_effect=server)
    with pytest.raises(EndlessListing) as caught:
        await read(client, unordered(client), verify=verify)
    error = caught.value
    assert len(server.requests) == 2
    assert error.reason == "repeated_page" and error.repeats == 1 and error.pages == 2
    assert error.system == "repzo" and error.path == PATH and error.resource == "pricelistitem"
    assert "page=2" in error.request
    assert error.message.startswith(f"repzo answered page 2 of {PATH} (page=2, per_page=3"), (
        error.message
    )
    assert "the same 3 records as page 1" in error.message
    assert "cursor stays" in error.message
    assert error.exit_code == ExitCode.UNREACHABLE  # the run fails with exit 3
    fields = error.fields()
    assert fields["reason"] == "repeated_page" and fields["claimed"] == len(ROWS)


async def test_a_server_that_serves_its_last_page_for_any_page_after_it_is_stopped(fake, client):
    def clamps(page: int, per_page: int) -> dict:
        last = -(-len(ROWS) // per_page)
        shown = min(page, last)
        return envelope(ROWS[(shown - 1) * per_page : shown * per_page], page, per_page)

    server = Server(clamps)
    fake.router.get(PATH).mock(side_effect=server)
    with pytest.raises(EndlessListing, match=r"answered page 4 .* as page 3"):
        await read(client, unordered(client), verify=False)
    assert len(server.requests) == 4


async def test_next_page_url_forever_past_total_pages_is_stopped(fake, client):
    def never_ends(page: int, per_page: int) -> dict:
        return envelope(ROWS[(page - 1) * per_page : page * per_page], page, per_page)

    server = Server(never_ends)
    fake.router.get(PATH).mock(side_effect=server)
    with pytest.raises(EndlessListing) as caught:
        await read(client, unordered(client), verify=False)
    error = caught.value
    assert error.reason == "past_total" and error.claimed == len(ROWS) and error.records == 7
    # 7 records fill 3 pages of 3: twice that and two more, then the next page that says
    # more follow stops it. Empty pages past the end are not repeats of each other.
    assert error.pages == len(server.requests) == 2 * 3 + 3
    assert f"repzo says {PATH} holds 7 records, but it is still saying more follow" in (
        error.message
    )


async def test_new_records_forever_past_the_total_are_stopped(fake, client):
    def invents(page: int, per_page: int) -> dict:
        rows = [{"_id": oid(1000 + page * per_page + n), "price": n} for n in range(per_page)]
        return envelope(rows, page, per_page)

    server = Server(invents)
    fake.router.get(PATH).mock(side_effect=server)
    with pytest.raises(EndlessListing, match="still saying more follow") as caught:
        await read(client, unordered(client))
    assert caught.value.reason == "past_total"
    assert len(server.requests) == 2 * 3 + 3


async def test_an_offset_listing_whose_offset_is_ignored_is_stopped(fake, client):
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"success": True, "data": ROWS[:3], "total": 700})

    route = fake.router.get("/asset-part").mock(side_effect=answer)
    resource = client.resource("asset-part").model_copy(
        update={"list_style": "limit_offset_total", "id_keyset": False}
    )
    with pytest.raises(EndlessListing, match=r"page 2 of /asset-part \(limit=3, offset=3\)"):
        await read(client, resource)
    assert route.call_count == 2


async def test_listings_that_end_are_not_stopped(fake, client):
    # Right at the margin: a listing that grows while it is read, and ends with an empty page.
    def grows(page: int, per_page: int) -> dict:
        rows = ROWS[(page - 1) * per_page : page * per_page]
        last = page >= 4
        return envelope(
            rows, page, per_page, total_result=3, next_page_url=None if last else "more"
        )

    fake.router.get(PATH).mock(side_effect=Server(grows))
    assert [r["_id"] for r in await read(client, unordered(client), verify=False)] == [
        r["_id"] for r in ROWS
    ]


async def test_the_erp_stub_connector_stops_a_cursor_the_server_ignores():
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        items = [{"id": f"C-{n}", "updated_at": "2026-11-29T10:00:00+03:00"} for n in range(3)]
        # A fresh cursor each time, so the request never repeats; the page does.
        return httpx.Response(200, json={"items": items, "next_cursor": f"c{len(requests)}"})

    settings = ErpStubSettings(
        base_url="http://erp.test",  # type: ignore[arg-type]
        username="sync",
        password=SecretStr("pw"),
    )
    connector = ErpStubConnector("erp", settings, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(EndlessListing) as caught:
            async for _ in connector.read("customers", ReadRequest(page_size=3)):
                assert len(requests) < 50, "paged forever"
    finally:
        await connector.aclose()
    error = caught.value
    assert len(requests) == 2
    assert error.system == "erp" and error.path == "/api/v1/customers"
    assert "erp answered page 2 of /api/v1/customers (limit=3, cursor=c1)" in error.message


# -- through the engine ------------------------------------------------------------------

ITEMS_FLOW = """
- name: price-list-items
  source: {connector: repzo, stream: pricelistsitems}
  target: {connector: erp, stream: price_list_lines}
"""


@pytest.fixture
def sandboxes(tmp_path: Path, store_url: str) -> Iterator[World]:
    (tmp_path / "drop").mkdir()
    upgrade_store(store_url)
    with (
        RepzoSandbox(api_key=KEY) as repzo,
        ErpStub(username=USER, password=PASSWORD, seed=False) as erp,
    ):
        repzo.clock.freeze(T0_MS)
        erp.clock.freeze(T0_MS)
        yield World(repzo, erp, tmp_path, store_url)


def test_a_run_against_a_repzo_that_ignores_page_fails_with_exit_3_and_keeps_its_cursor(
    sandboxes: World, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sandboxes
    world.repzo.insert(
        "pricelistitem",
        [{"price": n * 1000, "integration_meta": {"code": f"PLI-{n}"}} for n in range(7)],
    )
    world.config(ITEMS_FLOW, page_size=3)
    path = str(world.folder / "syncer.yaml")

    def first_page_always(grouped: dict[str, list[str]], default: int, cap: int) -> tuple:
        return 1, page_params(grouped, default, cap)[1]

    monkeypatch.setattr("sandboxes.repzo.service.page_params", first_page_always)
    result = runner.invoke(app, ["sync", "price-list-items", "-c", path])

    assert result.exit_code == 3, result.output
    assert "repzo answered page 2 of /pricelistsitems (page=2, per_page=3" in result.stderr, (
        result.stderr
    )
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            assert session.get(Cursor, "price-list-items") is None  # it did not move
            [run] = session.query(Run).filter_by(flow="price-list-items").all()
            assert run.status == "failed" and "ignores the paging parameters" in run.error
    finally:
        store.close()
