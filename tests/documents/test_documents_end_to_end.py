"""Documents from Repzo reach the ERP whole and once, over HTTP: invoices with their tax,
discounts and cartons, returns as credit notes, payments with their currency, method, cheque
number and the invoice they settle, refunds by how the money went back. Each ERP document
adds up to Repzo's to the unit of 0.001, and the ERP's own number is kept on the Repzo
document."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandboxes.repzo.documents import Sold, invoice
from syncer.config import load_config
from syncer.config.models import SyncerConfig
from syncer.engine.engine import Engine
from syncer.engine.reconcile import Report, reconcile
from syncer.state.models import DeadLetter
from tests.documents.strategies import line_lists, sold_lines
from tests.engine.conftest import INVOICE_FLOWS, MASTER_DATA_FLOWS, T0_MS, World, store_for

SMALL = {"customers": 3, "items": 4, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
DOCUMENT_FLOWS = (
    INVOICE_FLOWS
    + """
- name: returns
  source: {connector: repzo, stream: fullinvoices, mapping: repzo/fullinvoices.returns.yaml}
  target: {connector: erp, stream: credit_notes}
  mode: create_only
- name: payments
  source: {connector: repzo, stream: payments}
  target: {connector: erp, stream: payments}
  mode: create_only
- name: refunds
  source: {connector: repzo, stream: refund}
  target: {connector: erp, stream: refunds}
  mode: create_only
"""
)
DOCUMENTS = ("invoices", "returns", "payments", "refunds")
THOUSAND = Decimal(1000)


def ready(world: World) -> SyncerConfig:
    world.erp.seed(**SMALL)
    world.erp.clock.freeze(T0_MS)
    config = world.config(DOCUMENT_FLOWS)
    results = world.sync(config, *MASTER_DATA_FLOWS)
    assert all(r.status == "succeeded" for r in results), [(r.flow, r.error) for r in results]
    return config


def sold(world: World, index: int, **amounts: Any) -> Sold:
    product = world.repzo.documents("product")[index]
    return Sold(
        variant_id=f"{index:024d}",
        product_id=product["_id"],
        product_name=product["name"],
        variant_name=product.get("sku") or product["name"],
        **amounts,
    )


def issue(
    world: World, number: str, sold_: list[Sold], returned: list[Sold] | None = None, **extra: Any
) -> dict:
    client = world.repzo.documents("client")[0]
    doc = invoice(
        number,
        client_id=client["_id"],
        client_name=client["name"],
        sold=sold_,
        returned=returned or [],
        **extra,
    )
    world.repzo.insert("fullinvoices", [doc])
    world.tick()
    return doc


def pay(world: World, number: str, settles: str, amount: int, **fields: Any) -> None:
    """A payment collected by Rep 7 from the first client for invoice ``settles``."""
    client = world.repzo.documents("client")[0]
    serial = {"formatted": number, "identifier": number, "count": 1}
    settled = {"formatted": settles, "identifier": settles, "count": 1}
    world.repzo.insert(
        "payments",
        [
            {
                "serial_number": serial,
                "client_id": client["_id"],
                "client_name": client["name"],
                "creator": {"_id": "6561a0c0e4b0a1b2c3d4e5f6", "type": "rep", "name": "Rep 7"},
                "amount": amount,
                "currency": "JOD",
                "paytime": "2026-11-30",
                "payment_type": "cash",
                "LinkedTxn": {
                    "Txn_serial_number": settled,
                    "Txn_invoice_total": amount,
                    "TxnType": "invoice",
                },
                **fields,
            }
        ],
    )


def retried(flow: str) -> Callable[[Engine], Awaitable[int]]:
    """Retry every pending dead letter of ``flow`` now; how many went through."""

    async def use(engine: Engine) -> int:
        return (await engine.retry_dead_letters(flow)).retried

    return use


def erp_documents(world: World, stream: str, number: str) -> list[dict]:
    return [doc for doc in world.erp.records(stream) if doc["number"] == number]


def money(value: str | int | Decimal) -> Decimal:
    return Decimal(str(value))


def assert_lines_match(erp: dict, items: list[dict]) -> None:
    assert len(erp["lines"]) == len(items)
    for line, item in zip(erp["lines"], items, strict=True):
        factor = item["measureunit"]["factor"]
        assert money(line["qty"]) == money(item["qty"])
        assert money(line["unit_price"]) == Decimal(item["price"]) * factor / THOUSAND
        assert money(line["tax"]) == Decimal(item["tax_total"]) / THOUSAND
        assert money(line["total"]) == Decimal(item["line_total"]) / THOUSAND
        assert bool(line.get("tax_included")) == (item["tax"]["type"] == "inclusive")


def test_a_van_sales_day_reaches_the_erp_whole_and_once(world: World) -> None:
    config = ready(world)
    discounted = issue(
        world,
        "INV-1",
        [
            sold(
                world,
                0,
                qty=Decimal(2),
                price=2522,
                discount_percent=Decimal(10),
                tax_rate=Decimal(16),
            ),
            sold(world, 1, qty=Decimal(3), price=450, factor=24, unit="CTN", tax_rate=Decimal(16)),
            sold(world, 2, qty=Decimal(1), price=1005, discount_percent=Decimal(100)),
        ],
    )
    inclusive = issue(
        world,
        "INV-2",
        [sold(world, 3, qty=Decimal(2), price=1160, tax_rate=Decimal(16), tax_type="inclusive")],
        currency="USD",
    )
    mixed = issue(
        world,
        "INV-3",
        [sold(world, 0, qty=Decimal(5), price=333, tax_rate=Decimal(16))],
        [sold(world, 1, qty=Decimal(1), price=900, tax_rate=Decimal(16))],
    )
    returned = issue(
        world, "INV-4", [], [sold(world, 2, qty=Decimal("0.5"), price=1999, tax_rate=Decimal(4))]
    )
    free = issue(
        world, "INV-5", [sold(world, 3, qty=Decimal(4), price=700, discount_percent=Decimal(100))]
    )
    corrected = issue(
        world,
        "INV-6",
        [
            sold(world, 0, qty=Decimal(3), price=1250, tax_rate=Decimal(16)),
            sold(world, 0, qty=Decimal(-1), price=1250, tax_rate=Decimal(16)),  # a correction
        ],
    )

    results = world.sync(config, *DOCUMENTS)
    assert [r.counts.failed for r in results] == [0, 0, 0, 0], [r.error for r in results]

    for doc in (discounted, inclusive, mixed, free, corrected):
        [erp] = erp_documents(world, "invoices", doc["serial_number"]["formatted"])
        assert money(erp["total"]) == Decimal(doc["pre_total"]) / THOUSAND
        assert money(erp["tax"]) == Decimal(doc["pre_tax_amount"]) / THOUSAND
        assert erp["currency"] == doc["currency"]
        assert erp["salesperson"] == "Rep 7"
        assert_lines_match(erp, doc["items"])
    for doc in (mixed, returned):
        [note] = erp_documents(world, "credit_notes", doc["serial_number"]["formatted"])
        assert money(note["total"]) == Decimal(doc["return_total"]) / THOUSAND
        assert_lines_match(note, doc["return_items"])
    assert erp_documents(world, "invoices", "INV-4") == []  # returns only: no invoice
    assert erp_documents(world, "credit_notes", "INV-1") == []

    # The ERP's own numbers are kept on the Repzo documents, each under a key of its own.
    by_number = {d["serial_number"]["formatted"]: d for d in world.repzo.documents("fullinvoices")}
    [erp_mixed] = erp_documents(world, "invoices", "INV-3")
    [note_mixed] = erp_documents(world, "credit_notes", "INV-3")
    meta = by_number["INV-3"]["integration_meta"]
    assert (meta["erp_invoice_id"], meta["erp_credit_note_id"]) == (
        erp_mixed["id"],
        note_mixed["id"],
    )
    assert meta["id"] == "demo_INV-3"

    # Once: a second sync posts nothing.
    world.tick()
    again = world.sync(config, *DOCUMENTS)
    assert sum(r.counts.created for r in again) == 0
    assert len(world.erp.records("invoices")) == 5 and len(world.erp.records("credit_notes")) == 2


def test_payments_keep_currency_method_cheque_and_the_invoice_they_settle(world: World) -> None:
    config = ready(world)
    issue(world, "INV-9", [sold(world, 0, qty=Decimal(1), price=12345)])
    pay(
        world,
        "PAY-1",
        "INV-9",
        12345,
        currency="USD",
        payment_type="check",
        check={"check_number": 1002345, "bank": "Arab Bank", "drawer_name": "Shop"},
    )
    client = world.repzo.documents("client")[0]
    world.repzo.insert(
        "refund",
        [
            {
                "serial_number": {"formatted": "RF-1", "identifier": "RF-1", "count": 1},
                "client_id": client["_id"],
                "client_name": client["name"],
                "amount": 2500,
                "currency": "JOD",
                "paytime": "2026-11-30",
                "transaction_type": "check",
                "check": {"check_number": 77, "bank": "Arab Bank", "drawer_name": "Van 3"},
            }
        ],
    )
    world.tick()
    results = world.sync(config, *DOCUMENTS)
    assert [r.counts.failed for r in results] == [0, 0, 0, 0], [r.error for r in results]

    [erp_invoice] = erp_documents(world, "invoices", "INV-9")
    [payment] = erp_documents(world, "payments", "PAY-1")
    assert (payment["amount"], payment["currency"], payment["method"]) == (
        "12.345",
        "USD",
        "cheque",
    )
    assert payment["reference"] == "1002345"
    assert payment["invoice"] == erp_invoice["id"]
    assert payment["salesperson"] == "Rep 7"
    [refund] = erp_documents(world, "refunds", "RF-1")
    assert (refund["amount"], refund["method"], refund["reference"]) == ("2.500", "cheque", "77")


def test_a_payment_read_before_its_invoice_waits_for_it(world: World) -> None:
    """The invoice it settles is pushed by the invoices flow; until then the payment waits."""
    config = ready(world)
    issue(world, "INV-7", [sold(world, 0, qty=Decimal(1), price=5000)])
    pay(world, "PAY-7", "INV-7", 5000)
    world.tick()
    [early] = world.sync(config, "payments")
    assert early.counts.failed == 1
    assert erp_documents(world, "payments", "PAY-7") == []

    world.sync(config, "invoices")
    went_through = world.with_engine(config, retried("payments"))
    assert went_through == 1
    [payment] = erp_documents(world, "payments", "PAY-7")
    assert payment["invoice"] == erp_documents(world, "invoices", "INV-7")[0]["id"]


def test_a_document_that_does_not_add_up_is_never_posted(world: World) -> None:
    config = ready(world)
    doc = invoice(
        "INV-8",
        client_id=world.repzo.documents("client")[0]["_id"],
        client_name="Shop",
        sold=[sold(world, 0, qty=Decimal(1), price=5000)],
    )
    doc["pre_total"] = doc["total"] = 4500  # a deduction on the whole document
    world.repzo.insert("fullinvoices", [doc])
    world.tick()
    [run] = world.sync(config, "invoices")
    assert run.counts.failed == 1 and erp_documents(world, "invoices", "INV-8") == []
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            [letter] = session.query(DeadLetter).all()
    finally:
        store.close()
    assert "the lines add up to 5.000, but the document says 4.500" in letter.reason


def test_an_invoice_from_a_warehouse_nothing_syncs_says_so_and_stops_waiting(world: World) -> None:
    config = ready(world)
    path = world.folder / "syncer.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "    mode: create_only\n", "    mode: create_only\n    reference_wait: 1s\n", 1
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    issue(world, "INV-6", [sold(world, 0, qty=Decimal(1), price=5000)], warehouse="6" * 24)
    [first] = world.sync(config, "invoices")
    assert first.counts.failed == 1

    def reason() -> str:
        store = store_for(world.store_url)
        try:
            with store.session() as session:
                [letter] = session.query(DeadLetter).all()
                return letter.reason
        finally:
            store.close()

    assert reason().startswith("waiting for warehouse")
    assert "no flow syncs warehouse records between erp and repzo" in reason()
    time.sleep(1.2)
    world.with_engine(config, retried("invoices"))
    assert reason().startswith("gave up waiting after")


@pytest.mark.parametrize("currency", ["JOD", "USD"])
def test_late_evening_on_the_last_day_of_the_month_keeps_its_business_date(
    world: World, currency: str
) -> None:
    """Issued at 23:30 in Amman on 30 November (20:30 UTC): the ERP's date is still the 30th."""
    config = ready(world)
    client = world.repzo.documents("client")[0]
    doc = invoice(
        "INV-30",
        client_id=client["_id"],
        client_name=client["name"],
        sold=[sold(world, 0, qty=Decimal(1), price=1000)],
        issue_date="2026-11-30",
        currency=currency,
    )
    world.repzo.insert("fullinvoices", [{**doc, "createdAt": "2026-11-30T20:30:00.000Z"}])
    world.tick()
    world.sync(config, "invoices")
    [erp] = erp_documents(world, "invoices", "INV-30")
    assert (erp["date"], erp["currency"]) == ("2026-11-30", currency)


def reconciled(world: World, config: SyncerConfig, flow: str) -> Report:
    return world.with_engine(config, lambda engine: reconcile(engine.context, config.flow(flow)))


def test_reconcile_finds_the_erp_equal_to_repzo(world: World) -> None:
    config = ready(world)
    issue(
        world,
        "INV-11",
        [
            sold(
                world,
                0,
                qty=Decimal(2),
                price=2522,
                discount_percent=Decimal(10),
                tax_rate=Decimal(16),
            )
        ],
        [sold(world, 1, qty=Decimal(1), price=900, tax_rate=Decimal(16), tax_type="inclusive")],
    )
    world.sync(config, *DOCUMENTS)
    world.tick()
    for flow, documents in (("invoices", 1), ("returns", 1)):
        report = reconciled(world, config, flow)
        assert (report.checked, report.count("equal")) == (documents, documents), report.as_dict()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_invoices_reach_the_erp_to_the_thousandth(world: World, data: st.DataObject) -> None:
    """Random valid invoices, sale and return lines, through HTTP: the ERP's invoice and credit
    note equal Repzo's, line by line and in total, to the unit of 0.001."""
    if not world.repzo.documents("client"):
        ready(world)
    config = world.config(DOCUMENT_FLOWS)
    number = f"INV-P{len(world.repzo.documents('fullinvoices')) + 1}"
    products = world.repzo.documents("product")
    lines = data.draw(line_lists(max_size=4))
    returns = data.draw(st.lists(sold_lines(), max_size=3))

    def real(line: Sold, index: int) -> Sold:
        product = products[index % len(products)]
        return dataclasses.replace(line, product_id=product["_id"], product_name=product["name"])

    doc = issue(
        world,
        number,
        [real(line, n) for n, line in enumerate(lines)],
        [real(line, n) for n, line in enumerate(returns)],
    )
    results = world.sync(config, "invoices", "returns")
    assert sum(r.counts.failed for r in results) == 0, [r.error for r in results]
    [erp] = erp_documents(world, "invoices", number)
    assert money(erp["total"]) == Decimal(doc["pre_total"]) / THOUSAND
    assert money(erp["tax"]) == Decimal(doc["pre_tax_amount"]) / THOUSAND
    assert_lines_match(erp, doc["items"])
    notes = erp_documents(world, "credit_notes", number)
    if doc["return_items"]:
        [note] = notes
        assert money(note["total"]) == Decimal(doc["return_total"]) / THOUSAND
        assert_lines_match(note, doc["return_items"])
    else:
        assert notes == []
