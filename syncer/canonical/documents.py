"""The arithmetic every canonical document must satisfy before any system posts it.

An invoice or credit note ends up in someone's books. Whatever system it comes from, its lines
and its header must add up to the unit of 0.001, or it is not posted at all: the record becomes
a dead letter that shows the sum, rather than a document the accountant finds wrong later.

A line:   round(quantity x unit_price, 3) - discount (+ tax_amount, unless tax_included) = total
A header: total = the sum of the lines' totals, tax_total = the sum of their taxes,
          discount_total = the sum of their discounts,
          subtotal = total - tax_total + discount_total (before discount and tax).

Only what a mapping read is checked: a ledger that carries headers without lines is checked for
nothing but its own header, and a field a mapping does not read is not compared.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

UNIT = Decimal("0.001")
"""The resolution documents are kept at (Repzo's x1000 integers; 3-place ERP decimals)."""


class Line(Protocol):
    @property
    def quantity(self) -> Decimal: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def discount(self) -> Decimal: ...
    @property
    def tax_amount(self) -> Decimal: ...
    @property
    def tax_included(self) -> bool: ...
    @property
    def total(self) -> Decimal: ...


def money(value: Decimal) -> Decimal:
    """``value`` at the documents' resolution, half up (as accountants round)."""
    return value.quantize(UNIT, rounding=ROUND_HALF_UP)


def line_total(line: Line) -> Decimal:
    """What a line comes to by the rule above."""
    # Each amount at 3 places, as a system that keeps them so (an ERP, Repzo) adds them up.
    amount = money(line.quantity * line.unit_price) - money(line.discount)
    return amount if line.tax_included else amount + money(line.tax_amount)


def line_discount(
    quantity: Decimal,
    unit_price: Decimal,
    total: Decimal,
    tax: Decimal,
    tax_included: bool,
    nominal: Decimal,
) -> Decimal:
    """The whole line's discount that makes a line's own amounts add up (the rule above), when
    it is within 0.001 of the ``nominal`` discount (per-unit discount x quantity): systems that
    round each amount on its own (Repzo) differ from that product by a unit now and then, and
    the line's total is what the books must show. A line further off keeps the nominal
    discount, and so does not add up: its document is refused, showing the sum."""
    settled = money(quantity * unit_price) - (
        money(total) - (Decimal(0) if tax_included else money(tax))
    )
    return settled if abs(settled - nominal) <= UNIT else nominal


def _shown(value: Decimal) -> str:
    return f"{money(value):f}"


def line_problem(line: Line) -> str | None:
    """Why a line does not add up, showing its sum; None when it does."""
    expected = line_total(line)
    if money(expected) == money(line.total):
        return None
    tax = "" if line.tax_included else f" + {_shown(line.tax_amount)} tax"
    included = f" ({_shown(line.tax_amount)} tax included)" if line.tax_included else ""
    return (
        f"{line.quantity:f} x {_shown(line.unit_price)} - {_shown(line.discount)} discount"
        f"{tax} = {_shown(expected)}{included}, but the line's total is {_shown(line.total)}"
    )


def document_problems(
    lines: Sequence[Line],
    *,
    given: Collection[str],
    total: Decimal,
    tax_total: Decimal | None,
    discount_total: Decimal | None,
    subtotal: Decimal | None,
) -> list[str]:
    """Every way a document does not add up. ``given`` names the header fields the source
    carries; with no lines only the header's own arithmetic is checked."""
    problems = [
        f"lines[{index}]: {problem}"
        for index, line in enumerate(lines)
        if (problem := line_problem(line)) is not None
    ]
    if lines:
        sums = {
            "total": sum((money(line.total) for line in lines), Decimal(0)),
            "tax_total": sum((money(line.tax_amount) for line in lines), Decimal(0)),
            "discount_total": sum((money(line.discount) for line in lines), Decimal(0)),
        }
        header = {"total": total, "tax_total": tax_total, "discount_total": discount_total}
        for name, summed in sums.items():
            value = header[name]
            if name in given and value is not None and money(value) != money(summed):
                problems.append(
                    f"{name}: the lines add up to {_shown(summed)}, but the document says "
                    f"{_shown(value)}"
                )
    if {"subtotal", "tax_total", "discount_total"} <= set(given) and subtotal is not None:
        before = total - (tax_total or 0) + (discount_total or 0)
        if money(before) != money(subtotal):
            problems.append(
                f"subtotal: total {_shown(total)} - tax {_shown(tax_total or Decimal(0))} + "
                f"discount {_shown(discount_total or Decimal(0))} = {_shown(before)}, but the "
                f"document says {_shown(subtotal)}"
            )
    return problems
