"""The erp_stub connector end to end, over real HTTP, against the ERP stub server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from connectors.erp_stub import ErpStubConnector, ErpStubSettings
from sandboxes.erp import ErpStub
from syncer.cli import app
from syncer.connector import Connector, ReadRequest, WriteOp
from syncer.remote.errors import SkippableRemoteError

pytestmark = pytest.mark.anyio

USER, PASSWORD = "sync", "erp-e2e-pw-771"


@pytest.fixture
def erp() -> Iterator[ErpStub]:
    with ErpStub(username=USER, password=PASSWORD, seed={"customers": 250, "items": 30}) as server:
        yield server


def connect(erp: ErpStub, password: str = PASSWORD) -> ErpStubConnector:
    settings = ErpStubSettings(
        base_url=erp.url,  # type: ignore[arg-type]
        username=USER,
        password=SecretStr(password),
    )
    return ErpStubConnector("erp", settings)


async def read_all(connector: ErpStubConnector, stream: str, request: ReadRequest) -> list[dict]:
    return [r async for page in connector.read(stream, request) for r in page.records]


async def test_reads_every_customer_once_in_updated_order(erp):
    connector = connect(erp)
    try:
        assert isinstance(connector, Connector)
        rows = await read_all(connector, "customers", ReadRequest(page_size=40))
    finally:
        await connector.aclose()
    assert len(rows) == len({r["id"] for r in rows}) == 250
    assert [(r["updated_at"], r["id"]) for r in rows] == sorted(
        (r["updated_at"], r["id"]) for r in rows
    )
    assert rows[0]["updated_at"].endswith("+03:00")
    assert connector.http.stats.requests["GET"] == 7  # 250 / 40, pages of cursor


async def test_a_scan_resumes_from_its_position(erp):
    connector = connect(erp)
    try:
        pages = connector.read("customers", ReadRequest(page_size=100))
        first = await anext(pages)
        await pages.aclose()
        rest = await read_all(
            connector, "customers", ReadRequest(page_size=100, after=first.position)
        )
    finally:
        await connector.aclose()
    ids = [r["id"] for r in first.records] + [r["id"] for r in rest]
    assert len(ids) == len(set(ids)) == 250


async def test_mutations_appear_exactly_in_the_next_incremental_read(erp):
    connector = connect(erp)
    try:
        await read_all(connector, "customers", ReadRequest())
        bound = await connector.server_time()
        erp.clock.advance(5_000)
        changed = erp.mutate(customers=12, items=4, seed=3)
        erp.clock.advance(5_000)
        second_bound = await connector.server_time()
        window = ReadRequest(updated_from=bound + timedelta(seconds=1), updated_to=second_bound)
        customers = await read_all(connector, "customers", window)
        items = await read_all(connector, "items", window)
    finally:
        await connector.aclose()
    assert sorted(r["id"] for r in customers) == sorted(changed["customers"])
    assert sorted(r["code"] for r in items) == sorted(changed["items"])


async def test_records_past_the_scan_bound_are_left_for_the_next_scan(erp):
    connector = connect(erp)
    try:
        bound = await connector.server_time()
        erp.clock.advance(10_000)
        later = erp.mutate(customers=3, seed=9)["customers"]
        rows = await read_all(connector, "customers", ReadRequest(updated_to=bound))
    finally:
        await connector.aclose()
    assert len(rows) == 247
    assert not {r["id"] for r in rows} & set(later)


async def test_create_update_and_deactivate_a_customer(erp):
    connector = connect(erp)
    try:
        [created] = await connector.write(
            "customers",
            [WriteOp("create", {"name": "Al Noor Market", "credit_limit": "1500.5"}, ref="a")],
        )
        assert created.outcome == "created" and created.native_id == "C-00251"
        assert created.record["credit_limit"] == "1500.500"
        [updated] = await connector.write(
            "customers",
            [
                WriteOp(
                    "update", {"address": {"city": "Irbid"}}, ref="a", native_id=created.native_id
                )
            ],
        )
        assert (
            updated.record["address"]["city"] == "Irbid"
            and updated.record["name"] == "Al Noor Market"
        )
        [deleted] = await connector.write(
            "customers", [WriteOp("delete", {}, ref="a", native_id=created.native_id)]
        )
        assert deleted.outcome == "deleted"
        assert (await connector.get("customers", created.native_id))["status"] == "inactive"
        assert await connector.get("customers", "C-99999") is None
    finally:
        await connector.aclose()


async def test_an_invoice_posted_twice_exists_once(erp):
    connector = connect(erp)
    customer = erp.records("customers")[0]["id"]
    item = erp.records("items")[0]["code"]
    invoice = {
        "number": "INV-1021-4",
        "customer": customer,
        "date": "2026-11-29",
        "total": "5.800",
        "lines": [
            {"item": item, "qty": "2", "unit_price": "2.500", "tax": "0.800", "total": "5.800"}
        ],
    }
    try:
        first, second = [
            (await connector.write("invoices", [WriteOp("create", invoice, ref="r")]))[0]
            for _ in range(2)
        ]
        found = await connector.lookup("invoices", "number", ["INV-1021-4"])
    finally:
        await connector.aclose()
    assert first.outcome == second.outcome == "created"
    assert first.native_id == second.native_id and first.native_id.startswith("SI-")
    assert [r["id"] for r in found] == [first.native_id]
    assert sum(1 for r in erp.records("invoices") if r["number"] == "INV-1021-4") == 1


async def test_a_refused_record_carries_the_erp_message_and_fields(erp):
    connector = connect(erp)
    try:
        [refused, accepted] = await connector.write(
            "customers",
            [
                WriteOp("create", {"credit_limit": "10"}, ref="bad"),
                WriteOp("create", {"name": "Zain"}, ref="ok"),
            ],
        )
    finally:
        await connector.aclose()
    assert refused.outcome == "failed" and accepted.outcome == "created"
    assert isinstance(refused.error, SkippableRemoteError)
    assert refused.error.status == 422 and refused.error.code == "validation_failed"
    assert "name" in refused.error.message


async def test_check(erp):
    good, bad = connect(erp), connect(erp, "wrong-password")
    try:
        ok, refused = await asyncio.gather(good.check(), bad.check())
    finally:
        await good.aclose()
        await bad.aclose()
    assert ok.ok and "accepted the user 'sync'" in ok.message
    assert not refused.ok and "refused user 'sync' (401)" in refused.message


def test_syncer_check_with_a_wrong_password_exits_3(erp, runner, write_config):
    path = write_config(
        f"""
        connectors:
          erp: {{type: erp_stub, base_url: "{erp.url}", username: {USER}, password: erp-wrong-pw-9}}
        """
    )
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 3
    assert "refused user 'sync' (401)" in result.stderr and "erp-wrong-pw-9" not in result.output
