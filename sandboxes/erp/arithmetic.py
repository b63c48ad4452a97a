"""Document arithmetic, as an ERP insists on it before it posts an invoice or a credit note.

A line:   round_half_up(qty x unit_price, 3) - discount (+ tax, unless tax_included) = total
A header: total = sum of the lines' totals, tax = sum of their taxes,
          discount = sum of their discounts, subtotal = total - tax + discount.

``discount`` and ``tax`` are amounts for the whole line; with ``tax_included`` the unit price is
gross, so the tax is part of it rather than added to it. A total the client leaves out is
computed and stored; a total it gives must be exactly the computed one at 3 places, or the
document is refused with the sum shown, so the client sees which figure is wrong. Quantities
may be negative (a correction line), as real ERPs accept.

Pure functions of the ERP's records (decimal strings already at 3 places), shared by the
validation of a POST and the seeder, so seeded documents obey the rule they are checked by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Record = dict[str, Any]

UNIT = Decimal("0.001")
SUMMED = ("total", "tax", "discount")
"""The header fields that are the sums of the lines' fields of the same name."""


def rounded(value: Decimal) -> Decimal:
    """``value`` at the ERP's resolution, half up (away from zero on a tie), as accountants
    round."""
    return value.quantize(UNIT, rounding=ROUND_HALF_UP)


def money_text(value: Decimal) -> str:
    """The ERP's way of writing an amount: ``"5.266"``."""
    return f"{rounded(value):f}"


@dataclass(frozen=True)
class LineAmounts:
    """The figures of one line that its total is computed from."""

    qty: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    tax_included: bool = False

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> LineAmounts:
        """The amounts of a stored or checked line; an absent discount or tax is zero."""
        return cls(
            qty=Decimal(str(line["qty"])),
            unit_price=Decimal(str(line["unit_price"])),
            discount=Decimal(str(line.get("discount") or 0)),
            tax=Decimal(str(line.get("tax") or 0)),
            tax_included=line.get("tax_included") is True,
        )

    def total(self) -> Decimal:
        net = rounded(self.qty * self.unit_price) - self.discount
        return net if self.tax_included else net + self.tax

    def computation(self) -> str:
        """The sum written out: ``2.000 x 2.522 - 0.504 discount + 0.726 tax = 5.266``."""
        start = (
            f"{self.qty:f} x {money_text(self.unit_price)} - {money_text(self.discount)} discount"
        )
        if self.tax_included:
            return f"{start} = {money_text(self.total())} ({money_text(self.tax)} tax included)"
        return f"{start} + {money_text(self.tax)} tax = {money_text(self.total())}"


def line_total(line: Mapping[str, Any]) -> str:
    """What a line comes to, as the ERP writes it."""
    return money_text(LineAmounts.of(line).total())


def header_totals(lines: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The header a document's lines make: ``{subtotal, discount, tax, total}``, each line
    having its total."""
    sums = {name: _sum(lines, name) for name in SUMMED}
    subtotal = sums["total"] - sums["tax"] + sums["discount"]
    return {"subtotal": money_text(subtotal), **{n: money_text(v) for n, v in sums.items()}}


def balance(document: Record, problems: dict[str, str]) -> Record:
    """The document with every omitted total (of a line or of the header) filled in; each
    given total that is not the computed one is added to ``problems`` under its path
    (``lines[1].total``, ``tax``), with the computation."""
    line_problems: dict[str, str] = {}
    lines = [
        _balanced_line(index, line, line_problems) for index, line in enumerate(document["lines"])
    ]
    balanced = {**document, "lines": lines}
    if line_problems:
        problems.update(line_problems)
        # The header is compared with lines that add up: a wrong line would make a right
        # header look wrong too, and the client has one figure to fix, not two.
        return balanced
    for name, expected in header_totals(lines).items():
        given = balanced.get(name)
        if given is None:
            balanced[name] = expected
        elif Decimal(str(given)) != Decimal(expected):
            problems[name] = f"{_header_computation(name, lines)} = {expected}, got {given}"
    return balanced


def _balanced_line(index: int, line: Record, problems: dict[str, str]) -> Record:
    amounts = LineAmounts.of(line)
    expected = money_text(amounts.total())
    given = line.get("total")
    if given is None:
        return {**line, "total": expected}
    if Decimal(str(given)) != Decimal(expected):
        problems[f"lines[{index}].total"] = f"{amounts.computation()}, got {given}"
    return line


def _header_computation(name: str, lines: Sequence[Mapping[str, Any]]) -> str:
    if name == "subtotal":
        sums = {field: _sum(lines, field) for field in SUMMED}
        return (
            f"total {money_text(sums['total'])} - tax {money_text(sums['tax'])} "
            f"+ discount {money_text(sums['discount'])}"
        )
    return f"the lines' {name} {_written_sum(_amounts(lines, name))}"


def _amounts(lines: Iterable[Mapping[str, Any]], field: str) -> list[Decimal]:
    return [Decimal(str(line.get(field) or 0)) for line in lines]


def _sum(lines: Iterable[Mapping[str, Any]], field: str) -> Decimal:
    return sum(_amounts(lines, field), Decimal(0))


def _written_sum(values: Sequence[Decimal]) -> str:
    """``3.000 + 2.266 - 1.000``: a negative line reads as a subtraction."""
    text = money_text(values[0]) if values else "0.000"
    for value in values[1:]:
        text += f" - {money_text(-value)}" if value < 0 else f" + {money_text(value)}"
    return text
