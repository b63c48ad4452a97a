"""What a reconciliation compares: the header and line fields of a document that both
mappings of the flow read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from syncer.mapping.mapping import CompiledMapping, FieldRule

HEADER_FIELDS = (
    "number",
    "customer",
    "issue_date",
    "paid_on",
    "currency",
    "subtotal",
    "discount_total",
    "tax_total",
    "total",
    "amount",
)
"""What an accountant checks on a document's header, in the order shown; an entity compares
the ones its canonical model has. The number too: a document linked through the id map may
have been renumbered since."""

LINES = "lines"
LINE_FIELDS = ("quantity", "unit_price", "discount", "tax_amount", "total", "tax_included")
"""What is compared on each line, in order."""


@dataclass(frozen=True, slots=True)
class ComparedFields:
    """The canonical fields both mappings of a flow read, of those a reconciliation checks."""

    header: tuple[str, ...]
    lines: tuple[str, ...] | None
    """Line fields compared, or None when one side carries no lines."""

    def as_dict(self) -> dict[str, Any]:
        return {"header": list(self.header), "lines": list(self.lines or ())}


def compared_fields(
    model: type[BaseModel], source: CompiledMapping, target: CompiledMapping
) -> ComparedFields:
    """Only what both sides read is compared: a field one side does not carry is not a
    difference, it is simply not known there."""
    both = source.read_fields & target.read_fields
    header = tuple(name for name in HEADER_FIELDS if name in model.model_fields and name in both)
    if LINES not in both or LINES not in model.model_fields:
        return ComparedFields(header, None)
    read_by_both = _line_fields(source) & _line_fields(target)
    return ComparedFields(header, tuple(name for name in LINE_FIELDS if name in read_by_both))


def _line_fields(mapping: CompiledMapping) -> set[str]:
    rule = reading_rule(mapping, LINES)
    if rule is None or rule.each is None:
        return set()
    return {sub.name for sub in rule.each if sub.reads}


def reading_rule(mapping: CompiledMapping, name: str) -> FieldRule | None:
    """The mapping's rule that reads the canonical field ``name``, if it has one."""
    return next((rule for rule in mapping.rules if rule.name == name and rule.reads), None)
