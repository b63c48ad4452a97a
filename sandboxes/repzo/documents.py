"""Repzo invoices as a van-sales rep issues them: SDK-shaped documents whose amounts are
worked out the way Repzo works them out, for the demo and the tests.

Money is in thousandths, as Repzo keeps it. Per item (the SDK's ``Item.Schema``):

- ``price``, ``discount_value``, ``discounted_price`` and ``tax_amount`` are per base unit; the
  quantity ``qty`` is in the unit sold (``measureunit``, a carton of ``factor`` 24 pieces);
- ``total_before_tax``, ``tax_total`` and ``line_total`` are the whole line's, each rounded to
  the thousandth on its own (half up);
- with a tax of ``type: inclusive`` the price is gross: the tax is part of it.

The header has the sale part (``pre_*``, from ``items``), the return part (``return_*``, from
``return_items``) and the document (``total`` = ``pre_total`` - ``return_total``...).
See ``mappings/repzo/fullinvoices.yaml`` for the evidence behind each reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

TaxType = Literal["additive", "inclusive", "N/A"]


@dataclass(frozen=True, slots=True)
class Sold:
    """One line as the rep enters it."""

    variant_id: str
    product_id: str
    product_name: str
    variant_name: str
    qty: Decimal
    """In the unit sold."""
    price: int
    """Per base unit, thousandths, before discount (gross with an inclusive tax)."""
    factor: int = 1
    """Base units in the unit sold."""
    unit: str = "PCS"
    discount_percent: Decimal = Decimal(0)
    tax_rate: Decimal = Decimal(0)
    tax_type: TaxType = "additive"


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def item(sold: Sold, kind: Literal["invoice", "return"] = "invoice") -> dict[str, Any]:
    """The SDK's item for one line, with Repzo's amounts."""
    base_qty = sold.qty * sold.factor
    discount_value = _half_up(Decimal(sold.price) * sold.discount_percent / 100)
    discounted = sold.price - discount_value
    rate = sold.tax_rate if sold.tax_type != "N/A" else Decimal(0)
    if sold.tax_type == "inclusive":
        tax_amount = _half_up(discounted - Decimal(discounted) * 100 / (100 + rate))
        line_total = _half_up(base_qty * discounted)
        tax_total = _half_up(base_qty * tax_amount)
        total_before_tax = line_total - tax_total
    else:
        tax_amount = _half_up(Decimal(discounted) * rate / 100)
        total_before_tax = _half_up(base_qty * discounted)
        tax_total = _half_up(base_qty * tax_amount)
        line_total = total_before_tax + tax_total
    return {
        "variant": {
            "variant_id": sold.variant_id,
            "product_id": sold.product_id,
            "variant_name": sold.variant_name,
            "product_name": sold.product_name,
            "listed_price": sold.price,
        },
        "measureunit": {"name": sold.unit, "factor": sold.factor},
        "tax": {"name": f"VAT {rate}%", "rate": float(rate), "type": sold.tax_type},
        "qty": float(sold.qty) if sold.qty != sold.qty.to_integral_value() else int(sold.qty),
        "base_unit_qty": float(base_qty),
        "price": sold.price,
        "discount_value": discount_value,
        "discounted_price": discounted,
        "tax_amount": tax_amount,
        "tax_total": tax_total,
        "total_before_tax": total_before_tax,
        "line_total": line_total,
        "class": kind,
    }


def _part(items: Sequence[dict[str, Any]], base: Sequence[Sold]) -> dict[str, int]:
    return {
        "subtotal": sum(_half_up(s.qty * s.factor * s.price) for s in base),
        "discount_amount": sum(
            _half_up(s.qty * s.factor * i["discount_value"])
            for s, i in zip(base, items, strict=True)
        ),
        "taxable_subtotal": sum(i["total_before_tax"] for i in items),
        "tax_amount": sum(i["tax_total"] for i in items),
        "total": sum(i["line_total"] for i in items),
    }


def invoice(
    number: str,
    *,
    client_id: str,
    client_name: str,
    sold: Sequence[Sold] = (),
    returned: Sequence[Sold] = (),
    issue_date: str = "2026-11-29",
    due_date: str | None = None,
    currency: str = "JOD",
    creator: dict[str, Any] | None = None,
    warehouse: str | None = None,
    status: str = "unpaid",
) -> dict[str, Any]:
    """A FullInvoice document: its items, its return items and the header Repzo derives."""
    items = [item(s) for s in sold]
    returns = [item(s, "return") for s in returned]
    sale, back = _part(items, sold), _part(returns, returned)
    document: dict[str, Any] = {
        "serial_number": {"identifier": number, "formatted": number, "count": 1},
        "client_id": client_id,
        "client_name": client_name,
        "creator": creator or {"_id": "6561a0c0e4b0a1b2c3d4e5f6", "type": "rep", "name": "Rep 7"},
        "issue_date": issue_date,
        "due_date": due_date or issue_date,
        "currency": currency,
        "status": status,
        "items": items,
        "return_items": returns,
        **{f"pre_{name}": value for name, value in sale.items()},
        **{f"return_{name}": value for name, value in back.items()},
        **{name: sale[name] - back[name] for name in sale},
    }
    if warehouse is not None:
        document["origin_warehouse"] = warehouse
    return document
