"""Unit tests of the Repzo connector: streams, reads by cursor kind, bounded concurrent writes,
guarded creates, per-record failures, and the connection check."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
import structlog

from connectors.repzo import RepzoConnector
from syncer.connector import Connector, PartialWrite, ReadRequest, WriteOp, find_stream
from syncer.remote.errors import FatalRemoteError, SkippableRemoteError, UncertainWrite
from tests.repzo.fakes import oid, settings

pytestmark = pytest.mark.anyio

PAGE = {"total_result": 0, "next_page_url": None, "current_page": 1, "per_page": 3, "data": []}


def test_streams_cover_the_registry_and_say_what_each_can_do(connector):
    assert isinstance(connector, Connector)
    streams = connector.streams()
    assert len(streams) == 89
    client = streams["client"]
    assert (client.cursor, client.updated_field, client.key) == ("updated_at", "updatedAt", "_id")
    assert client.can_read and client.can_create and client.can_update and client.can_delete
    assert client.resumable and "integration_meta.id" in client.lookup_fields
    invoices = streams["fullinvoices"]
    assert invoices.cursor == "id" and invoices.updated_field is None
    assert "serial_number.formatted" in invoices.lookup_fields
    assert "pricelists" in streams and "pricelist" not in streams  # the SDK's spelling
    assert not streams["update-integration-meta"].can_read
    with pytest.raises(KeyError, match="did you mean client"):
        find_stream(streams, "clinet", "repzo")


async def test_append_only_stream_is_bounded_by_an_id_made_from_the_scan_bound(fake, connector):
    fake.collection("/fullinvoices", [])
    bound = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    pages = [
        p async for p in connector.read("fullinvoices", ReadRequest(after=oid(5), updated_to=bound))
    ]
    assert pages[0].records == []
    params = fake.requests[0].url.params
    assert params["from__id"] == oid(5)
    assert params["to__id"] == f"{int(bound.timestamp()):08x}" + "0" * 16
    assert "from_updatedAt" not in params


async def test_a_record_whose_updated_at_is_not_a_time_is_read_and_named(fake, connector):
    records = [
        {"_id": oid(1), "updatedAt": "2026-11-30T10:00:00.000Z"},
        {"_id": oid(2), "updatedAt": "yesterday"},
    ]
    fake.script("GET", "/client", httpx.Response(200, json=dict(PAGE, data=records)))
    with structlog.testing.capture_logs() as logs:
        pages = [page async for page in connector.read("client", ReadRequest())]
    assert [r["_id"] for p in pages for r in p.records] == [oid(1), oid(2)]
    [warning] = [entry for entry in logs if entry["log_level"] == "warning"]
    assert warning["event"].startswith("a record's last-modified value is not a time")
    assert (warning["record"], warning["field"], warning["value"]) == (
        oid(2),
        "updatedAt",
        "'yesterday'",
    )


async def test_writes_run_concurrently_but_never_more_than_configured(fake, sleep):
    connector = RepzoConnector("repzo", settings(write_concurrency=3), sleep=sleep)
    in_flight = peak = 0

    async def slow_create(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        body = json.loads(request.content)
        return httpx.Response(201, json={"_id": oid(int(body["client_code"])), **body})

    route = fake.router.post("/client").mock(side_effect=slow_create)
    ops = [
        WriteOp("create", {"name": f"C{n}", "client_code": str(n)}, ref=f"r{n}") for n in range(12)
    ]
    results = await connector.write("client", ops)
    assert [r.ref for r in results] == [op.ref for op in ops]
    assert all(r.outcome == "created" for r in results)
    assert [r.native_id for r in results] == [oid(n) for n in range(12)]
    assert peak == 3 and route.call_count == 12


async def test_a_refused_record_does_not_stop_the_others(fake, connector):
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if not body.get("name"):
            return httpx.Response(400, json={"message": "name is required"})
        return httpx.Response(201, json={"_id": oid(len(body["name"])), **body})

    fake.router.post("/client").mock(side_effect=answer)
    ops = [
        WriteOp("create", {"name": "ab"}, ref="a"),
        WriteOp("create", {}, ref="b"),
        WriteOp("create", {"name": "abcd"}, ref="c"),
    ]
    results = await connector.write("client", ops)
    assert [r.outcome for r in results] == ["created", "failed", "created"]
    assert isinstance(results[1].error, SkippableRemoteError)
    assert results[1].error.remote_message == "name is required"


async def test_a_fatal_error_stops_the_batch(fake, connector):
    fake.script("POST", "/client", httpx.Response(401, json={"message": "Unauthorized"}))
    with pytest.raises(PartialWrite) as stopped:
        await connector.write("client", [WriteOp("create", {"name": "x"}, ref="a")])
    assert isinstance(stopped.value.cause, FatalRemoteError)
    assert stopped.value.results == []


async def test_guarded_create_finds_the_record_a_lost_answer_created(fake, connector):
    post = fake.script("POST", "/client", httpx.ReadTimeout("answer lost"))
    fake.collection(
        "/client", [{"_id": oid(7), "name": "x", "integration_meta": {"id": "demo_C-7"}}]
    )
    op = WriteOp("create", {"name": "x"}, ref="a", lookup=("integration_meta.id", "demo_C-7"))
    [result] = await connector.write("client", [op])
    assert (result.outcome, result.native_id) == ("created", oid(7))
    assert post.call_count == 1  # no second POST: it would have made a duplicate


async def test_guarded_create_tries_again_when_the_lookup_finds_nothing(fake, connector):
    post = fake.script(
        "POST",
        "/client",
        httpx.ReadTimeout("lost"),
        httpx.Response(201, json={"_id": oid(8), "name": "x"}),
    )
    fake.collection("/client", [])
    op = WriteOp("create", {"name": "x"}, ref="a", lookup=("integration_meta.id", "demo_C-8"))
    [result] = await connector.write("client", [op])
    assert (result.outcome, result.native_id) == ("created", oid(8))
    assert post.call_count == 2


async def test_unguarded_uncertain_create_is_reported_not_retried(fake, connector):
    post = fake.script("POST", "/client", httpx.ReadTimeout("lost"))
    [result] = await connector.write("client", [WriteOp("create", {"name": "x"}, ref="a")])
    assert result.outcome == "failed" and isinstance(result.error, UncertainWrite)
    assert post.call_count == 1


async def test_update_and_disable(fake, connector):
    fake.script("PUT", f"/client/{oid(1)}", httpx.Response(200, json={"_id": oid(1), "name": "n"}))
    fake.script(
        "DELETE", f"/client/{oid(2)}", httpx.Response(200, json={"_id": oid(2), "disabled": True})
    )
    results = await connector.write(
        "client",
        [
            WriteOp("update", {"name": "n"}, ref="u", native_id=oid(1)),
            WriteOp("delete", {}, ref="d", native_id=oid(2)),
        ],
    )
    assert [(r.outcome, r.native_id) for r in results] == [("updated", oid(1)), ("deleted", oid(2))]


async def test_check_accepts_a_working_key(fake, connector):
    fake.script("GET", "/client", httpx.Response(200, json={**PAGE, "total_result": 42}))
    result = await connector.check()
    assert result.ok and "accepted the API key (42 clients)" in result.message


async def test_check_says_when_the_key_is_refused(fake, connector):
    fake.script("GET", "/client", httpx.Response(401, json={"message": "Unauthorized"}))
    result = await connector.check()
    assert not result.ok and "refused the API key (401)" in result.message


async def test_check_says_when_the_url_is_not_repzo(fake, connector):
    fake.script("GET", "/client", httpx.Response(200, json={"hello": "world"}))
    result = await connector.check()
    assert not result.ok and "not like the Repzo API" in result.message


async def test_check_fails_fast_when_nothing_answers(fake, connector, sleep):
    route = fake.script("GET", "/client", httpx.ConnectError("refused"))
    result = await connector.check()
    assert not result.ok and "cannot reach Repzo" in result.message
    assert route.call_count == 2 and sum(sleep.waits) < 5


async def test_server_time_comes_from_the_date_header(fake, connector):
    fake.collection("/client", [])
    now = await connector.server_time()
    assert (
        datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
        <= now
        < datetime(2026, 11, 29, 21, 0, 5, tzinfo=UTC)
    )
