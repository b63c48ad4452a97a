"""What the ERP accepts: request bodies checked against the entity specs and brought into the
ERP's own formats, and RFC 7396 merge patches.

Every problem of a record is collected before answering, so one 422 names them all (a client
fixing them one round-trip at a time is exactly what a strict ERP should not force).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sandboxes.erp import arithmetic
from sandboxes.erp.entities import (
    ADDRESS_PARTS,
    ENTITIES,
    SERVER_OWNED,
    EntitySpec,
    FieldSpec,
)
from sandboxes.erp.errors import bad_request, validation_failed

Record = dict[str, Any]
Exists = Callable[[str, str], bool]
"""``exists(entity, key)``: whether a referenced record is there."""
Lookup = Callable[[str, str], Record | None]

_PLACES = {"money": 3, "quantity": 3, "rate": 2}
_KEY_FORBIDDEN = frozenset("/:,")
"""A code must survive being a path segment, a part of a composite id and a filter value."""


class _Invalid(Exception):
    """One value's problem, phrased to follow its field name: "must be a date like ..."."""


def json_object(body: bytes) -> Record:
    """The request body as a JSON object; anything else is the client's error (400)."""
    if not body.strip():
        raise bad_request("The request body is empty; send a JSON object.", "invalid_json")
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.", "invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.", "invalid_json")
    return value


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def server_owned(spec: EntitySpec) -> tuple[str, ...]:
    """Fields the ERP sets itself; a body may carry them (a client echoing a record back) and
    they are ignored rather than refused."""
    return SERVER_OWNED if spec.keying == "given" else (*SERVER_OWNED, spec.key)


def with_defaults(spec: EntitySpec, record: Record) -> Record:
    """The record with the defaults of its absent fields, and of its lines' absent fields."""
    filled = _defaulted(spec.fields, record)
    lines = filled.get("lines")
    if spec.line_fields and isinstance(lines, list):
        filled["lines"] = [
            _defaulted(spec.line_fields, line) if isinstance(line, dict) else line for line in lines
        ]
    return filled


def _defaulted(specs: dict[str, FieldSpec], record: Record) -> Record:
    filled = dict(record)
    for name, field in specs.items():
        if field.default is not None and filled.get(name) is None:
            filled[name] = field.default
    return filled


def check_record(spec: EntitySpec, record: Record, exists: Exists) -> Record:
    """The record in the ERP's formats (money to 3 places...), server-owned fields dropped; or a
    422 whose ``fields`` name every problem, including references to records that do not exist.
    """
    clean, problems = _checked(spec, record, exists)
    if problems:
        raise validation_failed(spec.singular, problems)
    return clean


def check_new_record(spec: EntitySpec, record: Record, exists: Exists) -> Record:
    """``check_record`` for a create: a document with lines must also add up, and gets the
    totals it leaves out (see ``arithmetic``). Only a create is held to it: a posted document
    cannot change but for its status, and a status change of a document stored before this
    rule must not be refused for its old figures."""
    clean, problems = _checked(spec, record, exists)
    if spec.line_fields and _lines_valid(clean, problems):
        clean = arithmetic.balance(clean, problems)
    if problems:
        raise validation_failed(spec.singular, problems)
    return clean


def _checked(spec: EntitySpec, record: Record, exists: Exists) -> tuple[Record, dict[str, str]]:
    owned = server_owned(spec)
    problems: dict[str, str] = {}
    given = {name: value for name, value in record.items() if name not in owned}
    clean = _check_fields(
        given, spec.fields, spec.line_fields, f"a {spec.singular}", "", problems, exists
    )
    if spec.keying == "given" and spec.key in clean and spec.key not in problems:
        key_problem = _key_problem(clean[spec.key])
        if key_problem:
            problems[spec.key] = key_problem
    return clean, problems


def _lines_valid(clean: Record, problems: dict[str, str]) -> bool:
    """Whether every line came through its field checks, so its figures can be added up. A
    line with a bad value is reported as that; its sum would only repeat the problem."""
    return isinstance(clean.get("lines"), list) and not any(
        path.startswith("lines") for path in problems
    )


def fill_from_references(spec: EntitySpec, record: Record, lookup: Lookup) -> Record:
    """What an ERP copies onto a document from the cards it references: the customer's name,
    each line's item code, description and unit."""
    filled = dict(record)
    if "customer_name" in spec.fields and not filled.get("customer_name"):
        customer = lookup("customers", str(filled.get("customer")))
        if customer is not None:
            filled["customer_name"] = customer.get("name")
    if isinstance(filled.get("lines"), list):
        filled["lines"] = [
            _in_order(spec.line_fields, _fill_line(line, lookup)) for line in filled["lines"]
        ]
    return _in_order(spec.fields, filled)


def _fill_line(line: Record, lookup: Lookup) -> Record:
    item = lookup("items", str(line.get("item")))
    if item is None:
        return line
    copied = {
        "item_code": item.get("code"),
        "description": item.get("name"),
        "uom": item.get("uom"),
    }
    return {**line, **{name: value for name, value in copied.items() if not line.get(name)}}


def _in_order(specs: dict[str, FieldSpec], record: Record) -> Record:
    """The record's fields in the spec's order whatever order they came in, as the columns of
    an ERP's table would be."""
    return {name: record[name] for name in specs if name in record}


def _check_fields(
    record: Record,
    specs: dict[str, FieldSpec],
    line_specs: dict[str, FieldSpec],
    what: str,
    prefix: str,
    problems: dict[str, str],
    exists: Exists,
) -> Record:
    clean: Record = {}
    for name, value in record.items():
        path = f"{prefix}{name}"
        field = specs.get(name)
        if field is None:
            problems[path] = f"is not a field of {what}"
            continue
        if value is None:
            continue
        try:
            if field.kind == "lines":
                clean[name] = _lines(value, path, line_specs, problems, exists)
            else:
                clean[name] = _value(field, value)
        except _Invalid as exc:
            problems[path] = str(exc)
            continue
        if field.ref is not None and not exists(field.ref, clean[name]):
            problems[path] = f"unknown {ENTITIES[field.ref].singular} {clean[name]}"
    for name, field in specs.items():
        path = f"{prefix}{name}"
        if field.required and path not in problems and clean.get(name) in (None, ""):
            problems[path] = "is required"
    return _in_order(specs, clean)


def _lines(
    value: Any,
    path: str,
    specs: dict[str, FieldSpec],
    problems: dict[str, str],
    exists: Exists,
) -> list[Record]:
    if not isinstance(value, list):
        raise _Invalid("must be a list of lines")
    if not value:
        raise _Invalid("needs at least one line")
    lines: list[Record] = []
    for index, line in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(line, dict):
            problems[where] = "must be an object"
            continue
        lines.append(_check_fields(line, specs, {}, "a line", f"{where}.", problems, exists))
    return lines


def _value(field: FieldSpec, value: Any) -> Any:
    kind = field.kind
    if kind in _PLACES:
        number = _decimal(value, _PLACES[kind])
        if kind == "rate" and not Decimal(0) <= Decimal(number) <= Decimal(100):
            raise _Invalid("must be a percentage between 0.00 and 100.00")
        if field.positive and Decimal(number) <= 0:
            raise _Invalid(f"must be more than 0; got {number}")
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise _Invalid("must be true or false")
        return value
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _Invalid("must be a whole number of 0 or more")
        return value
    if kind == "date":
        return _date(value)
    if kind == "texts":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _Invalid("must be a list of text values")
        return list(value)
    if kind == "units":
        return _units(value)
    if kind == "address":
        return _address(value)
    if not isinstance(value, str):
        raise _Invalid("must be text")
    if field.choices and value not in field.choices:
        raise _Invalid(f"must be one of {', '.join(field.choices)}; got {value!r}")
    return value


def _decimal(value: Any, places: int) -> str:
    example = f"1500.{'0' * places}"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"must be a decimal number written as text, like {example!r}")
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
        # The ERP keeps a fixed scale, as a NUMERIC(19, places) column would.
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise _Invalid(f"must be a decimal number like {example!r}; got {value!r}") from None
    return f"{rounded:f}"


def _date(value: Any) -> str:
    try:
        if not isinstance(value, str) or len(value) != len("2026-11-29"):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _Invalid(f"must be a date like '2026-11-29'; got {value!r}") from None


def _units(value: Any) -> list[Record]:
    problem = _Invalid('must be a list of units like {"code": "BOX12", "factor": 12}')
    if not isinstance(value, list):
        raise problem
    units: list[Record] = []
    for unit in value:
        if not isinstance(unit, dict) or set(unit) != {"code", "factor"}:
            raise problem
        code, factor = unit["code"], unit["factor"]
        if not isinstance(code, str) or not code:
            raise problem
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise _Invalid(f"unit {code} needs a whole factor of 1 or more; got {factor!r}")
        units.append({"code": code, "factor": factor})
    return units


def _address(value: Any) -> Record:
    if not isinstance(value, dict):
        raise _Invalid(f"must be an object with {', '.join(ADDRESS_PARTS)}")
    unknown = sorted(set(value) - set(ADDRESS_PARTS))
    if unknown:
        raise _Invalid(f"has no part {unknown[0]!r}; its parts are {', '.join(ADDRESS_PARTS)}")
    if not all(part is None or isinstance(part, str) for part in value.values()):
        raise _Invalid("parts must be text")
    return {part: text for part, text in value.items() if text is not None}


def _key_problem(code: str) -> str | None:
    if code != code.strip():
        return "must not start or end with spaces"
    if any(char in _KEY_FORBIDDEN or not char.isprintable() for char in code):
        return "must not contain '/', ':', ',' or control characters"
    return None
