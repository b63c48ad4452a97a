"""A stable content hash of a canonical record, for change detection and echo suppression.

Equal content gives an equal hash however it is represented: key order, ``1.5`` vs
``Decimal("1.50")``, ``2026-11-29T21:00:00+03:00`` vs ``2026-11-29T18:00:00Z``. Empty values
(None, "", [], {}) count as absent, so a system that writes "" where another writes nothing does
not look like a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

SPELLED_OUT = 400
"""Decimals with an exponent beyond this are hashed in scientific notation. Spelled out,
``1e999999999`` is a billion digits: int() on it runs for minutes, in C, deaf to SIGTERM. A
canonical number never gets near (see :mod:`syncer.canonical.numbers`), and every float (up
to 1.8e308) stays below it, so the hash of nothing that can still be synced changes."""
_INT_BITS = 14_000
"""About 4200 digits: what str() converts (Python refuses more than 4300), as JSON parses."""


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return _int(int(value))  # int(): an IntEnum hashes as its number
    return _decimal(Decimal(repr(value)) if isinstance(value, float) else value)


def _int(value: int) -> str:
    if value.bit_length() <= _INT_BITS:
        return str(value)
    # Only a connector written in Python can hand over such an int; str() would refuse it.
    return _decimal(Decimal(value))


def _float(value: float) -> str:
    # repr is the shortest exact spelling; only exponent forms need the slow, general path.
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    return _number(value) if "e" in text or "n" in text else text


def _decimal(value: Decimal) -> str:
    if not value.is_finite() or not -SPELLED_OUT <= value.adjusted() <= SPELLED_OUT:
        return _scientific(value)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def _scientific(value: Decimal) -> str:
    """One spelling per value, in time linear in its digits: ``1.5E+999999999``."""
    if not value.is_finite():
        return str(value)  # Infinity, -Infinity, NaN: only native extras can hold them
    sign, digits, _ = value.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return "0"
    mantissa = significant[0] + (f".{significant[1:]}" if len(significant) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}E{value.adjusted():+d}"


def _datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"cannot hash the naive time {value!r}")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        kind = type(item)
        if item is None or (kind is str and not item):
            continue
        if kind is str or kind is bool:
            out[str(key)] = item
        elif (kind is list or kind is dict) and not item:
            continue
        else:
            out[str(key)] = normalize(item)
    return out


# Dispatch on the exact type first: hashing runs for every record of every sync.
_BY_TYPE: dict[type, Any] = {
    str: lambda value: value,
    bool: lambda value: value,
    type(None): lambda value: value,
    int: _int,
    float: _float,
    Decimal: _decimal,
    datetime: _datetime,
    date: lambda value: value.isoformat(),
    dict: _mapping,
    list: lambda value: [normalize(item) for item in value],
}


def normalize(value: Any) -> Any:
    """A JSON-ready form in which equal values are equal."""
    convert = _BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return normalize(value.value)
    if isinstance(value, BaseModel):
        return normalize(value.model_dump())
    if isinstance(value, Mapping):
        return _mapping(value)
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    raise TypeError(f"cannot hash a {type(value).__name__}")


_encode_string: Any = json.encoder.encode_basestring
"""JSON's own string encoder (C), as ``json.dumps(..., ensure_ascii=False)`` uses it."""

_SORTED: dict[frozenset[str], tuple[tuple[str, str], ...]] = {}
"""Per field set: (name, its JSON-encoded key) in sorted order. Flows have a handful."""


def _sorted_fields(fields: frozenset[str]) -> tuple[tuple[str, str], ...]:
    found = _SORTED.get(fields)
    if found is None:
        found = tuple((name, _encode_string(name)) for name in sorted(fields))
        if len(_SORTED) < 1024:
            _SORTED[fields] = found
    return found


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""One encoder for every hash: ``json.dumps`` with options builds a new one each call."""


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


def content_hash(values: Mapping[str, Any], fields: Iterable[str] | None = None) -> str:
    """SHA-256 (hex) of the normalised ``values``, restricted to ``fields`` when given.

    The hashed text is ``json.dumps(document, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` of the normalised document; the top level is spelled out here
    because this runs for every record of every sync, and the text must never change: stored
    hashes would all look like changes.
    """
    names = _sorted_fields(frozenset(values if fields is None else fields))
    parts: list[str] = []
    for name, key in names:
        item: Any = values.get(name)
        if item is None:
            continue
        kind: type = type(item)
        if kind is str:
            if item:
                parts.append(f"{key}:{_encode_string(item)}")
            continue
        if kind is bool:
            parts.append(f"{key}:true" if item else f"{key}:false")
            continue
        if kind is Decimal:
            parts.append(f'{key}:"{_decimal(item)}"')  # digits, sign and a dot: nothing to escape
            continue
        if kind is float:
            parts.append(f"{key}:{_encode_string(_float(item))}")
            continue
        if (kind is list or kind is dict) and not item:
            continue
        plain = normalize(item)
        text = _encode_string(plain) if type(plain) is str else _json(plain)
        parts.append(f"{key}:{text}")
    text = "{" + ",".join(parts) + "}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def snapshot_json(snap: Mapping[str, Any]) -> str:
    """The JSON text of a snapshot: values already normalised (:func:`normalize`, as
    :func:`syncer.engine.snapshots.snapshot` keeps them), keys sorted, compact. It is the
    text :func:`content_hash` hashes, so :func:`snapshot_hash` of it equals the content hash
    (a test holds the two together)."""
    return _json(snap)


def json_hash(snap: Mapping[str, Any], text: str) -> str:
    """:func:`content_hash` of a snapshot, given its :func:`snapshot_json` text: for flat text
    and flags (what snapshots hold, normalised), that text is the one the general function
    builds field by field in Python, so hashing it is the same hash for less work. Anything
    else (a list, a number kept by an older version) takes the general way."""
    for value in snap.values():
        kind = type(value)
        if not ((kind is str and value) or kind is bool):
            return content_hash(snap)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
