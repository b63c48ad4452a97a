"""Hypothesis strategies for canonical values, built from the entities' pydantic field types.

``model_values(Invoice)`` draws a dict of every field of the model (``extras`` aside) that the
model accepts: text, exact decimals with at most three places, finite floats, whole numbers,
booleans, dates, aware UTC instants to the millisecond, ``Literal`` choices, lists of line models
and references (opaque id text). Bounds the model declares (``min_length``, ``ge``, ``gt``...)
are respected. ``overrides`` replaces the strategy of a field (the choices a value map can
write, say), for the model itself and, by ``"lines.quantity"``-style dotted names, for its lines.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from syncer.canonical.documents import line_total, money

SKIPPED = frozenset({"extras"})
"""Fields no mapping maps as such (``extras`` is filled by ``carry``)."""

MONEY_LIMIT = Decimal(10) ** 9
"""Amounts and quantities stay within +/- a billion: realistic, and exact through a float."""
NUMBER_LIMIT = 10**9
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(2100, 12, 31)

ref_ids = st.text(min_size=1, max_size=24)
"""A reference: the canonical id of another record, opaque text."""


@dataclass(frozen=True)
class Bounds:
    min_length: int | None = None
    max_length: int | None = None
    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None

    def add(self, item: Any) -> Bounds:
        """These bounds plus those of one metadata item (``MinLen``, ``Ge``, a ``Field(...)``)."""
        if isinstance(item, FieldInfo):
            result = self
            for inner in item.metadata:
                result = result.add(inner)
            return result
        if not isinstance(item, annotated_types.BaseMetadata):
            return self
        names = ("min_length", "max_length", "ge", "gt", "le", "lt")
        found = {name: getattr(item, name) for name in names if hasattr(item, name)}
        return Bounds(**{**self.__dict__, **found})


def model_values(
    model: type[BaseModel], overrides: Mapping[str, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts of values for every field of ``model`` (a canonical entity or a line model)."""
    overrides = dict(overrides or {})
    references = getattr(model, "references", {})
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        if name in SKIPPED:
            continue
        if name in overrides:
            fields[name] = overrides[name]
            continue
        nested = {
            key.removeprefix(f"{name}."): strategy
            for key, strategy in overrides.items()
            if key.startswith(f"{name}.")
        }
        bounds = Bounds()
        for item in info.metadata:
            bounds = bounds.add(item)
        fields[name] = for_type(info.annotation, bounds, ref=name in references, nested=nested)
    drawn = st.fixed_dictionaries(fields)
    if {"lines", "total", "tax_total"} <= set(model.model_fields):
        return drawn.map(balanced)  # documents must add up (syncer.canonical.documents)
    return drawn


def balanced(values: dict[str, Any]) -> dict[str, Any]:
    """A drawn document made to add up: each line's total from its amounts, the header's
    totals from its lines, the subtotal from the header."""
    lines = []
    for line in values.get("lines") or []:
        line = dict(line)
        # Kept to what a document holds, so the sums stay within the numbers' bounds.
        line["quantity"] = line["quantity"] % 100_000
        line["unit_price"] = line["unit_price"] % 1_000_000
        line["total"] = line_total(SimpleNamespace(**{**DEFAULTS, **line}))
        lines.append(line)
    out = {**values, "lines": lines}
    if lines:
        out["total"] = sum((line["total"] for line in lines), Decimal(0))
        out["tax_total"] = sum((money(line.get("tax_amount", 0)) for line in lines), Decimal(0))
        if "discount_total" in values:
            out["discount_total"] = sum(
                (money(line.get("discount", 0)) for line in lines), Decimal(0)
            )
    if values.get("subtotal") is not None or "discount_total" in values:
        out["subtotal"] = out["total"] - out["tax_total"] + out.get("discount_total", 0)
    return out


DEFAULTS = {"discount": Decimal(0), "tax_amount": Decimal(0), "tax_included": False}


def for_type(
    annotation: Any,
    bounds: Bounds | None = None,
    *,
    ref: bool = False,
    nested: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Any]:
    """Values of one annotated type."""
    bounds = bounds or Bounds()
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        for item in metadata:
            bounds = bounds.add(item)
        return for_type(inner, bounds, ref=ref, nested=nested)
    if origin is Union or origin is types.UnionType:
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        chosen = st.one_of(*(for_type(arg, bounds, ref=ref, nested=nested) for arg in options))
        return st.none() | chosen if len(options) < len(get_args(annotation)) else chosen
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation)
        return st.lists(for_type(item, nested=nested), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_values(annotation, nested)
    if ref:
        return ref_ids
    return _scalar(annotation, bounds)


def _scalar(annotation: Any, bounds: Bounds) -> st.SearchStrategy[Any]:
    if annotation is bool:
        return st.booleans()
    if annotation is str:
        return st.text(min_size=bounds.min_length or 0, max_size=bounds.max_length or 20)
    if annotation is Decimal:
        low, high = _range(bounds, -MONEY_LIMIT, MONEY_LIMIT, Decimal("0.001"))
        return st.decimals(
            min_value=low, max_value=high, places=3, allow_nan=False, allow_infinity=False
        )
    if annotation is int:
        low, high = _range(bounds, -NUMBER_LIMIT, NUMBER_LIMIT, 1)
        return st.integers(min_value=low, max_value=high)
    if annotation is float:
        low = bounds.ge if bounds.ge is not None else bounds.gt
        high = bounds.le if bounds.le is not None else bounds.lt
        return st.floats(
            min_value=-float(NUMBER_LIMIT) if low is None else low,
            max_value=float(NUMBER_LIMIT) if high is None else high,
            exclude_min=bounds.ge is None and bounds.gt is not None,
            exclude_max=bounds.le is None and bounds.lt is not None,
            allow_nan=False,
            allow_infinity=False,
        )
    if annotation is datetime:
        return instants()
    if annotation is date:
        return st.dates(min_value=FIRST_DATE, max_value=LAST_DATE)
    raise NotImplementedError(f"no strategy for canonical field type {annotation!r}")


def _range(bounds: Bounds, low: Any, high: Any, step: Any) -> tuple[Any, Any]:
    if bounds.ge is not None:
        low = max(low, bounds.ge)
    if bounds.gt is not None:
        low = max(low, bounds.gt + step)
    if bounds.le is not None:
        high = min(high, bounds.le)
    if bounds.lt is not None:
        high = min(high, bounds.lt - step)
    return low, high


def instants() -> st.SearchStrategy[datetime]:
    """Aware UTC instants to the millisecond, as Repzo and most APIs keep them."""
    return st.datetimes(
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2100, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
