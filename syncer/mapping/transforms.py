"""Named value transforms, each with its inverse, for mapping native values to canonical ones.

``read`` turns a native value into a canonical one; ``write`` turns it back. A transform
without ``write`` is not invertible: a mapping may use it only on read-only fields. Normalisers
(``strip``, ``upper``...) write values back unchanged, because the canonical value is already
the normal form.

Money rounds half away from zero (the way invoices are printed), never through floats.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

THOUSAND = Decimal(1000)
MILLI = Decimal("0.001")


class TransformValueError(ValueError):
    """A value the transform cannot convert; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Transform:
    name: str
    read: Callable[[Any], Any]
    write: Callable[[Any], Any] | None

    @property
    def invertible(self) -> bool:
        return self.write is not None


Factory = Callable[[Mapping[str, Any]], Transform]


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal from an int, a numeric string or a float (through its repr, so 0.1
    stays 0.1). Booleans and non-finite numbers are refused."""
    if type(value) is int:  # the common case (Repzo's x1000 amounts), straight through
        return Decimal(value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TransformValueError(f"expected a number, got {type(value).__name__} {value!r}")
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise TransformValueError(f"expected a number, got {value!r}") from None
    if not result.is_finite():
        raise TransformValueError(f"expected a finite number, got {value!r}")
    return result


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def money_x1000(_params: Mapping[str, Any]) -> Transform:
    """Repzo stores money as integer thousandths: 12500 is 12.5."""

    def read(value: Any) -> Decimal:
        return to_decimal(value) / THOUSAND

    def write(value: Any) -> int:
        return int(_round(to_decimal(value), 3) * THOUSAND)

    return Transform("money_x1000", read, write)


def scale(params: Mapping[str, Any]) -> Transform:
    """Native = canonical x ``factor`` (e.g. a rate stored as 0.16 for 16 %: factor 0.01)."""
    factor = to_decimal(params.get("factor", 1))
    if factor == 0:
        raise ValueError("scale needs a factor other than 0")
    return Transform("scale", lambda v: to_decimal(v) / factor, lambda v: to_decimal(v) * factor)


def decimal_string(params: Mapping[str, Any]) -> Transform:
    """A decimal written as text, as ERPs do: "1234.50". ``places`` fixes the decimals written."""
    places = params.get("places")
    if places is not None and (not isinstance(places, int) or places < 0):
        raise ValueError("decimal_string places must be a whole number >= 0")

    def write(value: Any) -> str:
        number = to_decimal(value)
        if places is not None:
            return f"{_round(number, places):f}"
        return _plain(number)

    return Transform("decimal_string", to_decimal, write)


def _plain(number: Decimal) -> str:
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "") else text


def _parse_date(value: Any, fmt: str) -> date:
    if isinstance(value, datetime):
        raise TransformValueError(f"expected a date, got a date-time {value!r}")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise TransformValueError(f"expected a date as text, got {value!r}")
    try:
        return datetime.strptime(value.strip(), fmt).date()  # noqa: DTZ007 - a date, no time
    except ValueError:
        example = date(2026, 11, 29).strftime(fmt)
        raise TransformValueError(f"expected a date like {example}, got {value!r}") from None


def date_ymd(_params: Mapping[str, Any]) -> Transform:
    """A business date as ``YYYY-MM-DD`` (Repzo's issue and due dates)."""
    return date_format({"format": "%Y-%m-%d"})


def date_format(params: Mapping[str, Any]) -> Transform:
    """A business date in any strftime ``format`` (SAP's ``%Y%m%d``...)."""
    fmt = str(params.get("format", "%Y-%m-%d"))
    return Transform("date_format", lambda v: _parse_date(v, fmt), lambda v: _date(v).strftime(fmt))


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise TransformValueError(f"expected a date, got {value!r}")


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise TransformValueError(f"expected a date-time, got {value!r}")
    if value.tzinfo is None:
        raise TransformValueError(f"expected a timezone-aware date-time, got the naive {value!r}")
    return value


def epoch_ms(_params: Mapping[str, Any]) -> Transform:
    """Milliseconds since the epoch (Repzo's event times) <-> an aware UTC instant."""

    def read(value: Any) -> datetime:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TransformValueError(f"expected milliseconds since the epoch, got {value!r}")
        try:
            millis = int(to_decimal(value))
        except TransformValueError:
            raise TransformValueError(
                f"expected milliseconds since the epoch, got {value!r}"
            ) from None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)

    def write(value: Any) -> int:
        delta = _aware(value) - datetime(1970, 1, 1, tzinfo=UTC)
        return delta // timedelta(milliseconds=1)

    return Transform("epoch_ms", read, write)


def iso_datetime(params: Mapping[str, Any]) -> Transform:
    """ISO 8601 text <-> an aware UTC instant.

    ``assume_timezone``: the zone of times written without an offset (without it they are an
    error: a naive time is ambiguous). ``timezone``: the zone times are written in (UTC by
    default, with ``Z``); ``precision``: ``ms`` (default), ``s`` or ``us``.
    """
    assumed = _zone(params.get("assume_timezone"))
    output = _zone(params.get("timezone")) or UTC
    precision = {"ms": "milliseconds", "s": "seconds", "us": "microseconds"}[
        str(params.get("precision", "ms"))
    ]

    def read(value: Any) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise TransformValueError(
                    "expected an ISO 8601 date-time such as 2026-11-29T21:04:45.704Z, "
                    f"got {value!r}"
                ) from None
        else:
            raise TransformValueError(f"expected an ISO 8601 date-time, got {value!r}")
        if moment.tzinfo is None:
            if assumed is None:
                raise TransformValueError(
                    f"the time {value!r} has no offset; set assume_timezone on the transform to "
                    "say which zone such times are in"
                )
            moment = moment.replace(tzinfo=assumed)
        return moment.astimezone(UTC)

    def write(value: Any) -> str:
        text = _aware(value).astimezone(output).isoformat(timespec=precision)
        return text.replace("+00:00", "Z") if output is UTC else text

    return Transform("iso_datetime", read, write)


def _zone(name: Any) -> zoneinfo.ZoneInfo | None:
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected an IANA name such as Asia/Amman"
        ) from None


def _text(function: Callable[[str], str], name: str) -> Factory:
    def factory(_params: Mapping[str, Any]) -> Transform:
        def read(value: Any) -> str:
            if not isinstance(value, str):
                raise TransformValueError(f"{name} expects text, got {value!r}")
            return function(value)

        return Transform(name, read, lambda value: value)

    factory.__doc__ = f"Normalise text with {name} on read; written back unchanged."
    return factory


def negate(_params: Mapping[str, Any]) -> Transform:
    """A boolean flipped both ways: Repzo's ``disabled`` <-> canonical ``active``."""

    def flip(value: Any) -> bool:
        if not isinstance(value, bool):
            raise TransformValueError(f"expected true or false, got {value!r}")
        return not value

    return Transform("negate", flip, flip)


def join(params: Mapping[str, Any]) -> Transform:
    """A list kept as one delimited string natively (tags "a, b" <-> ["a", "b"])."""
    separator = str(params.get("separator", ","))

    def read(value: Any) -> list[str]:
        if not isinstance(value, str):
            raise TransformValueError(f"expected text separated by {separator!r}, got {value!r}")
        return [part.strip() for part in value.split(separator) if part.strip()]

    def write(value: Any) -> str:
        if not isinstance(value, list):
            raise TransformValueError(f"expected a list, got {value!r}")
        return separator.join(str(item) for item in value)

    return Transform("join", read, write)


def first_word(_params: Mapping[str, Any]) -> Transform:
    """The first word of a text. Lossy: read-only fields only."""

    def read(value: Any) -> str:
        if not isinstance(value, str):
            raise TransformValueError(f"expected text, got {value!r}")
        return value.split()[0] if value.split() else ""

    return Transform("first_word", read, None)


TRANSFORMS: dict[str, Factory] = {
    "money_x1000": money_x1000,
    "scale": scale,
    "decimal_string": decimal_string,
    "date_ymd": date_ymd,
    "date_format": date_format,
    "epoch_ms": epoch_ms,
    "iso_datetime": iso_datetime,
    "strip": _text(str.strip, "strip"),
    "upper": _text(str.upper, "upper"),
    "lower": _text(str.lower, "lower"),
    "negate": negate,
    "join": join,
    "first_word": first_word,
}
"""Every transform a mapping can name."""


def build(name: str, params: Mapping[str, Any]) -> Transform:
    """The transform ``name`` with its parameters; ValueError for an unknown name or bad
    parameters (the mapping loader reports it with file and line)."""
    factory = TRANSFORMS.get(name)
    if factory is None:
        raise ValueError(
            f"unknown transform {name!r}; expected one of: {', '.join(sorted(TRANSFORMS))}"
        )
    return factory(params)
