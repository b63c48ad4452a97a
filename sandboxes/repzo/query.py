"""Repzo's list query string, parsed into filters, a sort order and a projection.

What it understands (REPZO-INTEGRATIONS.md §1.3 to §1.6):

- ``from_<field>`` / ``to_<field>``: a range. ``from__id`` is the keyset bound, ``from_updatedAt``
  and ``from_createdAt`` take ms since the epoch (an ISO string works too).
- ``sortBy=[{"field": "_id", "type": "asc"}]``, or ``sort=<field>`` with ``sortPageOrder=asc|dsc``.
  Asked for neither, a strict sandbox answers newest first; a lenient one in ``_id`` order, in
  the direction ``sortPageOrder`` gives.
- ``project=["_id", "integration_meta"]``: return only those fields.
- Every other key is an equality filter on a dotted path (``integration_meta.id``,
  ``serial_number.formatted``). The SDK JSON-encodes array and object values into one string, so
  ``["a","b"]`` means "any of", and an object holds Mongo operators (``{"$in": [...]}``).
  Repeated keys and ``key[]`` (older axios bracket encoding) also mean "any of".

Values are matched the way Mongoose casts a query: ``client_code=1001`` finds the number 1001 as
well as the string "1001", and an array field matches when any element does.

This parser takes whatever it is given: on a strict sandbox, ``strict.screen_list_params`` has
already refused or dropped the keys the resource does not list, ranges included.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from sandboxes.kit.clock import parse_time_ms
from sandboxes.repzo.protocol import ApiError

Scalar = str | int | float | bool | None
Comparison = Literal[">", ">=", "<", "<="]

ID_FIELD = "_id"
TIME_FIELDS = frozenset({"updatedAt", "createdAt"})


@dataclass(frozen=True)
class Match:
    """The field equals one of ``values`` (or none of them, when negated)."""

    field: str
    values: tuple[Scalar, ...]
    negate: bool = False


@dataclass(frozen=True)
class Bound:
    field: str
    op: Comparison
    value: Scalar


@dataclass(frozen=True)
class Exists:
    field: str
    present: bool


Filter = Match | Bound | Exists


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    sort: tuple[SortKey, ...] = (SortKey(ID_FIELD),)
    projection: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BoundRules:
    """How inclusive the range bounds are. Repzo does not document it (REPZO-INTEGRATIONS.md
    §1.5), so the sandbox can play either side and the engine is tested against both."""

    updated_exclusive: bool = False
    """from_updatedAt/to_updatedAt as > and < instead of >= and <=."""
    from_id_inclusive: bool = False
    """from__id as >= instead of >, which a keyset reader would see as one repeat per page."""


# Parameters that shape the reply rather than select documents.
CONTROL_PARAMS = frozenset(
    {
        "page",
        "per_page",
        "limit",
        "offset",
        "sort",
        "sortBy",
        "sortPageOrder",
        "order",
        "project",
        "populatedKeys",
        "populated_keys",
        "withVariants",
        "withFamily",
        "withProduct",
        "search",
        "filter",
    }
)

_FIELD = re.compile(r"[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*")
_RANGE_KEY = re.compile(r"(from|to)_(.+)")
_ASCENDING = frozenset({"asc", "1", "ascending"})
_DESCENDING = frozenset({"dsc", "desc", "-1", "descending"})


def parse_list_query(
    params: tuple[tuple[str, str], ...],
    rules: BoundRules,
    *,
    implicit: Literal["newest", "id", "updated"] = "id",
) -> ListQuery:
    """``implicit``: the order of a list that asks for none (see ``SandboxOptions.
    implicit_order``); other than ``id`` it holds whatever ``sortPageOrder`` says, so a client
    that needs an order has to name its field."""
    grouped = group_params(params)
    filters: list[Filter] = []
    for name, values in grouped.items():
        if name not in CONTROL_PARAMS:
            filters.extend(_filters_for(name, values, rules))
    return ListQuery(tuple(filters), _sort_keys(grouped, implicit), _projection(grouped))


def group_params(params: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        name = key.removesuffix("[]")
        grouped.setdefault(name, []).append(value)
    return grouped


def page_params(grouped: dict[str, list[str]], default: int, cap: int) -> tuple[int, int]:
    """(page, per_page) of a paged list; per_page above the cap is served at the cap."""
    page = _int_param(grouped, "page", 1, minimum=1)
    per_page = _int_param(grouped, "per_page", default, minimum=1)
    return page, min(per_page, cap)


def window_params(grouped: dict[str, list[str]], default: int, cap: int) -> tuple[int, int]:
    """(limit, offset) of a limit/offset list."""
    limit = _int_param(grouped, "limit", default, minimum=1)
    offset = _int_param(grouped, "offset", 0, minimum=0)
    return min(limit, cap), offset


def check_field(name: str) -> str:
    """Field names end up inside SQL JSON paths, so only plain dotted names pass."""
    if not _FIELD.fullmatch(name):
        raise ApiError(400, f"Invalid field name {name!r}")
    return name


def _int_param(grouped: dict[str, list[str]], name: str, default: int, minimum: int) -> int:
    raw = _last(grouped, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}, got {value}")
    return value


def _last(grouped: dict[str, list[str]], name: str) -> str | None:
    values = grouped.get(name)
    return values[-1] if values else None


def _filters_for(name: str, raws: list[str], rules: BoundRules) -> list[Filter]:
    ranged = _RANGE_KEY.fullmatch(name)
    if ranged:
        side, field = ranged.group(1), check_field(ranged.group(2))
        return [Bound(field, _range_op(side, field, rules), _bound_value(field, raws[-1]))]
    field = check_field(name)
    values: list[Scalar] = []
    for raw in raws:
        decoded = _decode(raw)
        if isinstance(decoded, dict):
            return _operator_filters(field, decoded)
        elements = decoded if isinstance(decoded, list) else [raw]
        for element in elements:
            values.extend(_loose(field, element))
    return [Match(field, _unique(values))]


def _range_op(side: str, field: str, rules: BoundRules) -> Comparison:
    if field == ID_FIELD:
        if side == "from":
            return ">=" if rules.from_id_inclusive else ">"
        return "<="
    if field == "updatedAt" and rules.updated_exclusive:
        return ">" if side == "from" else "<"
    return ">=" if side == "from" else "<="


def _bound_value(field: str, raw: Any) -> Scalar:
    if field in TIME_FIELDS:
        ms = parse_time_ms(raw)
        if ms is None:
            raise ApiError(400, f"{field} bounds must be ms since the epoch, got {raw!r}")
        return ms
    if field == ID_FIELD or not isinstance(raw, str):
        return raw if isinstance(raw, str | int | float | bool) else str(raw)
    number = _number(raw)
    return raw if number is None else number


def _decode(raw: str) -> Any:
    if raw[:1] in ("[", "{"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _loose(field: str, value: Any) -> list[Scalar]:
    """The value plus the other spelling Mongoose's casting would also accept."""
    if field == ID_FIELD:
        return [str(value)]
    if field in TIME_FIELDS:
        ms = parse_time_ms(value)
        return [] if ms is None else [ms]
    if isinstance(value, str):
        is_scalar, parsed = _json_scalar(value)
        return [value, parsed] if is_scalar else [value]
    if value is None or isinstance(value, bool | int | float):
        return [value, json.dumps(value)]
    raise ApiError(400, f"Unsupported filter value for {field}: {value!r}")


def _json_scalar(text: str) -> tuple[bool, Scalar]:
    """(True, value) when ``text`` is a JSON number, boolean or null."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return False, None
    if parsed is None or isinstance(parsed, bool | int | float):
        return True, parsed
    return False, None


def _number(text: str) -> int | float | None:
    is_scalar, parsed = _json_scalar(text)
    if is_scalar and isinstance(parsed, int | float) and not isinstance(parsed, bool):
        return parsed
    return None


def _unique(values: list[Scalar]) -> tuple[Scalar, ...]:
    seen: list[Scalar] = []
    for value in values:
        if not any(type(value) is type(old) and value == old for old in seen):
            seen.append(value)
    return tuple(seen)


def _operator_filters(field: str, operators: dict[str, Any]) -> list[Filter]:
    filters: list[Filter] = []
    comparisons: dict[str, Comparison] = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
    for op, operand in operators.items():
        if op in ("$in", "$nin", "$eq", "$ne"):
            items = operand if isinstance(operand, list) else [operand]
            values = [v for item in items for v in _loose(field, item)]
            filters.append(Match(field, _unique(values), negate=op in ("$nin", "$ne")))
        elif op in comparisons:
            filters.append(Bound(field, comparisons[op], _bound_value(field, operand)))
        elif op == "$exists":
            filters.append(Exists(field, bool(operand)))
        else:
            raise ApiError(400, f"Invalid query operator {op!r} on {field}")
    return filters


def _sort_keys(
    grouped: dict[str, list[str]], implicit: Literal["newest", "id", "updated"]
) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    sort_by = _last(grouped, "sortBy")
    if sort_by:
        spec = _decode(sort_by)
        entries = spec if isinstance(spec, list) else [spec]
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
                raise ApiError(
                    400, f'sortBy must look like [{{"field":"_id","type":"asc"}}], got {sort_by!r}'
                )
            keys.append(SortKey(check_field(entry["field"]), _descending(entry.get("type", "asc"))))
    elif implicit != "id" and not _last(grouped, "sort"):
        order = _last(grouped, "sortPageOrder") or _last(grouped, "order")
        if order:
            _descending(order)  # still refused when malformed, though it orders nothing here
        if implicit == "updated":
            keys.append(SortKey("updatedAt"))
        else:
            keys.append(SortKey(ID_FIELD, descending=True))
    else:
        field = _last(grouped, "sort") or ID_FIELD
        order = _last(grouped, "sortPageOrder") or _last(grouped, "order") or "asc"
        keys.append(SortKey(check_field(field), _descending(order)))
    if all(key.field != ID_FIELD for key in keys):
        # A total order keeps page boundaries stable when many documents share a sort value.
        keys.append(SortKey(ID_FIELD, keys[-1].descending))
    return tuple(keys)


def _descending(order: Any) -> bool:
    text = str(order).lower()
    if text in _ASCENDING:
        return False
    if text in _DESCENDING:
        return True
    raise ApiError(400, f"Sort order must be asc or dsc, got {order!r}")


def _projection(grouped: dict[str, list[str]]) -> tuple[str, ...] | None:
    raw = _last(grouped, "project")
    if not raw:
        return None
    decoded = _decode(raw)
    names = decoded if isinstance(decoded, list) else raw.split(",")
    return tuple(check_field(str(name).strip()) for name in names if str(name).strip())
