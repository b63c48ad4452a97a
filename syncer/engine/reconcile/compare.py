"""Comparing two canonical versions of one document, field by field: pure, no reading.

Amounts compare at :data:`UNIT`, rounded half up as accountants round."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from syncer.engine.reconcile.fields import LINES, ComparedFields

UNIT = Decimal("0.001")
"""Amounts compare at the documents' resolution (Repzo's x1000 integers, 3-place ERP
decimals), rounded half up as accountants round."""

Value = Decimal | date | datetime | str | bool | int | None


def normal(value: Any) -> Value:
    """A canonical value as it is compared: amounts at :data:`UNIT`, the rest as it is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | float | int):
        return Decimal(str(value)).quantize(UNIT, rounding=ROUND_HALF_UP)
    if isinstance(value, date | datetime | str) or value is None:
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class Difference:
    number: str
    field: str
    """A canonical field (``total``), a line's (``lines[0].unit_price``), ``lines`` for the
    number of lines, or ``present`` for a document one side does not have (True/False)."""
    source: Value
    target: Value


def compare(
    number: str,
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    fields: ComparedFields,
    show_ref: Callable[[str, str], str] | None = None,
    references: Mapping[str, str] | None = None,
) -> list[Difference]:
    """Where two canonical versions of one document differ.

    A field the source leaves empty is not compared: the target may fill in a default (an
    ERP's home currency) for what the source did not say. ``show_ref(entity, canonical id)``
    shows a reference field (``references``: field -> entity) as a person knows it, the
    customer's code rather than a canonical id. Lines compare in order; when their numbers
    differ only the count is reported, since every line after a missing one would differ too."""
    found = [
        _as_known(difference, show_ref, (references or {}).get(difference.field))
        for difference in _differ(number, "", source, target, fields.header)
    ]
    if fields.lines is None:
        return found
    ours, theirs = source.get(LINES) or [], target.get(LINES) or []
    if len(ours) != len(theirs):
        return [*found, Difference(number, LINES, len(ours), len(theirs))]
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        found.extend(_differ(number, f"{LINES}[{index}].", mine, other, fields.lines))
    return found


def _as_known(
    difference: Difference, show_ref: Callable[[str, str], str] | None, entity: str | None
) -> Difference:
    if show_ref is None or entity is None:
        return difference
    source, target = difference.source, difference.target
    return Difference(
        difference.number,
        difference.field,
        show_ref(entity, source) if isinstance(source, str) else source,
        show_ref(entity, target) if isinstance(target, str) else target,
    )


def _differ(
    number: str,
    prefix: str,
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    names: Iterable[str],
) -> list[Difference]:
    found = []
    for name in names:
        ours = normal(source.get(name))
        if ours is None:
            continue
        theirs = normal(target.get(name))
        if ours != theirs:
            found.append(Difference(number, prefix + name, ours, theirs))
    return found


def shown(value: Value) -> str | bool | int | None:
    """A compared value as JSON shows it: amounts as exact text (``"5.800"``), dates ISO."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
