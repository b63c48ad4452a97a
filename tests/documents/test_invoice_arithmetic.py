"""Every valid Repzo invoice maps to a canonical invoice that adds up, whose lines and header
are Repzo's to the unit of 0.001; one that does not add up is refused, showing the sum."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings

from sandboxes.repzo.documents import Sold, invoice
from syncer.mapping.catalog import SHIPPED_DIR, load_mapping
from syncer.mapping.errors import MappingError
from syncer.mapping.mapping import CompiledMapping, MappingContext
from tests.documents.strategies import line_lists

INVOICES = load_mapping(SHIPPED_DIR / "repzo" / "fullinvoices.yaml", {"namespace"})
RETURNS = load_mapping(SHIPPED_DIR / "repzo" / "fullinvoices.returns.yaml", {"namespace"})
THOUSAND = Decimal(1000)


def read(mapping: CompiledMapping, document: dict) -> dict:
    return mapping.read({"_id": "6" * 24, **document}, MappingContext()).values


def document(sold: list[Sold], returned: list[Sold] | None = None) -> dict:
    return invoice(
        "INV-1", client_id="c" * 24, client_name="Shop", sold=sold, returned=returned or []
    )


def assert_same(values: dict, items: list[dict], total: int, tax: int) -> None:
    assert values["total"] == Decimal(total) / THOUSAND
    assert values["tax_total"] == Decimal(tax) / THOUSAND
    assert len(values["lines"]) == len(items)
    for line, item in zip(values["lines"], items, strict=True):
        assert line["total"] == Decimal(item["line_total"]) / THOUSAND
        assert line["tax_amount"] == Decimal(item["tax_total"]) / THOUSAND
        assert line["quantity"] == Decimal(str(item["qty"]))
        assert (
            line["unit_price"] == Decimal(item["price"]) * item["measureunit"]["factor"] / THOUSAND
        )
        assert line["tax_included"] == (item["tax"]["type"] == "inclusive")


@settings(max_examples=300, deadline=None)
@given(line_lists(), line_lists())
def test_every_valid_invoice_maps_to_repzos_amounts(sold: list[Sold], returned: list[Sold]) -> None:
    doc = document(sold, returned)
    assert_same(read(INVOICES, doc), doc["items"], doc["pre_total"], doc["pre_tax_amount"])
    assert_same(
        read(RETURNS, doc), doc["return_items"], doc["return_total"], doc["return_tax_amount"]
    )


CHIPS = Sold(
    "v", "p", "Chips", "I-1", Decimal(2), 2522, discount_percent=Decimal(10), tax_rate=Decimal(16)
)
"""The reported case: 2 x 2.522 with 10 % off and 16 % tax comes to 5.266."""


def test_discount_and_tax_are_whole_lines():
    """The reported case: 2 x 2.522 with 10 % off and 16 % tax comes to 5.266."""
    doc = document([CHIPS])
    [line] = read(INVOICES, doc)["lines"]
    assert (line["discount"], line["tax_amount"], line["total"]) == (
        Decimal("0.504"),
        Decimal("0.726"),
        Decimal("5.266"),
    )


def test_tax_inclusive_prices_carry_the_flag():
    doc = document(
        [
            Sold(
                "v",
                "p",
                "Water",
                "I-2",
                Decimal(2),
                1160,
                tax_rate=Decimal(16),
                tax_type="inclusive",
            )
        ]
    )
    [line] = read(INVOICES, doc)["lines"]
    assert line["tax_included"] is True
    assert (line["unit_price"], line["tax_amount"], line["total"]) == (
        Decimal("1.160"),
        Decimal("0.320"),
        Decimal("2.320"),
    )


def test_cartons_price_the_unit_sold():
    doc = document([Sold("v", "p", "Juice", "I-3", Decimal(3), 450, factor=24, unit="CTN")])
    [line] = read(INVOICES, doc)["lines"]
    assert (line["unit"], line["unit_factor"], line["unit_price"], line["total"]) == (
        "CTN",
        Decimal(24),
        Decimal("10.800"),
        Decimal("32.400"),
    )


def test_a_return_only_invoice_is_a_credit_note_and_no_invoice():
    doc = document([], [Sold("v", "p", "Milk", "I-4", Decimal(1), 900, tax_rate=Decimal(16))])
    assert INVOICES.filter is not None and not INVOICES.filter({"record": doc})
    assert RETURNS.filter is not None and RETURNS.filter({"record": doc})
    note = read(RETURNS, doc)
    assert note["number"] == "INV-1" and note["total"] == Decimal("1.044")


def test_a_document_level_deduction_is_refused_showing_the_sum():
    doc = document([Sold("v", "p", "Tea", "I-5", Decimal(1), 5000)])
    doc["pre_total"] = doc["total"] = 4500  # 0.500 off the whole invoice
    with pytest.raises(MappingError) as refused:
        read(INVOICES, doc)
    assert "total: the lines add up to 5.000, but the document says 4.500" in str(refused.value)


def test_a_line_whose_amounts_disagree_is_refused_showing_its_sum():
    doc = document([CHIPS])
    doc["items"][0]["line_total"] = 5155
    doc["pre_total"] = doc["total"] = 5155
    with pytest.raises(MappingError) as refused:
        read(INVOICES, doc)
    assert (
        "lines[0]: 2 x 2.522 - 0.504 discount + 0.726 tax = 5.266, but the line's total is 5.155"
        in str(refused.value)
    )
