"""The document corpus: one file per case in ``cases/``, an SDK-shaped Repzo invoice built the
way Repzo computes its amounts (``sandboxes/repzo/documents.py``), pushed over HTTP
from the sandbox Repzo to the ERP stub by the shipped invoices and returns flows.

Every case is checked for what holds of every document: it arrives once, as an invoice for its
sale lines and a credit note for its return lines, each line and total equal to Repzo's to the
unit of 0.001, and ``syncer reconcile`` finds both sides equal. A case adds what it expects of
its own (``expect``). Add a case by adding a file:

    about: what the case is
    sold:     [{qty: 2, price: 2522, discount: 10, tax: 16, tax_type: additive,
                factor: 1, unit: PCS}]          # price per base unit, thousandths
    returned: [...]                             # return lines, the same keys
    currency: USD                               # default JOD
    issue_date: "2026-11-30"                    # default 2026-11-29
    created_at: "2026-11-30T20:30:00.000Z"      # when Repzo saved it
    edit: {pre_total: 4500}                     # header fields changed after building it
    edit_items: [{line_total: 5155}]            # item fields changed, by position
    expect:
      invoice: {total: "5.266", lines: [{discount: "0.504"}]}   # or null: none posted
      credit_note: {...}                        # or null
      dead_letter: "text in its reason"
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from sandboxes.repzo.documents import Sold, invoice
from syncer.engine.reconcile import reconcile
from syncer.state.models import DeadLetter
from tests.documents.test_documents_end_to_end import (
    DOCUMENT_FLOWS,
    THOUSAND,
    assert_lines_match,
    erp_documents,
    money,
    ready,
)
from tests.engine.conftest import World, store_for

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    case = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    assert isinstance(case, dict) and case.get("about"), f"{path.name}: needs `about`"
    return case


def line(world: World, index: int, spec: dict[str, Any]) -> Sold:
    products = world.repzo.documents("product")
    product = products[index % len(products)]
    return Sold(
        variant_id=f"{index:024d}",
        product_id=product["_id"],
        product_name=product["name"],
        variant_name=product.get("sku") or product["name"],
        qty=Decimal(str(spec["qty"])),
        price=int(spec["price"]),
        factor=int(spec.get("factor", 1)),
        unit=str(spec.get("unit", "PCS")),
        discount_percent=Decimal(str(spec.get("discount", 0))),
        tax_rate=Decimal(str(spec.get("tax", 0))),
        tax_type=spec.get("tax_type", "additive"),
    )


def build(world: World, number: str, case: dict[str, Any]) -> dict[str, Any]:
    client = world.repzo.documents("client")[0]
    doc = invoice(
        number,
        client_id=client["_id"],
        client_name=client["name"],
        sold=[line(world, n, spec) for n, spec in enumerate(case.get("sold") or [])],
        returned=[line(world, n, spec) for n, spec in enumerate(case.get("returned") or [])],
        currency=case.get("currency", "JOD"),
        issue_date=case.get("issue_date", "2026-11-29"),
    )
    doc.update(case.get("edit") or {})
    for item, changes in zip(doc["items"], case.get("edit_items") or [], strict=False):
        item.update(changes)
    if "created_at" in case:
        doc["createdAt"] = case["created_at"]
    return doc


def dead_letters(world: World) -> list[str]:
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            return [letter.reason for letter in session.query(DeadLetter).all()]
    finally:
        store.close()


def assert_expected(erp: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for name, value in expected.items():
        if name == "lines":
            for index, (got, wanted) in enumerate(zip(erp["lines"], value, strict=True)):
                assert_expected(got, wanted, f"{where}.lines[{index}]")
        elif isinstance(value, bool):
            assert bool(erp.get(name)) is value, (where, name, erp.get(name))
        else:
            assert erp.get(name) == value, (where, name, erp.get(name), value)


def assert_reconciled(world: World, flow: str, documents: int) -> None:
    config = world.config(DOCUMENT_FLOWS)
    report = world.with_engine(config, lambda engine: reconcile(engine.context, config.flow(flow)))
    assert (report.checked, report.count("equal")) == (documents, documents), report.as_dict()


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_document_case(world: World, path: Path) -> None:
    case = load(path)
    expect = case.get("expect") or {}
    config = ready(world)
    number = f"INV-{path.stem}"[:40]
    doc = build(world, number, case)
    world.repzo.insert("fullinvoices", [doc])
    world.tick()

    results = world.sync(config, "invoices", "returns")
    letters = dead_letters(world)
    if "dead_letter" in expect:
        assert any(expect["dead_letter"] in reason for reason in letters), letters
    else:
        assert letters == [], letters
        assert [r.counts.failed for r in results] == [0, 0]

    for stream, part, items, total, tax in (
        ("invoices", "invoice", doc["items"], "pre_total", "pre_tax_amount"),
        ("credit_notes", "credit_note", doc["return_items"], "return_total", "return_tax_amount"),
    ):
        posted = erp_documents(world, stream, number)
        wanted = items and "dead_letter" not in expect
        if (part in expect and expect[part] is None) or not wanted:
            assert posted == [], (part, posted)
            continue
        [erp] = posted
        assert money(erp["total"]) == Decimal(doc[total]) / THOUSAND
        assert money(erp["tax"]) == Decimal(doc[tax]) / THOUSAND
        assert erp["currency"] == doc["currency"] and erp["date"] == doc["issue_date"]
        assert_lines_match(erp, items)
        assert_expected(erp, expect.get(part) or {}, part)
        world.tick()
        assert_reconciled(world, "invoices" if part == "invoice" else "returns", 1)

    # Once: the next sync posts nothing more.
    world.tick()
    again = world.sync(config, "invoices", "returns")
    assert sum(r.counts.created for r in again) == 0
