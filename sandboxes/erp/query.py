"""List parameters: ``limit``, ``updated_since``, ``cursor`` and equality filters.

The cursor is a keyset position, the (updated_at, key) of the last record served, encoded as
urlsafe base64 so clients treat it as opaque. It is never an offset: a record edited while a
client pages moves to the end of the order instead of shifting every later page by one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sandboxes.erp.errors import ErpError, bad_request
from sandboxes.erp.localtime import LocalTime
from sandboxes.erp.store import Filter, Position

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_RESERVED = frozenset({"limit", "cursor", "updated_since"})
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ListParams:
    limit: int = DEFAULT_LIMIT
    since_s: int | None = None
    after: Position | None = None
    filters: tuple[Filter, ...] = ()


def parse_list_params(query: Sequence[tuple[str, str]], times: LocalTime) -> ListParams:
    # An empty value (``cursor=`` on a first page) means the parameter is not there.
    single = {name: value for name, value in query if name in _RESERVED and value}
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        if name in _RESERVED:
            continue
        if not _FIELD_NAME.fullmatch(name):
            raise _invalid(name, "is not a field name to filter on")
        # ?status=a,b and ?status=a&status=b both mean "any of".
        grouped.setdefault(name, []).extend(part for part in value.split(",") if part)
    return ListParams(
        limit=_limit(single.get("limit")),
        since_s=_since(single.get("updated_since"), times),
        after=decode_cursor(single["cursor"], times) if "cursor" in single else None,
        filters=tuple(Filter(name, tuple(values)) for name, values in grouped.items() if values),
    )


def encode_cursor(position: Position, times: LocalTime) -> str:
    raw = json.dumps([times.format(position.updated_s), position.key], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, times: LocalTime) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, key = json.loads(raw)
        if not isinstance(stamp, str) or not isinstance(key, str):
            raise ValueError
        return Position(times.parse(stamp), key)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _invalid(
            "cursor", "is not a cursor this server handed out; start again without it"
        ) from None


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.strip().isdigit() or int(value) < 1:
        raise _invalid("limit", f"must be a whole number from 1 to {MAX_LIMIT}; got {value!r}")
    # Like most ERPs, a larger page than allowed is served at the maximum, not refused.
    return min(int(value), MAX_LIMIT)


def _since(value: str | None, times: LocalTime) -> int | None:
    if value is None:
        return None
    try:
        return times.parse(value)
    except ValueError as exc:
        raise _invalid("updated_since", f"is invalid: {exc}") from None


def _invalid(parameter: str, problem: str) -> ErpError:
    return bad_request(f"Query parameter {parameter} {problem}.", "invalid_parameter")
