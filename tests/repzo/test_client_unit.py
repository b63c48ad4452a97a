"""Unit tests of the Repzo client against the fake API: every list style, every failure class.

No network, no real waiting: the retry loop's sleep is recorded instead of slept.
"""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors.repzo.client import RepzoClient, object_id_at
from syncer.remote.classify import DEFAULT_TABLE, Action
from syncer.remote.errors import (
    FatalRemoteError,
    MalformedBody,
    RetryBudgetExhausted,
    SkippableRemoteError,
    UncertainWrite,
    UnexpectedResponse,
    UnsupportedQuery,
)
from syncer.remote.http import encode_query, parse_retry_after
from syncer.remote.paging import ShortListing
from tests.repzo.fakes import API_KEY, oid, settings

pytestmark = pytest.mark.anyio

CLIENTS = [
    {
        "_id": oid(n),
        "name": f"Client {n}",
        "disabled": False,
        "integration_meta": {"id": f"demo_C-{n}"},
    }
    for n in range(1, 8)
]
OK_PAGE = {
    "total_result": 1,
    "next_page_url": None,
    "current_page": 1,
    "per_page": 3,
    "data": [CLIENTS[0]],
}


async def read_all(client: RepzoClient, name: str, **kwargs) -> list[dict]:
    records: list[dict] = []
    async for page in client.pages(client.resource(name), **kwargs):
        records.extend(page.records)
    return records


# -- list styles -------------------------------------------------------------------------


async def test_keyset_paging_reads_everything_once_in_id_order(fake, client):
    route = fake.collection("/client", CLIENTS)
    records = await read_all(client, "client")
    assert [r["_id"] for r in records] == [c["_id"] for c in CLIENTS]
    sent = [req.url.params for req in fake.requests]
    assert json.loads(sent[0]["sortBy"]) == [{"field": "_id", "type": "asc"}]
    assert "from__id" not in sent[0]
    assert [p.get("from__id") for p in sent[1:]] == [oid(3), oid(6)]
    assert route.call_count == 3  # 3 + 3 + 1 records
    assert all(req.headers["api-key"] == API_KEY for req in fake.requests)


async def test_keyset_paging_with_an_inclusive_lower_bound_drops_the_repeats(fake, client):
    fake.collection("/client", CLIENTS, inclusive_from_id=True)
    records = await read_all(client, "client")
    assert [r["_id"] for r in records] == [c["_id"] for c in CLIENTS]


async def test_keyset_paging_resumes_after_a_position(fake, client):
    fake.collection("/client", CLIENTS)
    records = await read_all(client, "client", after=oid(4))
    assert [r["_id"] for r in records] == [oid(5), oid(6), oid(7)]


async def test_updated_window_is_sent_in_milliseconds(fake, client):
    fake.collection("/client", CLIENTS[:1])
    start = datetime(2026, 11, 29, 10, 0, 0, 123000, tzinfo=UTC)
    await read_all(client, "client", updated_from=start, updated_to=start + timedelta(hours=1))
    params = fake.requests[0].url.params
    assert params["from_updatedAt"] == "1795946400123"
    assert params["to_updatedAt"] == str(1795946400123 + 3_600_000)


async def test_page_number_paging_stops_at_the_last_page(fake, client):
    fake.collection("/integration-command-log", CLIENTS)
    records = await read_all(client, "integration-command-log")
    assert len(records) == 7
    # Three pages, then the recount that verifies nothing moved past them.
    assert [req.url.params["page"] for req in fake.requests] == ["1", "2", "3", "1"]
    assert fake.requests[-1].url.params["per_page"] == "1"


async def test_resources_the_specs_page_by_offset_are_read_by_page_as_the_sdk_does(fake, client):
    fake.collection("/asset-part", CLIENTS)
    records = await read_all(client, "asset-part")
    assert len(records) == 7
    assert all("offset" not in req.url.params for req in fake.requests)
    assert "sortBy" in fake.requests[0].url.params  # the SDK lists it: a keyset read


async def test_limit_offset_paging(fake, client):
    # No registry resource answers this way today; the client still reads the shape correctly.
    fake.collection("/asset-part", CLIENTS, style="limit_offset_total")
    resource = client.resource("asset-part").model_copy(
        update={"list_style": "limit_offset_total", "id_keyset": False}
    )
    records = [r async for page in client.pages(resource) for r in page.records]
    assert len(records) == 7
    assert [req.url.params["offset"] for req in fake.requests] == ["0", "3", "6"]


async def test_filters_are_encoded_like_the_sdk(fake, client):
    fake.collection("/client", CLIENTS)
    found = await client.find(
        client.resource("client"),
        {"integration_meta.id": ["demo_C-2", "demo_C-5"], "disabled": False},
    )
    assert [r["_id"] for r in found] == [oid(2), oid(5)]
    params = fake.requests[0].url.params
    assert params["integration_meta.id"] == '["demo_C-2","demo_C-5"]'


def test_query_encoding():
    assert encode_query({"a": None, "b": True, "c": [1, "x"], "d": {"k": 1}, "e": 5}) == [
        ("b", "true"),
        ("c", '[1,"x"]'),
        ("d", '{"k":1}'),
        ("e", "5"),
    ]


async def test_a_body_that_is_not_a_repzo_page_is_refused_with_an_excerpt(fake, client):
    fake.script("GET", "/client", httpx.Response(200, json={"items": [1, 2]}))
    with pytest.raises(UnexpectedResponse) as caught:
        await read_all(client, "client")
    assert "is base_url the Repzo API" in caught.value.message
    assert "items" in caught.value.body_excerpt
    assert caught.value.path == "/client"


async def test_ids_out_of_order_are_refused(fake, client):
    page = dict(OK_PAGE, data=[CLIENTS[2], CLIENTS[1]])
    fake.script("GET", "/client", httpx.Response(200, json=page))
    with pytest.raises(UnexpectedResponse, match="increasing _id order"):
        await read_all(client, "client")


async def test_an_empty_body_is_named_as_such(fake, client):
    fake.script("GET", "/client", httpx.Response(200, content=b""))
    with pytest.raises(UnexpectedResponse) as caught:
        await read_all(client, "client")
    assert caught.value.message.startswith("repzo: GET /client: the answer is not a Repzo list")
    assert caught.value.message.endswith("(it answered an empty body)")


async def test_a_record_without_its_id_is_named_not_taken_for_an_order_problem(fake, client):
    page = dict(OK_PAGE, total_result=2, data=[{"name": "a"}, {"name": "b"}])
    fake.script("GET", "/client", httpx.Response(200, json=page))
    with pytest.raises(UnexpectedResponse) as caught:
        await read_all(client, "client")
    assert "record 1 of the page has no _id" in caught.value.message
    assert caught.value.message.startswith("repzo: GET /client (")


async def test_a_listing_shorter_than_its_total_fails_when_a_recount_agrees(fake, client):
    short = dict(OK_PAGE, total_result=5, data=CLIENTS[:2])
    route = fake.script("GET", "/client", httpx.Response(200, json=short))
    with pytest.raises(ShortListing) as caught:
        await read_all(client, "client")
    assert route.call_count == 2  # the listing's one page, and the recount
    assert fake.requests[1].url.params["per_page"] == "1"
    assert caught.value.message.startswith(
        "repzo said /client holds 5 records, but the listing ended after 2 records on 1 page, "
        "and says 5 when asked again: a page went missing"
    )
    assert caught.value.exit_code == 3


async def test_a_listing_that_shrank_while_it_was_read_is_complete(fake, client):
    short = dict(OK_PAGE, total_result=5, data=CLIENTS[:2])
    fake.script(
        "GET",
        "/client",
        httpx.Response(200, json=short),
        httpx.Response(200, json=dict(OK_PAGE, total_result=2, data=CLIENTS[:1])),
    )
    assert len(await read_all(client, "client")) == 2
    # A lookup is not a listing read from its start: no recount, whatever the total says.
    fake.script("GET", "/client", httpx.Response(200, json=short))
    assert len(await client.find(client.resource("client"), {"name": "x"})) == 2


async def test_a_redirect_is_not_followed(fake, client, sleep):
    route = fake.script(
        "GET",
        "/client",
        httpx.Response(301, headers={"location": "https://elsewhere.example/client?token=abc"}),
    )
    with pytest.raises(FatalRemoteError) as caught:
        await read_all(client, "client")
    assert route.call_count == 1 and sleep.waits == []
    assert "with a redirect (301) to https://elsewhere.example/client:" in caught.value.message
    assert "does not follow redirects" in caught.value.message
    assert "token" not in caught.value.message


async def test_a_body_that_does_not_decode_as_its_encoding_says_fails_at_once(fake, client, sleep):
    lie = httpx.Response(  # a stream: content= would be decoded (and fail) right here
        200,
        stream=httpx.ByteStream(json.dumps(OK_PAGE).encode()),
        headers={"content-encoding": "gzip"},
    )
    route = fake.script("GET", "/client", lie)
    with pytest.raises(FatalRemoteError) as caught:
        await read_all(client, "client")
    assert route.call_count == 1 and sleep.waits == []
    assert "does not decode as its Content-Encoding header says" in caught.value.message


async def test_sdk_paths_are_used_where_they_differ_from_the_spec(fake, client):
    fake.collection("/pricelists", CLIENTS[:1])
    resource = client.resource("pricelists")
    assert resource.name == "pricelist"
    assert client.path(resource, "get", "abc") == "/pricelists/abc"
    assert len(await read_all(client, "pricelists")) == 1


# -- failure classes -------------------------------------------------------------------------


async def test_429_waits_as_told_then_succeeds(fake, client, sleep):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    route = fake.script(
        "GET",
        "/client",
        httpx.Response(429, headers={"retry-after": "7"}, json={"message": "slow down"}),
        httpx.Response(429, headers={"retry-after": later}),
        httpx.Response(200, json=OK_PAGE),
    )
    assert len(await read_all(client, "client")) == 1
    assert route.call_count == 3
    assert 7 <= sleep.waits[0] <= 7.8
    assert 28 <= sleep.waits[1] <= 31.5
    assert client.http.stats.rate_limited == 2


def test_retry_after_parsing():
    now = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    assert parse_retry_after("12", now) == 12
    assert parse_retry_after("Sun, 29 Nov 2026 21:00:30 GMT", now) == 30
    assert parse_retry_after("Sun, 29 Nov 2026 20:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(503, json={"message": "maintenance"}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.Response(200, content=b'{"total_result": 1, "da', headers={"content-length": "90"}),
        httpx.Response(200, content=b"not json, perhaps cut short"),
    ],
    ids=["500", "502", "503", "connect", "read-timeout", "dropped", "truncated", "not-json"],
)
async def test_transient_failures_of_reads_are_retried_with_backoff(fake, client, sleep, failure):
    route = fake.script("GET", "/client", failure, failure, httpx.Response(200, json=OK_PAGE))
    assert len(await read_all(client, "client")) == 1
    assert route.call_count == 3
    assert len(sleep.waits) == 2
    assert 0.5 <= sleep.waits[0] <= 1.0 and 1.0 <= sleep.waits[1] <= 1.5  # doubling, with jitter


async def test_truncated_body_is_a_clear_error_when_it_persists(fake, sleep):
    client = RepzoClient(settings(max_retry_wait="2s"), sleep=sleep)
    truncated = httpx.Response(200, content=b'{"data": [', headers={"content-length": "500"})
    fake.script("GET", "/client", truncated)
    with pytest.raises(RetryBudgetExhausted) as caught:
        await read_all(client, "client")
    assert isinstance(caught.value.last, MalformedBody)
    assert "cut short: 10 of 500 bytes" in caught.value.message
    assert sum(sleep.waits) <= 2


async def test_retry_budget_stops_the_call_cleanly(fake, sleep):
    client = RepzoClient(settings(max_retry_wait="10s"), sleep=sleep)
    route = fake.script("GET", "/client", httpx.Response(503))
    with pytest.raises(RetryBudgetExhausted) as caught:
        await read_all(client, "client")
    error = caught.value
    assert sum(sleep.waits) <= 10
    assert error.attempts == route.call_count >= 3
    assert error.status == 503 and error.exit_code == 3
    assert "max_retry_wait is 10s" in error.message


async def test_a_retry_after_longer_than_the_budget_gives_up_without_waiting(fake, sleep):
    client = RepzoClient(settings(max_retry_wait="1m"), sleep=sleep)
    fake.script("GET", "/client", httpx.Response(429, headers={"retry-after": "3600"}))
    with pytest.raises(RetryBudgetExhausted) as caught:
        await read_all(client, "client")
    assert sleep.waits == []
    assert "repzo asked to wait 3600s before trying again (Retry-After)" in caught.value.message


async def test_validation_error_is_skippable_with_repzo_message_and_not_retried(fake, client):
    route = fake.script(
        "POST",
        "/client",
        httpx.Response(400, json={"message": "name is required", "code": "VALIDATION"}),
    )
    with pytest.raises(SkippableRemoteError) as caught:
        await client.create(client.resource("client"), {"client_code": "C-1"})
    error = caught.value
    assert (error.status, error.code, error.remote_message) == (
        400,
        "VALIDATION",
        "name is required",
    )
    assert error.message == "repzo rejected the record as invalid: name is required"
    assert route.call_count == 1
    assert API_KEY not in str(error.fields())


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_fatal_and_not_retried(fake, client, status):
    route = fake.script("GET", "/client", httpx.Response(status, json={"message": "Unauthorized"}))
    with pytest.raises(FatalRemoteError) as caught:
        await read_all(client, "client")
    assert caught.value.status == status and route.call_count == 1
    assert "check the API key" in caught.value.message or "lack permission" in caught.value.message


async def test_404_on_a_list_is_fatal_but_on_a_record_means_absent(fake, client):
    fake.script("GET", "/client", httpx.Response(404, json={"message": "Cannot GET /client"}))
    fake.script("GET", f"/client/{oid(1)}", httpx.Response(404, json={"message": "not found"}))
    with pytest.raises(FatalRemoteError, match="no such collection"):
        await read_all(client, "client")
    assert await client.get(client.resource("client"), oid(1)) is None


async def test_create_that_times_out_is_uncertain_and_not_retried_blindly(fake, client):
    route = fake.script("POST", "/client", httpx.ReadTimeout("no answer"))
    with pytest.raises(UncertainWrite, match="may or may not have been applied"):
        await client.create(client.resource("client"), {"name": "A"})
    assert route.call_count == 1


async def test_create_whose_answer_is_cut_short_is_uncertain_and_not_sent_again(fake, client):
    cut = httpx.Response(201, content=b'{"_id": "65', headers={"content-length": "90"})
    route = fake.script("POST", "/client", cut, httpx.Response(201, json=CLIENTS[0]))
    with pytest.raises(UncertainWrite, match="may or may not have been applied"):
        await client.create(client.resource("client"), {"name": "A"})
    assert route.call_count == 1


async def test_create_that_never_reached_the_server_is_retried(fake, client):
    route = fake.script(
        "POST", "/client", httpx.ConnectError("refused"), httpx.Response(201, json=CLIENTS[0])
    )
    created = await client.create(client.resource("client"), {"name": "A"})
    assert created["_id"] == oid(1) and route.call_count == 2


async def test_updates_and_deletes_are_idempotent_and_retried(fake, client):
    put = fake.script(
        "PUT", f"/client/{oid(1)}", httpx.ReadTimeout("x"), httpx.Response(200, json=CLIENTS[0])
    )
    delete = fake.script(
        "DELETE",
        f"/client/{oid(1)}",
        httpx.Response(502),
        httpx.Response(200, json={**CLIENTS[0], "disabled": True}),
    )
    assert (await client.update(client.resource("client"), oid(1), {"name": "B"}))["_id"] == oid(1)
    assert (await client.delete(client.resource("client"), oid(1)))["disabled"] is True  # type: ignore[index]
    assert put.call_count == 2 and delete.call_count == 2


async def test_update_integration_meta_is_a_post_not_a_put(fake, client):
    route = fake.script("POST", "/update-integration-meta", httpx.Response(200, json={"ok": True}))
    await client.update_integration_meta(
        client.resource("client"), oid(1), {"id": "demo_C-1", "erp_id": "C-1"}
    )
    request = fake.requests[0]
    assert request.url.params["_id"] == oid(1) and request.url.params["type"] == "clients"
    assert json.loads(request.content) == [
        {"key": "id", "value": "demo_C-1"},
        {"key": "erp_id", "value": "C-1"},
    ]
    assert route.call_count == 1


async def test_integration_meta_of_a_resource_without_a_meta_type_is_merged_into_a_put(
    fake, client
):
    product = {"_id": oid(5), "name": "P", "integration_meta": {"sap_id": "S-5"}}
    fake.script("GET", f"/product/{oid(5)}", httpx.Response(200, json=product))
    put = fake.script("PUT", f"/product/{oid(5)}", httpx.Response(200, json=product))
    await client.update_integration_meta(client.resource("product"), oid(5), {"id": "demo_P-5"})
    # The keys another integration keeps there survive: the whole map is sent back merged.
    assert json.loads(put.calls[0].request.content) == {
        "integration_meta": {"sap_id": "S-5", "id": "demo_P-5"}
    }


async def test_integration_meta_of_a_rep_is_set_by_dotted_keys(fake, client):
    put = fake.script("PUT", f"/rep/{oid(6)}", httpx.Response(200, json={"_id": oid(6)}))
    await client.update_integration_meta(client.resource("rep"), oid(6), {"id": "demo_R-6"})
    assert json.loads(put.calls[0].request.content) == {"integration_meta.id": "demo_R-6"}


async def test_an_upper_bound_the_sdk_does_not_list_is_not_sent(fake, client):
    fake.collection("/variant", CLIENTS)
    start = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    await read_all(client, "variant", updated_from=start, updated_to=start + timedelta(hours=1))
    for request in fake.requests:
        assert "to_updatedAt" not in request.url.params  # variant's Find has no to_updatedAt
        assert "sortBy" not in request.url.params and "from__id" not in request.url.params
    assert fake.requests[0].url.params["from_updatedAt"] == str(int(start.timestamp() * 1000))


async def test_a_filter_the_sdk_does_not_list_is_refused_before_it_is_sent(client):
    with pytest.raises(
        UnsupportedQuery, match=r"cannot be filtered by serial_number\.formatted"
    ) as raised:
        await read_all(
            client, "integration-command-log", filters={"serial_number.formatted": "INV-1"}
        )
    error = raised.value
    assert error.parameters == ("serial_number.formatted",) and error.exit_code == 2
    assert error.resource == "integration-command-log" and "sync_id" in error.message


async def test_logs_are_saved_whole_and_found_by_sync_id(fake, client):
    document = {"sync_id": "s-1", "command": "customers", "status": "processing", "details": []}
    fake.script(
        "POST",
        "/integration-command-log",
        httpx.ReadTimeout("x"),
        httpx.Response(200, json=document),
    )
    fake.collection("/integration-command-log", [{"_id": oid(9), **document}])
    await client.save_log("command", document)  # an upsert by sync_id: safe to retry
    found = await client.find_log("command", "s-1")
    assert found is not None and found["sync_id"] == "s-1"
    assert fake.requests[-1].url.params["sync_id"] == "s-1"


def test_object_id_bound():
    moment = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    assert object_id_at(moment) == f"{int(moment.timestamp()):08x}0000000000000000"


async def test_limit_offset_with_a_pagination_object(fake, client):
    # No registry resource answers this way today; the client still reads the shape correctly.
    rows = [{"_id": oid(n)} for n in range(1, 6)]

    def answer(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        body = {
            "success": True,
            "data": rows[offset : offset + limit],
            "pagination": {"total": len(rows), "limit": limit, "offset": offset},
        }
        return httpx.Response(200, json=body)

    route = fake.router.get("/asset-part").mock(side_effect=answer)
    resource = client.resource("asset-part").model_copy(
        update={"list_style": "limit_offset_pagination"}
    )
    found = [r async for page in client.pages(resource) for r in page.records]
    assert [r["_id"] for r in found] == [row["_id"] for row in rows]
    assert route.call_count == 2  # 3 + 2, and the total says there is no third page


def test_a_certificate_problem_is_not_an_outage():
    request = httpx.Request("GET", "https://repzo.test/client")
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed")
        except ssl.SSLError as cause:
            raise httpx.ConnectError("TLS failed", request=request) from cause
    except httpx.ConnectError as wrapped:
        resolution = DEFAULT_TABLE.for_exception(wrapped)
    assert resolution.action is Action.FAIL_RUN  # retrying cannot fix a certificate
    assert "not trusted" in resolution.sentence and "not an outage" in resolution.sentence
    plain = httpx.ConnectError("refused", request=request)
    assert DEFAULT_TABLE.for_exception(plain).action is Action.UNREACHABLE


async def test_https_to_a_server_that_does_not_speak_tls_fails_at_once(sleep):
    from sandboxes.repzo import RepzoSandbox

    with RepzoSandbox(api_key=API_KEY) as server:
        url = server.url.replace("http://", "https://")
        client = RepzoClient(settings(base_url=url), sleep=sleep)
        try:
            with pytest.raises(FatalRemoteError) as raised:
                await read_all(client, "client")
        finally:
            await client.aclose()
    assert sleep.waits == []
    assert "TLS handshake with repzo" in raised.value.message


async def test_a_web_page_instead_of_json_fails_at_once(fake, client, sleep):
    route = fake.router.get("/client").mock(
        return_value=httpx.Response(
            200, content=b"<html>Sign in</html>", headers={"content-type": "text/html"}
        )
    )
    with pytest.raises(FatalRemoteError, match="answered with a web page") as raised:
        await read_all(client, "client")
    assert route.call_count == 1 and sleep.waits == []  # the same page would come back
    assert "base_url" in raised.value.message
