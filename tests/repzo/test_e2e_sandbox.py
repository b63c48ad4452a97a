"""The Repzo connector end to end, over real HTTP, against the sandbox Repzo server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from connectors.repzo import RepzoConnector, RepzoSettings
from connectors.repzo.integration_logs import ActionLog, AppIdentity, CommandLog
from sandboxes.repzo import RepzoSandbox
from syncer.cli import app
from syncer.connector import ReadRequest, WriteOp

pytestmark = pytest.mark.anyio

KEY = "rk-e2e-4b1c9d"
T0 = 1_796_000_000_000  # ms; the sandbox clock is frozen here unless a test moves it
MARGIN = timedelta(seconds=2)
"""What the engine subtracts from the server's clock to fix a scan's upper bound."""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RepzoSandbox]:
    with RepzoSandbox(api_key=KEY) as server:
        yield server


@pytest.fixture
def repzo(sandbox: RepzoSandbox) -> Iterator[RepzoSandbox]:
    sandbox.reset()
    sandbox.clock.freeze(T0)
    yield sandbox
    sandbox.reset()


class RecordedSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def connect(
    sandbox: RepzoSandbox, sleep: RecordedSleep | None = None, **overrides
) -> RepzoConnector:
    values = {"base_url": sandbox.url, "api_key": SecretStr(KEY), "page_size": 500, **overrides}
    settings = RepzoSettings.model_validate(values)
    return RepzoConnector("repzo", settings, sleep=sleep or asyncio.sleep)


async def read_ids(connector: RepzoConnector, stream: str, request: ReadRequest) -> list[str]:
    ids: list[str] = []
    async for page in connector.read(stream, request):
        ids.extend(record["_id"] for record in page.records)
    return ids


async def scan_bound(connector: RepzoConnector):
    """An engine-style upper bound: the server's clock minus a margin, fixed before reading."""
    return (await connector.server_time()) - MARGIN


async def test_full_read_of_10k_clients_in_stable_order_without_gaps_or_repeats(repzo):
    seeded = repzo.seed("client", 10_000)
    connector = connect(repzo)
    try:
        ids = await read_ids(connector, "client", ReadRequest())
    finally:
        await connector.aclose()
    assert ids == sorted(seeded)
    assert len(set(ids)) == 10_000
    # The connector asks for 500 a page and the server serves 100 (as 16 spec files say):
    # 100 full pages, read to the end; the last says it is the last (next_page_url null), so
    # there is no empty 101st request.
    assert repzo.stats().count(method="GET", resource="client") == 100


async def test_incremental_read_returns_exactly_the_changed_records(repzo):
    seeded = repzo.seed("client", 1_000)
    connector = connect(repzo)
    try:
        repzo.clock.freeze(T0 + 10_000)
        first_bound = await scan_bound(connector)
        assert (
            len(await read_ids(connector, "client", ReadRequest(updated_to=first_bound))) == 1_000
        )

        repzo.clock.freeze(T0 + 20_000)
        changed = sorted(seeded[5:12])
        repzo.touch("client", changed)
        repzo.clock.freeze(T0 + 30_000)
        second_bound = await scan_bound(connector)
        window = ReadRequest(updated_from=first_bound, updated_to=second_bound)
        assert await read_ids(connector, "client", window) == changed
    finally:
        await connector.aclose()


@pytest.mark.parametrize("among", ["returned", "pending"])
async def test_a_record_updated_while_paging_is_not_lost_across_two_reads(repzo, among):
    seeded = repzo.seed("client", 3_000, updated_at=T0 - 60_000)
    repzo.clock.unfreeze()
    repzo.clock.set_offset(T0 - int(time.time() * 1000))
    connector = connect(repzo)
    try:
        first_bound = await scan_bound(connector)
        repzo.mutate_while_paging("client", on_request=3, count=25, among=among, seed=3)
        first = await read_ids(connector, "client", ReadRequest(updated_to=first_bound))
        mutated = sorted(repzo.stats().mutations["client"])
        assert len(mutated) == 25
        await asyncio.sleep(MARGIN.total_seconds() + 1.1)  # let the bound pass the mutations
        second_bound = await scan_bound(connector)
        second = await read_ids(
            connector, "client", ReadRequest(updated_from=first_bound, updated_to=second_bound)
        )
    finally:
        await connector.aclose()
    assert second == mutated  # every changed record arrives in the next read
    assert set(first) | set(second) == set(seeded)  # and nothing is lost
    if among == "pending":
        assert not set(first) & set(mutated)  # they had left the first window: read once, later


async def test_thirty_percent_429s_still_completes_and_waits_as_told(repzo):
    seeded = repzo.seed("client", 2_000)
    repzo.set_faults(rate_429=0.3, retry_after=1, seed=11)
    sleep = RecordedSleep()
    connector = connect(repzo, sleep, page_size=100)
    try:
        started = time.monotonic()
        ids = await read_ids(connector, "client", ReadRequest())
        elapsed = time.monotonic() - started
    finally:
        await connector.aclose()
    assert ids == sorted(seeded)
    throttled = repzo.stats().faults.get("429", 0)
    assert throttled >= 3
    assert connector.client.http.stats.rate_limited == throttled
    assert len(sleep.waits) == throttled and all(wait >= 1.0 for wait in sleep.waits)
    assert elapsed >= throttled * 1.0


async def test_reads_survive_5xx_dropped_connections_and_truncated_bodies(repzo):
    seeded = repzo.seed("client", 1_500)
    repzo.set_faults(rate_5xx=0.15, rate_drop=0.1, rate_truncate=0.1, seed=5)
    connector = connect(repzo, page_size=100)
    connector.client.http.retry = connector.client.http.retry.__class__(
        initial_wait=0.01, jitter=0.01
    )
    try:
        ids = await read_ids(connector, "client", ReadRequest())
    finally:
        await connector.aclose()
    assert ids == sorted(seeded)
    faults = repzo.stats().faults
    assert sum(faults.values()) >= 3, faults
    assert connector.client.http.stats.retries == sum(faults.values())


async def test_create_update_disable_round_trip(repzo):
    connector = connect(repzo)
    try:
        [created] = await connector.write(
            "client", [WriteOp("create", {"name": "Al Noor Market", "client_code": "C-1"}, ref="a")]
        )
        assert created.outcome == "created"
        stored = await connector.get("client", created.native_id)
        assert stored["name"] == "Al Noor Market" and stored["disabled"] is False
        assert stored["createdAt"] == stored["updatedAt"]

        repzo.clock.freeze(T0 + 5_000)
        [updated] = await connector.write(
            "client", [WriteOp("update", {"name": "Al Noor"}, ref="a", native_id=created.native_id)]
        )
        assert (
            updated.record["name"] == "Al Noor"
            and updated.record["updatedAt"] > stored["updatedAt"]
        )

        [deleted] = await connector.write(
            "client", [WriteOp("delete", {}, ref="a", native_id=created.native_id)]
        )
        assert deleted.outcome == "deleted"
        assert (await connector.get("client", created.native_id))["disabled"] is True

        [refused] = await connector.write(
            "client", [WriteOp("create", {"client_code": "C-2"}, ref="b")]
        )
        assert refused.outcome == "failed"
        assert refused.error.status == 400 and "name" in refused.error.remote_message
    finally:
        await connector.aclose()


async def test_write_back_of_an_external_id_does_not_look_like_a_change(repzo):
    [client_id] = repzo.seed("client", 1)
    connector = connect(repzo)
    try:
        before = await connector.get("client", client_id)
        repzo.clock.freeze(T0 + 60_000)
        client = connector.client
        await client.update_integration_meta(
            client.resource("client"), client_id, {"erp_id": "C-00042"}
        )
        after = await connector.get("client", client_id)
    finally:
        await connector.aclose()
    assert after["integration_meta"]["erp_id"] == "C-00042"
    assert after["updatedAt"] == before["updatedAt"]
    stats = repzo.stats()
    assert stats.meta_updates.get("client") == 1 and not stats.change_events.get("client")


async def test_logs_appear_in_repzo_with_the_sdk_fields(repzo):
    connector = connect(repzo)
    identity = AppIdentity(
        app_id="65f0c2a1b3c4d5e6f7a8b9c0",
        available_app_id="65f0c2a1b3c4d5e6f7a8b9c1",
        company_namespace=("demo",),
    )
    command = CommandLog(identity, "customers-erp-to-repzo", sync_id="run-1")
    action = ActionLog(identity, "create_invoice", sync_id="act-1")
    try:
        command.set_status("processing")
        command.add_detail("started")
        await connector.client.save_log("command", command.document())
        command.add_detail("wrote 10")
        command.body = {"created": 10, "updated": 0, "unchanged": 0, "failed": 0}
        command.set_status("success")
        await connector.client.save_log("command", command.document())
        action.add_detail("Invoice INV-1-1")
        action.add_detail("ERP accepted SI-9")
        action.set_status("success")
        await connector.client.save_log("action", action.document())
        stored = await connector.client.find_log("command", "run-1")
        stored_action = await connector.client.find_log("action", "act-1")
    finally:
        await connector.aclose()
    assert len(repzo.documents("integration-command-log")) == 1  # upserted by sync_id
    assert stored["status"] == "success" and stored["body"]["created"] == 10
    assert [d["content"] for d in stored["details"]] == ["started", "wrote 10"]  # appended
    for key in (
        "app_id",
        "available_app_id",
        "available_app_name",
        "company_namespace",
        "command",
        "start_time",
        "end_time",
        "total_time",
        "message",
    ):
        assert key in stored, key
    assert [d["content"] for d in stored_action["details"]] == [
        "Invoice INV-1-1",
        "ERP accepted SI-9",
    ]


def test_check_with_a_wrong_key_exits_3(repzo, runner, write_config):
    path = write_config(
        f"""
        connectors:
          repzo: {{type: repzo, base_url: "{repzo.url}", api_key: rk-wrong-key-00}}
        """
    )
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 3
    assert "refused the API key (401)" in result.stderr
    assert "rk-wrong-key-00" not in result.output
    good = write_config(
        f"""
        connectors:
          repzo: {{type: repzo, base_url: "{repzo.url}", api_key: {KEY}}}
        """,
        name="good.yaml",
    )
    ok = runner.invoke(app, ["check", "--config", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "accepted the API key" in ok.output


# -- what the strict sandbox checks: only what the SDK has -------------------------------

WRITE_BACK_STREAMS = [
    "client", "product", "variant", "pricelists", "pricelistsitems", "tax", "warehouse", "rep",
    "product-category", "fullinvoices", "payments", "refund", "proforma", "transfer",
]  # fmt: skip


@pytest.mark.parametrize("stream", WRITE_BACK_STREAMS)
async def test_keys_are_written_back_to_every_synced_resource_keeping_the_others(repzo, stream):
    resource = connect(repzo).client.resource(stream)
    [doc_id] = repzo.insert(
        resource.name, [{"name": "x", "integration_meta": {"other_app_id": "O-1"}}]
    )
    before = repzo.documents(resource.name)[0]
    connector = connect(repzo)
    try:
        await connector.annotate(stream, doc_id, {"integration_meta.id": "demo_K-1"})
    finally:
        await connector.aclose()
    [after] = repzo.documents(resource.name)
    assert after["integration_meta"] == {"other_app_id": "O-1", "id": "demo_K-1"}
    meta_posts = repzo.stats().count(method="POST", resource="update-integration-meta")
    if resource.meta_type is not None:  # the webhook-free way, which leaves updatedAt alone
        assert meta_posts == 1 and after["updatedAt"] == before["updatedAt"]
    else:  # no known type: a PUT, never an update-integration-meta the server would refuse
        assert meta_posts == 0 and repzo.stats().count(method="PUT") == 1


async def test_an_incremental_variant_scan_never_sends_to_updated_at(repzo):
    seeded = repzo.seed("variant", 30)
    connector = connect(repzo)
    try:
        repzo.clock.freeze(T0 + 10_000)
        bound = await scan_bound(connector)
        repzo.clock.freeze(T0 + 20_000)
        repzo.touch("variant", seeded[:3])  # changed after the bound: the next scan's
        request = ReadRequest(updated_from=bound - timedelta(hours=1), updated_to=bound)
        pages = [page async for page in connector.read("variant", request)]
    finally:
        await connector.aclose()
    # The strict sandbox answers 400 to a to_updatedAt the SDK does not list for variant, so
    # reaching here means it was not sent. The three edited after the bound are left out by
    # the connector itself: the next scan, which starts at or before the bound, reads them.
    returned = {record["_id"] for page in pages for record in page.records}
    assert returned == set(seeded[3:])
    assert repzo.stats().count(method="GET", resource="variant", status=400) == 0


async def test_an_adjustment_sent_twice_after_a_lost_answer_is_applied_once(repzo):
    [warehouse] = repzo.insert("warehouse", [{"name": "Van 1", "type": "van"}])
    connector = connect(repzo)
    body = {"time": T0, "to": warehouse, "variants": [{"variant": "v-1", "qty": 5}]}
    # The server stores the adjustment, then the connection drops before the answer.
    repzo.script_fault("drop", 1, method="POST", path="/adjust-inventory", after=True)
    try:
        [result] = await connector.write(
            "adjust-inventory", [WriteOp("create", body, ref="stock-1")]
        )
    finally:
        await connector.aclose()
    [stored] = repzo.documents("adjust-inventory")  # once, not twice
    assert result.outcome == "created" and result.native_id == stored["_id"]
    # Found by its sync_id (which the SDK's AdjustInventory Find lists) instead of re-sent.
    assert stored["sync_id"].startswith("syncer-")


@pytest.fixture
def shifting() -> Iterator[RepzoSandbox]:
    """A sandbox whose lists, asked for no order, come least recently updated first: an edit
    moves a record to the end while a client pages, and everything behind it up one place."""
    with RepzoSandbox(api_key=KEY, implicit_order="updated") as server:
        server.clock.freeze(T0)
        yield server


async def read_pricelist_items(sandbox: RepzoSandbox, *, verify: bool) -> list[str]:
    connector = connect(sandbox, page_size=100)
    resource = connector.client.resource("pricelistsitems")
    ids: list[str] = []
    try:
        async for page in connector.client.pages(resource, verify=verify):
            ids.extend(record["_id"] for record in page.records)
    finally:
        await connector.aclose()
    return ids


@pytest.mark.parametrize("verify", [True, False])
async def test_a_page_number_listing_whose_order_shifts_is_read_again_for_what_moved(
    shifting, verify
):
    seeded = shifting.seed("pricelistitem", 350)
    # pricelistsitems has neither sortBy nor from__id in the SDK: page numbers, in the server's
    # own order. Once page 1 is read, two of its records are edited and move to the end.
    shifting.clock.advance(1_000)
    shifting.mutate_while_paging("pricelistitem", on_request=2, count=2, among="returned")
    ids = await read_pricelist_items(shifting, verify=verify)
    if verify:
        assert sorted(set(ids)) == sorted(seeded) and len(ids) == len(set(ids))
    else:  # what the recount is for: plain page numbers skip the two shifted onto page 1
        assert len(set(seeded) - set(ids)) == 2
