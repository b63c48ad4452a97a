"""``syncer reconcile``: the documents in the ERP against the ones Repzo holds, end to end over
HTTP with the sandbox Repzo and the ERP stub.

The invoices here carry no tax and no discount, so they add up however the invoice mappings
read a line's tax; the comparison itself is over canonical fields and does not care."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connectors.csv import CsvSettings
from connectors.erp_stub import ErpStubSettings
from connectors.repzo import RepzoSettings
from sandboxes.erp.entities import entity
from syncer.canonical import Invoice
from syncer.cli import app
from syncer.config import load_config
from syncer.engine import leases
from syncer.engine.reconcile import ComparedFields, Difference, compare, compared_fields
from syncer.mapping.binding import bind_flows
from syncer.mapping.catalog import SHIPPED_DIR, load_mapping
from syncer.state.base import Base
from tests.engine.conftest import (
    INVOICE_FLOWS,
    MASTER_DATA_FLOWS,
    PASSWORD,
    T0_MS,
    World,
    store_for,
)

DAY_MS = 86_400_000
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def prepared(world: World) -> str:
    """Master data on both sides, linked in the id map; returns the configuration's path."""
    world.erp.seed(customers=3, items=2, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    world.sync(world.config(INVOICE_FLOWS), *MASTER_DATA_FLOWS)
    return str(world.folder / "syncer.yaml")


def invoice(
    world: World, number: str, *, quantity: int = 2, price: int = 2500, issued: str = "2026-11-29"
) -> str:
    """A van-sales invoice in Repzo for the first client and product, stamped with Repzo's
    clock (money in thousandths); returns its id."""
    client = world.repzo.documents("client")[0]
    product = world.repzo.documents("product")[0]
    total = quantity * price
    [created] = world.repzo.insert(
        "fullinvoices",
        [
            {
                "serial_number": {"formatted": number},
                "client_id": client["_id"],
                "issue_date": issued,
                "currency": "JOD",
                "status": "unpaid",
                "subtotal": total,
                "discount_amount": 0,
                "tax_amount": 0,
                "total": total,
                "items": [
                    {
                        "variant": {
                            "variant_id": "v-1",
                            "product_id": product["_id"],
                            "variant_name": product["sku"],
                        },
                        "qty": quantity,
                        "price": price,
                        "discount_value": 0,
                        "tax_amount": 0,
                        "line_total": total,
                    }
                ],
            }
        ],
    )
    return created


def pushed(world: World) -> None:
    world.tick()
    [run] = world.sync(world.config(INVOICE_FLOWS), "invoices")
    assert run.status == "succeeded", run.error
    world.tick()


def edit_in_erp(world: World, number: str, **changes: Any) -> None:
    """Change an invoice in the ERP behind syncer's back (posted invoices cannot be PATCHed
    through the API: this is the ERP's own storage, as a person with database access would)."""
    record = next(r for r in world.erp.records("invoices") if r["number"] == number)
    world.erp.service.save(entity("invoices"), {**record, **changes})


def reconcile(runner: Any, path: str, *args: str, flow: str = "invoices") -> Any:
    return runner.invoke(app, ["reconcile", flow, "-c", path, *args])


def reconciled(runner: Any, path: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = reconcile(runner, path, "--json", *args)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_after_a_sync_every_invoice_matches(world, runner):
    path = prepared(world)
    first = invoice(world, "INV-1")
    second = invoice(world, "INV-2", quantity=3, price=1250)
    pushed(world)

    code, report = reconciled(runner, path)
    assert code == 0
    erp = {r["number"]: r["id"] for r in world.erp.records("invoices")}
    assert report["flow"] == "invoices"
    assert (report["source"], report["target"]) == ("repzo.fullinvoices", "erp.invoices")
    # By default: the 30 days before Repzo's clock, less the flow's safety margin (5 s).
    until = datetime.fromisoformat(report["until"])
    assert until == datetime.fromtimestamp((T0_MS + 20_000 - 5_000) / 1000, UTC)
    assert (until - datetime.fromisoformat(report["since"])).days == 30
    counts = {name: report[name] for name in ("checked", "equal", "different")}
    assert counts == {"checked": 2, "equal": 2, "different": 0}
    assert report["missing_in_target"] == report["missing_in_source"] == 0
    assert report["not_comparable"] == report["undated"] == 0
    assert report["differences"] == []
    header, lines = set(report["fields"]["header"]), set(report["fields"]["lines"])
    assert {"number", "customer", "issue_date", "currency", "total"} <= header
    assert {"quantity", "unit_price", "total"} <= lines
    binding = bind_flows(load_config(path))["invoices"]
    assert header <= binding.source.read_fields & binding.target.read_fields
    assert "amount" not in report["fields"]["header"]  # a payment's field, not an invoice's
    assert report["documents"] == [
        {
            "number": "INV-1",
            "status": "equal",
            "source_id": first,
            "target_id": erp["INV-1"],
            "reason": None,
            "side": None,
        },
        {
            "number": "INV-2",
            "status": "equal",
            "source_id": second,
            "target_id": erp["INV-2"],
            "reason": None,
            "side": None,
        },
    ]

    shown = reconcile(runner, path)
    assert shown.exit_code == 0, shown.output
    assert "Differences" not in shown.stdout
    assert (
        "2 documents checked: 2 equal, 0 different, 0 missing in target, 0 missing in source, "
        "0 not comparable." in " ".join(shown.stdout.split())
    )


def test_a_total_changed_in_the_erp_and_an_invoice_not_pushed_yet_are_reported(world, runner):
    path = prepared(world)
    invoice(world, "INV-1")
    invoice(world, "INV-2")
    pushed(world)
    # Someone re-priced the ERP's copy of INV-1: 2 x 3.000 instead of 2 x 2.500.
    [line] = next(r for r in world.erp.records("invoices") if r["number"] == "INV-1")["lines"]
    edit_in_erp(
        world,
        "INV-1",
        subtotal="6.000",
        total="6.000",
        lines=[{**line, "unit_price": "3.000", "total": "6.000"}],
    )
    late = invoice(world, "INV-3")  # issued in the field after the last sync
    world.tick()

    code, report = reconciled(runner, path)
    assert code == 1
    assert (report["checked"], report["equal"], report["different"]) == (3, 1, 1)
    assert report["missing_in_target"] == 1 and report["missing_in_source"] == 0
    assert {"number": "INV-1", "field": "total", "source": "5.000", "target": "6.000"} in report[
        "differences"
    ]
    assert {
        "number": "INV-1",
        "field": "lines[0].unit_price",
        "source": "2.500",
        "target": "3.000",
    } in report["differences"]
    assert {"number": "INV-3", "field": "present", "source": True, "target": False} in report[
        "differences"
    ]
    assert {d["number"] for d in report["differences"]} == {"INV-1", "INV-3"}
    statuses = {d["number"]: (d["status"], d["source_id"]) for d in report["documents"]}
    assert statuses["INV-3"] == ("missing_in_target", late)
    assert statuses["INV-1"][0] == "different" and statuses["INV-2"][0] == "equal"

    shown = reconcile(runner, path)
    assert shown.exit_code == 1
    table = [line for line in shown.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= 80 for line in table)
    assert any("INV-1" in line and "5.000" in line and "6.000" in line for line in table)
    assert any("INV-3" in line and "present" in line and "missing" in line for line in table)
    assert "3 documents checked: 1 equal, 1 different, 1 missing in target" in " ".join(
        shown.stdout.split()
    )


def test_a_different_customer_is_shown_by_its_code(world, runner):
    path = prepared(world)
    invoice(world, "INV-1")
    pushed(world)
    record = next(r for r in world.erp.records("invoices") if r["number"] == "INV-1")
    other = next(c["id"] for c in world.erp.records("customers") if c["id"] != record["customer"])
    edit_in_erp(world, "INV-1", customer=other)

    code, report = reconciled(runner, path)
    assert code == 1
    assert report["differences"] == [
        {"number": "INV-1", "field": "customer", "source": record["customer"], "target": other}
    ]


def test_a_long_document_number_is_never_cut(world, runner):
    path = prepared(world)
    number = "VAN-07/2026-11-29/INVOICE-000000042-RETURNED"
    invoice(world, number)
    world.tick()
    shown = reconcile(runner, path)
    assert shown.exit_code == 1
    table = [line for line in shown.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert all(len(line) <= 80 for line in table)
    assert any(number in line for line in table)


def test_only_documents_of_the_window_are_checked(world, runner):
    path = prepared(world)
    invoice(world, "INV-OLD")
    pushed(world)
    world.repzo.clock.advance(2 * DAY_MS)
    world.erp.clock.advance(2 * DAY_MS)
    invoice(world, "INV-NEW")  # two days later, not pushed
    world.tick()

    code, report = reconciled(
        runner, path, "--since", iso(T0_MS - DAY_MS), "--until", iso(T0_MS + DAY_MS)
    )
    assert code == 0
    assert [d["number"] for d in report["documents"]] == ["INV-OLD"]
    assert report["since"] == iso(T0_MS - DAY_MS) and report["until"] == iso(T0_MS + DAY_MS)

    code, report = reconciled(runner, path, "--since", iso(T0_MS + DAY_MS))
    assert code == 1
    assert [(d["number"], d["status"]) for d in report["documents"]] == [
        ("INV-NEW", "missing_in_target")
    ]

    # A date is midnight UTC; the window ends before --until.
    code, report = reconciled(runner, path, "--since", "2026-11-01", "--until", "2026-11-02")
    assert code == 0 and report["checked"] == 0


def test_documents_the_flow_filters_out_are_not_its_documents(world, runner):
    prepared(world)
    flows = INVOICE_FLOWS + """  filter: 'record["serial_number"]["formatted"] != "SAMPLE-1"'\n"""
    config = world.config(flows)
    path = str(world.folder / "syncer.yaml")
    invoice(world, "INV-1")
    invoice(world, "SAMPLE-1")  # a demo invoice the flow never sends
    world.tick()
    [run] = world.sync(config, "invoices")
    assert run.counts.created == 1 and run.counts.skipped == 1
    world.tick()

    code, report = reconciled(runner, path)
    assert code == 0
    assert [d["number"] for d in report["documents"]] == ["INV-1"]


def test_reconciling_writes_nothing_anywhere_and_needs_no_lease(world, runner):
    path = prepared(world)
    invoice(world, "INV-1")
    invoice(world, "INV-2")
    pushed(world)
    edit_in_erp(world, "INV-1", currency="USD")
    invoice(world, "INV-3")
    world.tick()
    state_before = dump_store(world)
    repzo_before = world.repzo.documents("fullinvoices")
    erp_before = world.erp.records("invoices")
    world.repzo.reset_stats()
    world.erp.reset_stats()

    # A sync of the flow holds its lease right now: reconciling reads beside it.
    store = store_for(world.store_url)
    flow = world.config(INVOICE_FLOWS).flow("invoices")
    held = leases.acquire(store, leases.lease_name(flow), leases.new_holder(), leases.DEFAULT_TTL)
    try:
        code, report = reconciled(runner, path)
    finally:
        leases.release(store, held)
        store.close()
    assert code == 1 and report["different"] == 1 and report["missing_in_target"] == 1
    assert {"number": "INV-1", "field": "currency", "source": "JOD", "target": "USD"} in report[
        "differences"
    ]

    assert dump_store(world, skip=("leases",)) == drop_table(state_before, "leases")
    assert world.repzo.documents("fullinvoices") == repzo_before
    assert world.erp.records("invoices") == erp_before
    for method in WRITES:
        assert world.repzo.stats().count(method=method) == 0, method
        assert world.erp.stats().count(method=method) == 0, method
    assert world.repzo.stats().count(method="GET") > 0  # it did read


def test_an_erp_invoice_whose_repzo_invoice_is_gone_is_missing_in_source(world, runner):
    path = prepared(world)
    gone = invoice(world, "INV-1")
    invoice(world, "INV-2")
    pushed(world)
    world.repzo.store.delete(world.repzo.resource("fullinvoices").name, gone)

    code, report = reconciled(runner, path)
    assert code == 1
    assert (report["checked"], report["equal"], report["missing_in_source"]) == (2, 1, 1)
    [missing] = [d for d in report["documents"] if d["status"] == "missing_in_source"]
    assert missing["number"] == "INV-1" and missing["source_id"] == gone
    assert {"number": "INV-1", "field": "present", "source": False, "target": True} in report[
        "differences"
    ]


def test_a_document_that_cannot_be_mapped_is_not_comparable_rather_than_a_crash(world, runner):
    path = prepared(world)
    invoice(world, "INV-1")
    pushed(world)
    invoice(world, "INV-BAD", issued="29/11/2026")  # not a date the mapping reads
    world.tick()

    code, report = reconciled(runner, path)
    assert code == 1
    assert (report["checked"], report["equal"], report["not_comparable"]) == (2, 1, 1)
    [bad] = [d for d in report["documents"] if d["status"] == "not_comparable"]
    assert bad["number"] == "INV-BAD" and bad["side"] == "source"
    assert "issue_date" in bad["reason"]

    shown = reconcile(runner, path)
    assert shown.exit_code == 1
    assert "INV-BAD: not comparable (repzo.fullinvoices" in shown.stdout
    assert "1 not comparable" in " ".join(shown.stdout.split())


PAYMENT_FLOW = """
- name: payments
  source: {connector: repzo, stream: payments}
  target: {connector: erp, stream: payments}
  mode: create_only
"""


def test_payments_compare_their_amount_and_date(world, runner):
    """Payments are read by updatedAt (invoices by _id) and carry an amount, not lines."""
    prepared(world)
    config = world.config(INVOICE_FLOWS + PAYMENT_FLOW)
    path = str(world.folder / "syncer.yaml")
    client = world.repzo.documents("client")[0]
    for number, amount in (("PAY-1", 12500), ("PAY-2", 4000)):
        world.repzo.insert(
            "payments",
            [
                {
                    "serial_number": {"formatted": number},
                    "client_id": client["_id"],
                    "amount": amount,
                    "currency": "JOD",
                    "paytime": "2026-11-29",
                    "payment_type": "cash",
                }
            ],
        )
    world.tick()
    [run] = world.sync(config, "payments")
    assert run.status == "succeeded" and run.counts.created == 2, run.error
    world.tick()

    result = reconcile(runner, path, "--json", flow="payments")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["checked"] == report["equal"] == 2
    assert {"customer", "paid_on", "currency", "amount"} <= set(report["fields"]["header"])
    assert report["fields"]["lines"] == []

    record = next(r for r in world.erp.records("payments") if r["number"] == "PAY-2")
    world.erp.service.save(entity("payments"), {**record, "amount": "40.000", "date": "2026-11-30"})
    result = reconcile(runner, path, "--json", flow="payments")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["differences"] == [
        {"number": "PAY-2", "field": "paid_on", "source": "2026-11-29", "target": "2026-11-30"},
        {"number": "PAY-2", "field": "amount", "source": "4.000", "target": "40.000"},
    ]


def test_an_unknown_flow_names_the_close_match(world, runner):
    path = prepared(world)
    result = reconcile(runner, path, flow="invoice")
    assert result.exit_code == 2
    assert "unknown flow 'invoice'" in result.stderr
    assert "did you mean 'invoices'" in result.stderr


def test_a_flow_of_master_data_is_refused(world, runner):
    path = prepared(world)
    result = reconcile(runner, path, flow="taxes")
    assert result.exit_code == 2
    assert "flow 'taxes' carries tax records" in " ".join(result.stderr.split())
    assert "reconcile compares documents" in " ".join(result.stderr.split())


def test_a_window_that_ends_before_it_starts_is_bad_usage(world, runner):
    path = prepared(world)
    result = reconcile(runner, path, "--since", "2026-11-02", "--until", "2026-11-01")
    assert result.exit_code == 2
    assert "--until" in result.output


def test_an_unreachable_erp_exits_3_without_showing_secrets(world, runner):
    path = prepared(world)
    invoice(world, "INV-1")
    world.tick()
    text = (world.folder / "syncer.yaml").read_text(encoding="utf-8")
    text = text.replace(world.erp.url, "http://127.0.0.1:9")  # nothing listens there
    text = text.replace(f"password: {PASSWORD}", f"password: {PASSWORD}, max_connect_wait: 1s")
    (world.folder / "syncer.yaml").write_text(text, encoding="utf-8")

    result = reconcile(runner, path)
    assert result.exit_code == 3, result.output
    assert "127.0.0.1:9" in result.stderr
    assert PASSWORD not in result.output


def dump_store(world: World, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the state store (runs, cursors, id map, ...)."""
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            return {
                table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
                for table in Base.metadata.sorted_tables
                if table.name not in skip
            }
    finally:
        store.close()


def drop_table(dump: dict[str, Any], name: str) -> dict[str, Any]:
    return {table: rows for table, rows in dump.items() if table != name}


# -- the comparison alone ------------------------------------------------------------------------

FIELDS = ComparedFields(("customer", "currency", "total"), ("quantity", "unit_price", "total"))


def line(total: str, quantity: str = "1") -> dict[str, Any]:
    return {"quantity": Decimal(quantity), "unit_price": Decimal(total), "total": Decimal(total)}


def test_amounts_compare_at_three_places_rounded_half_up():
    source = {"total": Decimal("5.0004"), "lines": [line("5.0004")]}
    assert compare("I-1", source, {"total": Decimal("5"), "lines": [line("5.000")]}, FIELDS) == []
    found = compare("I-1", {"total": Decimal("5.0005")}, {"total": Decimal("5.000")}, FIELDS)
    assert found == [Difference("I-1", "total", Decimal("5.001"), Decimal("5.000"))]


def test_what_the_source_leaves_empty_is_not_a_difference():
    assert compare("I-1", {"currency": None}, {"currency": "JOD"}, FIELDS) == []
    found = compare("I-1", {"currency": "JOD"}, {"currency": None}, FIELDS)
    assert found == [Difference("I-1", "currency", "JOD", None)]


def test_lines_compare_in_order_and_a_different_count_is_one_difference():
    two = [line("1.000"), line("2.000", quantity="2")]
    swapped = [line("2.000", quantity="2"), line("1.000")]
    found = compare("I-1", {"lines": two}, {"lines": swapped}, FIELDS)
    assert [d.field for d in found] == [
        "lines[0].quantity",
        "lines[0].unit_price",
        "lines[0].total",
        "lines[1].quantity",
        "lines[1].unit_price",
        "lines[1].total",
    ]
    assert compare("I-1", {"lines": two}, {"lines": two[:1]}, FIELDS) == [
        Difference("I-1", "lines", 2, 1)
    ]


def test_references_are_shown_as_people_know_them():
    found = compare(
        "I-1",
        {"customer": "canonical-a", "issue_date": date(2026, 11, 29)},
        {"customer": "canonical-b"},
        FIELDS,
        show_ref=lambda entity, canonical: f"{entity}:{canonical[-1]}",
        references={"customer": "customer"},
    )
    assert found == [Difference("I-1", "customer", "customer:a", "customer:b")]


def test_only_fields_both_mappings_read_are_compared():
    def shipped(name: str, settings: Any) -> Any:
        return load_mapping(SHIPPED_DIR / name, settings.model_fields)

    repzo = shipped("repzo/fullinvoices.yaml", RepzoSettings)
    ledger = shipped("csv/invoices.yaml", CsvSettings)  # headers only, no lines
    fields = compared_fields(Invoice, repzo, ledger)
    assert fields.lines is None
    assert "total" in fields.header and "customer" in fields.header
    assert set(fields.header) <= repzo.read_fields & ledger.read_fields
    erp = shipped("erp_stub/invoices.yaml", ErpStubSettings)
    assert {"quantity", "unit_price", "total"} <= set(
        compared_fields(Invoice, repzo, erp).lines or ()
    )
