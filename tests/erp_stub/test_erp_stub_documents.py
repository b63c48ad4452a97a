"""Documents that add up: the ERP stub checks the arithmetic of invoices and credit notes on
create as a real ERP does, fills in the totals a client leaves out, seeds documents that add up,
and keeps refunds. Over real HTTP, against a loopback ERP stub."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.erp_stub import ErpStubConnector, ErpStubSettings
from sandboxes.erp import ErpStub
from syncer.canonical.entities import CreditNote, Invoice, Payment, Refund
from syncer.connector import WriteOp
from syncer.mapping.catalog import SHIPPED_DIR, load_mapping
from syncer.mapping.mapping import CompiledMapping, MappingContext

USER, PASSWORD = "sync", "erp-documents-pw"
MASTER_DATA = {
    "customers": 3,
    "items": 3,
    "vans": 1,
    "invoices": 0,
    "credit_notes": 0,
    "payments": 0,
    "refunds": 0,
}
MANY_DOCUMENTS = {"customers": 40, "items": 30, "vans": 3, "invoices": 60, "credit_notes": 25}
UNIT = Decimal("0.001")


@pytest.fixture
def erp() -> Iterator[ErpStub]:
    with ErpStub(username=USER, password=PASSWORD, seed=MASTER_DATA) as server:
        yield server


@pytest.fixture
def api(erp: ErpStub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{erp.url}/api/v1", auth=(USER, PASSWORD), timeout=10) as http:
        yield http


def line(item: str = "I-00001", **amounts: str | bool) -> dict[str, Any]:
    return {"item": item, **amounts}


def document(entity: str, number: str, lines: list[dict[str, Any]], **header: str) -> dict:
    body = {"number": number, "customer": "C-00001", "date": "2026-09-21", "lines": lines}
    if entity == "credit_notes":
        body["reason"] = "Expired"
    return {**body, **header}


# A line of 2 at 2.522, 10 % off (0.504), 16 % VAT on the rest (0.726): 5.266, not 5.155.
RIGHT = line(qty="1", unit_price="3.000", total="3.000")
WRONG = line("I-00002", qty="2", unit_price="2.522", discount="0.504", tax="0.726", total="5.155")


# Lines


@pytest.mark.parametrize("entity", ["invoices", "credit_notes"])
def test_a_wrong_line_total_is_refused_naming_the_line_and_showing_the_sum(erp, api, entity):
    refused = api.post(f"/{entity}", json=document(entity, "DOC-1", [RIGHT, WRONG]))
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"] == {
        "lines[1].total": "2.000 x 2.522 - 0.504 discount + 0.726 tax = 5.266, got 5.155"
    }
    # Nothing stored, and no id used up.
    assert erp.records(entity) == []
    fixed = [RIGHT, {**WRONG, "total": "5.266"}]
    created = api.post(f"/{entity}", json=document(entity, "DOC-1", fixed))
    assert created.status_code == 201, created.text
    assert created.json()["id"].endswith("-000001")
    assert created.json()["total"] == "8.266"


def test_a_tax_included_line_is_accepted_with_the_tax_inside_its_price(api):
    gross = line(qty="2", unit_price="1.160", tax_included=True, tax="0.320", total="2.320")
    created = api.post("/invoices", json=document("invoices", "INV-TI", [gross]))
    assert created.status_code == 201, created.text
    invoice = created.json()
    assert invoice["lines"][0]["tax_included"] is True
    assert invoice["lines"][0]["total"] == "2.320"
    assert (invoice["subtotal"], invoice["discount"], invoice["tax"], invoice["total"]) == (
        "2.000",
        "0.000",
        "0.320",
        "2.320",
    )
    added = api.post(
        "/invoices", json=document("invoices", "INV-TI2", [{**gross, "tax_included": False}])
    )
    assert added.status_code == 422
    assert added.json()["error"]["fields"] == {
        "lines[0].total": "2.000 x 1.160 - 0.000 discount + 0.320 tax = 2.640, got 2.320"
    }
    included = api.post(
        "/invoices", json=document("invoices", "INV-TI3", [{**gross, "total": "2.640"}])
    )
    assert included.json()["error"]["fields"] == {
        "lines[0].total": "2.000 x 1.160 - 0.000 discount = 2.320 (0.320 tax included), got 2.640"
    }


def test_line_totals_are_rounded_half_up_and_negative_lines_are_accepted(api):
    lines = [
        # 2.5 x 0.001 = 0.0025 and 0.5 x 0.001 = 0.0005: half up (half even would give 0.002
        # and 0.000).
        line(qty="2.5", unit_price="0.001"),
        line("I-00002", qty="0.5", unit_price="0.001"),
        # A correction line: one taken back at 1.250 with its tax.
        line("I-00003", qty="-1", unit_price="1.250", tax="-0.200"),
        # -0.5 x 0.001 = -0.0005: half away from zero.
        line("I-00001", qty="-0.5", unit_price="0.001"),
    ]
    created = api.post("/invoices", json=document("invoices", "INV-R", lines))
    assert created.status_code == 201, created.text
    invoice = created.json()
    totals = [stored["total"] for stored in invoice["lines"]]
    assert totals == ["0.003", "0.001", "-1.450", "-0.001"]
    assert (invoice["total"], invoice["tax"], invoice["subtotal"]) == ("-1.447", "-0.200", "-1.247")


def test_a_line_with_a_bad_value_is_reported_as_that_not_as_a_sum(api):
    refused = api.post(
        "/invoices",
        json=document("invoices", "INV-B", [RIGHT, {**WRONG, "qty": "two"}], total="1.000"),
    )
    assert refused.json()["error"]["fields"] == {
        "lines[1].qty": "must be a decimal number like '1500.000'; got 'two'"
    }


# Headers


def test_header_totals_left_out_are_filled_in_from_the_lines(api):
    lines = [
        line(qty="2", unit_price="2.522", discount="0.504", tax="0.726"),
        line("I-00002", qty="1", unit_price="4.000"),
    ]
    for entity in ("invoices", "credit_notes"):
        created = api.post(f"/{entity}", json=document(entity, "DOC-F", lines))
        assert created.status_code == 201, created.text
        stored = created.json()
        assert [entry["total"] for entry in stored["lines"]] == ["5.266", "4.000"]
        assert [entry["tax_included"] for entry in stored["lines"]] == [False, False]
        assert stored["lines"][1]["discount"] == stored["lines"][1]["tax"] == "0.000"
        assert {name: stored[name] for name in ("subtotal", "discount", "tax", "total")} == {
            "subtotal": "9.044",
            "discount": "0.504",
            "tax": "0.726",
            "total": "9.266",
        }


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ({"total": "9.000"}, "the lines' total 5.266 + 4.000 = 9.266, got 9.000"),
        ({"tax": "0.700"}, "the lines' tax 0.726 + 0.000 = 0.726, got 0.700"),
        ({"discount": "0.000"}, "the lines' discount 0.504 + 0.000 = 0.504, got 0.000"),
        (
            {"subtotal": "9.266"},
            "total 9.266 - tax 0.726 + discount 0.504 = 9.044, got 9.266",
        ),
    ],
    ids=["total", "tax", "discount", "subtotal"],
)
@pytest.mark.parametrize("entity", ["invoices", "credit_notes"])
def test_wrong_header_totals_are_refused_with_the_sum(erp, api, entity, header, problem):
    lines = [
        line(qty="2", unit_price="2.522", discount="0.504", tax="0.726", total="5.266"),
        line("I-00002", qty="1", unit_price="4.000"),
    ]
    refused = api.post(f"/{entity}", json=document(entity, "DOC-H", lines, **header))
    assert refused.status_code == 422
    [(field, message)] = refused.json()["error"]["fields"].items()
    assert (field, message) == (next(iter(header)), problem)
    assert erp.records(entity) == []
    right = {"subtotal": "9.044", "discount": "0.504", "tax": "0.726", "total": "9.266"}
    accepted = api.post(f"/{entity}", json=document(entity, "DOC-H", lines, **right))
    assert accepted.status_code == 201, accepted.text


def test_arithmetic_problems_come_with_the_other_problems_of_the_record(api):
    body = document("invoices", "INV-M", [RIGHT], total="2.000")
    refused = api.post("/invoices", json={**body, "customer": "C-09999"}).json()["error"]
    assert refused["fields"] == {
        "customer": "unknown customer C-09999",
        "total": "the lines' total 3.000 = 3.000, got 2.000",
    }


@pytest.mark.anyio
async def test_the_connector_reports_the_sum_of_a_refused_invoice(erp):
    settings = ErpStubSettings(
        base_url=erp.url,  # type: ignore[arg-type]
        username=USER,
        password=SecretStr(PASSWORD),
    )
    connector = ErpStubConnector("erp", settings)
    try:
        [refused] = await connector.write(
            "invoices",
            [WriteOp("create", document("invoices", "INV-C", [RIGHT, WRONG]), ref="r")],
        )
    finally:
        await connector.aclose()
    assert refused.outcome == "failed" and refused.error is not None
    assert (
        "lines[1].total: 2.000 x 2.522 - 0.504 discount + 0.726 tax = 5.266, got 5.155"
        in refused.error.message
    )


# Refunds


def refund(number: str, **fields: str) -> dict[str, str]:
    body = {"number": number, "customer": "C-00002", "amount": "12.5", "date": "2026-09-21"}
    return {**body, **fields}


def test_refunds_are_created_listed_and_idempotent_on_their_number(erp, api):
    created = api.post("/refunds", json=refund("RF-77", settles="RET-1021-4", salesperson="Omar"))
    assert created.status_code == 201, created.text
    stored = created.json()
    assert stored["id"] == "RF-000001"
    assert created.headers["location"] == "/api/v1/refunds/RF-000001"
    assert {name: stored[name] for name in ("amount", "currency", "method", "status")} == {
        "amount": "12.500",
        "currency": "JOD",
        "method": "cash",
        "status": "posted",
    }
    assert (stored["settles"], stored["salesperson"]) == ("RET-1021-4", "Omar")
    again = api.post("/refunds", json=refund("RF-77", amount="99"))
    assert again.status_code == 200 and again.json() == stored
    cheque = api.post("/refunds", json=refund("RF-78", method="cheque", reference="CHQ-100200"))
    assert cheque.status_code == 201 and cheque.json()["id"] == "RF-000002"
    listed = api.get("/refunds").json()["items"]
    assert [(r["id"], r["number"]) for r in listed] == [
        ("RF-000001", "RF-77"),
        ("RF-000002", "RF-78"),
    ]
    assert [r["id"] for r in api.get("/refunds", params={"number": "RF-78"}).json()["items"]] == [
        "RF-000002"
    ]
    changed = api.patch("/refunds/RF-000001", json={"amount": "1.000"})
    assert changed.status_code == 409
    assert api.patch("/refunds/RF-000001", json={"status": "void"}).json()["status"] == "void"
    assert api.delete("/refunds/RF-000001").status_code == 405


def test_a_refund_must_pay_back_something_by_cash_or_cheque(erp, api):
    refused = api.post(
        "/refunds", json=refund("RF-1", amount="0", method="card", customer="C-09999")
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {
        "amount": "must be more than 0; got 0.000",
        "method": "must be one of cash, cheque; got 'card'",
        "customer": "unknown customer C-09999",
    }
    missing = api.post("/refunds", json={"number": "RF-2"}).json()["error"]["fields"]
    assert set(missing) == {"customer", "amount", "date"}
    assert erp.records("refunds") == []


# Seeded documents


def adds_up(document: Mapping[str, Any]) -> list[str]:
    """The arithmetic, written out again here rather than imported from the server: every way
    the document does not add up."""
    problems = []
    for index, entry in enumerate(document["lines"]):
        gross = (Decimal(entry["qty"]) * Decimal(entry["unit_price"])).quantize(
            UNIT, rounding=ROUND_HALF_UP
        )
        total = gross - Decimal(entry["discount"])
        if not entry["tax_included"]:
            total += Decimal(entry["tax"])
        if total != Decimal(entry["total"]):
            problems.append(f"lines[{index}]: {total} != {entry['total']}")
    sums = {
        name: sum((Decimal(entry[name]) for entry in document["lines"]), Decimal(0))
        for name in ("total", "tax", "discount")
    }
    sums["subtotal"] = sums["total"] - sums["tax"] + sums["discount"]
    problems += [
        f"{name}: {sums[name]} != {document[name]}"
        for name in sums
        if Decimal(document[name]) != sums[name]
    ]
    return problems


def mapping(stream: str) -> CompiledMapping:
    return load_mapping(SHIPPED_DIR / "erp_stub" / f"{stream}.yaml", ErpStubSettings.model_fields)


CONTEXT = MappingContext(variables={"username": USER})


@pytest.mark.parametrize("random_seed", [0, 1, 2])
def test_every_seeded_invoice_and_credit_note_adds_up(random_seed):
    with ErpStub(username=USER, password=PASSWORD, seed=False) as erp:
        erp.seed(random_seed=random_seed, **MANY_DOCUMENTS)
        erp.seed(random_seed=random_seed + 100, **MANY_DOCUMENTS)  # on top of the first
        invoices, notes = erp.records("invoices"), erp.records("credit_notes")
    assert len(invoices) == 120 and len(notes) == 50
    for seeded in invoices + notes:
        assert adds_up(seeded) == [], seeded["number"]
    # Some seeded lines carry a discount, so the arithmetic is exercised with one.
    assert any(Decimal(entry["discount"]) > 0 for seeded in invoices for entry in seeded["lines"])
    assert all(seeded["salesperson"] for seeded in invoices + notes)
    # And the canonical model, which syncer checks every document it reads against, agrees.
    for model, stream, records in (
        (Invoice, "invoices", invoices),
        (CreditNote, "credit_notes", notes),
    ):
        reader = mapping(stream)
        for seeded in records:
            values = reader.read(seeded, CONTEXT).values
            assert model.model_validate(values).total == Decimal(seeded["total"])


def test_the_invoice_mapping_reads_a_seeded_invoice_into_a_valid_canonical_invoice():
    with ErpStub(username=USER, password=PASSWORD, seed=False) as erp:
        erp.seed(random_seed=7)
        seeded = next(
            record
            for record in erp.records("invoices")
            if any(
                Decimal(entry["discount"]) and entry["tax"] != "0.000" for entry in record["lines"]
            )
        )
    invoice = Invoice.model_validate(mapping("invoices").read(seeded, CONTEXT).values)
    assert invoice.number == seeded["number"] and invoice.customer == seeded["customer"]
    assert invoice.salesperson == seeded["salesperson"]
    assert invoice.discount_total == Decimal(seeded["discount"]) > 0
    assert invoice.total == sum(entry.total for entry in invoice.lines)
    assert invoice.subtotal == invoice.total - invoice.tax_total + invoice.discount_total
    for entry, native in zip(invoice.lines, seeded["lines"], strict=True):
        assert entry.tax_included is False
        assert (entry.discount, entry.tax_amount) == (
            Decimal(native["discount"]),
            Decimal(native["tax"]),
        )


def test_seeded_refunds_pay_back_credit_notes_once_and_read_as_canonical_refunds():
    def seeded(random_seed: int) -> tuple[list[dict], list[dict], list[dict]]:
        with ErpStub(username=USER, password=PASSWORD, seed=False) as erp:
            erp.clock.freeze(1_790_000_000_000)
            sizes = {**MANY_DOCUMENTS, "credit_notes": 3, "refunds": 2}
            erp.seed(random_seed=random_seed, **sizes)
            erp.seed(random_seed=random_seed, **sizes)  # a second seed refunds other notes
            return erp.records("credit_notes"), erp.records("refunds"), erp.records("payments")

    notes, refunds, payments = seeded(4)
    assert (notes, refunds, payments) == seeded(4)  # deterministic per seed
    assert len(refunds) == 4
    assert all(r["id"].startswith("RF-") for r in refunds)
    by_number = {note["number"]: note for note in notes}
    assert len({r["settles"] for r in refunds}) == 4  # no credit note paid back twice
    for stored in refunds:
        note = by_number[stored["settles"]]
        assert (stored["customer"], stored["amount"]) == (note["customer"], note["total"])
        assert stored["method"] in ("cash", "cheque")
        refund_model = Refund.model_validate(mapping("refunds").read(stored, CONTEXT).values)
        assert refund_model.amount == Decimal(stored["amount"]) > 0
        assert refund_model.settles == note["number"]
    for stored in payments:
        payment = Payment.model_validate(mapping("payments").read(stored, CONTEXT).values)
        assert payment.salesperson == stored["salesperson"]


def test_mutated_and_admin_seeded_documents_still_add_up(erp, api):
    erp.clock.advance(60_000)
    seeded = httpx.post(
        f"{erp.url}/__erp/seed",
        json={"customers": 0, "items": 0, "invoices": 20, "credit_notes": 5, "refunds": 3},
        auth=(USER, PASSWORD),
    )
    assert seeded.status_code == 201, seeded.text
    assert seeded.json()["created"]["refunds"] == 3
    changed = erp.mutate(invoices=5, seed=3)["invoices"]
    assert len(changed) == 5
    for stored in erp.records("invoices") + erp.records("credit_notes"):
        assert adds_up(stored) == [], stored["number"]
    assert {erp.get("invoices", key)["status"] for key in changed} == {"paid"}


def echoed(api: httpx.Client, stream: str, records: Sequence[dict]) -> list[int]:
    """What the mapping writes back from each stored document, PATCHed as it is: a posted
    document accepts it only when nothing but (at most) its status differs."""
    reader = mapping(stream)
    statuses = []
    for stored in records:
        written = reader.write(reader.read(stored, CONTEXT).values, CONTEXT)
        statuses.append(api.patch(f"/{stream}/{stored['id']}", json=written).status_code)
    return statuses


def test_the_mappings_write_back_tax_included_lines_and_refunds_unchanged(erp, api):
    gross = line(qty="2", unit_price="1.160", tax_included=True, tax="0.320")
    for entity in ("invoices", "credit_notes"):
        body = document(entity, "DOC-E", [gross], salesperson="Sami")
        assert api.post(f"/{entity}", json=body).status_code == 201
    assert api.post("/refunds", json=refund("RF-E", salesperson="Sami")).status_code == 201
    for stream in ("invoices", "credit_notes", "refunds"):
        assert echoed(api, stream, erp.records(stream)) == [200], stream


def test_seeded_credit_notes_only_take_back_goods_that_were_sold(erp, api):
    correction = [line(qty="-1", unit_price="1.000"), line("I-00002", qty="0", unit_price="2")]
    assert api.post("/invoices", json=document("invoices", "INV-N", correction)).status_code == 201
    nothing = {"customers": 0, "items": 0, "vans": 1, "invoices": 0, "payments": 0}
    assert erp.seed(**nothing, credit_notes=5, refunds=5) == {}
    sold = [*correction, line("I-00003", qty="4", unit_price="1.500")]
    assert api.post("/invoices", json=document("invoices", "INV-P", sold)).status_code == 201
    assert erp.seed(**nothing, credit_notes=5, refunds=5) == {"credit_notes": 1, "refunds": 1}
    [note] = erp.records("credit_notes")
    assert [entry["item"] for entry in note["lines"]] == ["I-00003"]
    assert adds_up(note) == []
