"""Named value transforms, each with its inverse, for mapping native values to canonical ones.

``read`` turns a native value into a canonical one; ``write`` turns it back. A transform
without ``write`` is not invertible: a mapping may use it only on read-only fields. Normalisers
(``strip``, ``upper``...) write values back unchanged, because the canonical value is already
the normal form.

Every transform declares its parameters in :data:`TRANSFORMS` (name, kind, meaning, default or
required), and :func:`build` checks what a mapping gives against that table before the factory
runs, so a misspelled or mistyped parameter is refused when the mapping loads.

Money rounds half away from zero (the way invoices are printed), never through floats.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from syncer.canonical.numbers import (
    MAX_DIGITS,
    bounded,
    bounded_float,
    bounded_int,
    bounded_number,
    computed,
    round_places,
    shown,
)
from syncer.validation import describe, unknown_name

THOUSAND = Decimal(1000)


class TransformValueError(ValueError):
    """A value the transform cannot convert; the message says what was expected."""


class ParameterError(ValueError):
    """Parameters a transform refuses. ``problems`` pairs each message with the parameter it
    is about (None: the parameters as a whole), so the loader can place each on its line."""

    def __init__(self, problems: Sequence[tuple[str | None, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(message for _, message in self.problems))


@dataclass(frozen=True, slots=True)
class Transform:
    name: str
    read: Callable[[Any], Any]
    write: Callable[[Any], Any] | None
    rounds: bool = False
    """Writing may round the value (to Repzo's thousandths, to an ERP's 3 places): the
    mapping compares what it wrote, read back, with what it was given."""

    @property
    def invertible(self) -> bool:
        return self.write is not None


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal from an int, a numeric string or a float (through its repr, so 0.1
    stays 0.1). Booleans and non-finite numbers are refused, and so is a number outside the
    bounds of :mod:`syncer.canonical.numbers` (NumberOutOfBounds, a ValueError)."""
    if type(value) is int:  # the common case (Repzo's x1000 amounts), straight through
        return Decimal(bounded_int(value))
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TransformValueError(f"expected a number, got {type(value).__name__} {shown(value)}")
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise TransformValueError(f"expected a number, got {shown(value)}") from None
    if not result.is_finite():
        raise TransformValueError(f"expected a finite number, got {shown(value)}")
    return bounded(result, value)


def to_int(value: Any) -> int:
    """A whole number, as ``int()`` makes it (``"12"``, ``12.7`` -> 12), within the bounds:
    a Decimal or float is checked before ``int()`` sees it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal | float):
        return int(bounded_number(value))
    if isinstance(value, int):
        return bounded_int(value)
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:  # not a whole number, or more digits than Python parses
            raise TransformValueError(f"expected a whole number, got {shown(value)}") from None
        return bounded_int(number, value)
    raise TransformValueError(f"expected a whole number, got {type(value).__name__} {shown(value)}")


def to_float(value: Any) -> float:
    """A float, through :func:`to_decimal` so that text is checked against the bounds before
    it becomes one (``float("1e999")`` is inf, not an error)."""
    if isinstance(value, bool):
        return float(value)
    if type(value) is float:
        return bounded_float(value)
    return float(to_decimal(value))


def _round(value: Decimal, places: int) -> Decimal:
    return round_places(value, places, ROUND_HALF_UP)


# -- parameters --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    """What a parameter accepts. ``convert`` returns the value the factory gets, or raises
    ValueError: with a message when it has more to say than "expected <expected>"."""

    expected: str
    convert: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind
    meaning: str
    """What the parameter is for, as a noun phrase ("the number of decimals written")."""
    default: Any = None
    required: bool = False


def _places(value: Any) -> int:
    # bool is an int to Python, but `places: true` is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError
    if value > MAX_DIGITS:
        # more places than a number has significant digits: nothing but 0 could be written
        raise ValueError(f"expected a whole number from 0 to {MAX_DIGITS}, got {value}")
    return value


def _nonzero_number(value: Any) -> Decimal:
    try:
        number = to_decimal(value)
    except TransformValueError:
        raise ValueError from None
    if number == 0:
        raise ValueError
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _nonempty_text(value: Any) -> str:
    if not _text(value):
        raise ValueError
    return str(value)


def _zone(name: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(_text(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {describe(name)}; expected an IANA name such as Asia/Amman"
        ) from None


def _choice(name: str, choices: Sequence[str]) -> Kind:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(unknown_name(name, value, choices))
        return str(value)

    return Kind(f"one of: {', '.join(choices)}", convert)


PLACES = Kind("a whole number >= 0", _places)
NONZERO_NUMBER = Kind("a number other than 0", _nonzero_number)
TEXT = Kind("text", _text)
NONEMPTY_TEXT = Kind("text of at least one character", _nonempty_text)
TIME_ZONE = Kind("an IANA time zone name such as Asia/Amman", _zone)
PRECISIONS = {"ms": "milliseconds", "s": "seconds", "us": "microseconds"}


@dataclass(frozen=True, slots=True)
class TransformType:
    """A named transform: its parameters, and the factory that gets them checked."""

    name: str
    make: Callable[..., Transform]
    """Called with every declared parameter as a keyword, defaults filled in."""
    params: tuple[Param, ...] = ()

    def __call__(self, params: Mapping[str, Any], hidden: Collection[str] = ()) -> Transform:
        return self.make(**self.arguments(params, hidden))

    def arguments(self, given: Mapping[str, Any], hidden: Collection[str] = ()) -> dict[str, Any]:
        """The checked parameters; ParameterError names every one that is wrong. Values of
        the ``hidden`` parameters (set from the environment, maybe secrets) are never quoted."""
        declared = {param.name: param for param in self.params}
        problems: list[tuple[str | None, str]] = [
            (name, self._unknown(name)) for name in given if name not in declared
        ]
        values: dict[str, Any] = {}
        for param in self.params:
            value = given.get(param.name)
            if value is None and param.required:
                problems.append((None, self._missing(param)))
            elif value is None:
                values[param.name] = param.default
            else:
                try:
                    values[param.name] = param.kind.convert(value)
                except ValueError as error:
                    shown = None if param.name in hidden else value
                    problems.append((param.name, self._refused(param, shown, error)))
        if problems:
            raise ParameterError(problems)
        return values

    def _unknown(self, name: Any) -> str:
        where = f"transform {self.name}"
        if not self.params:
            return f"unknown parameter {name!r} of {where}; it takes no parameters"
        return unknown_name("parameter", name, [p.name for p in self.params], of=where)

    def _missing(self, param: Param) -> str:
        return (
            f"transform {self.name} needs the parameter {param.name}: {param.meaning}, "
            f"{param.kind.expected}"
        )

    def _refused(self, param: Param, shown: Any, error: ValueError) -> str:
        """``shown``: the value to quote, None to quote nothing (not even the reason)."""
        if shown is None:
            reason = f"expected {param.kind.expected}"
        else:
            reason = str(error) or f"expected {param.kind.expected}, got {describe(shown)}"
        return f"transform {self.name}: {param.name} must be {param.meaning}; {reason}"


# -- the transforms ----------------------------------------------------------------------


def money_x1000() -> Transform:
    """Repzo stores money as integer thousandths: 12500 is 12.5."""

    def read(value: Any) -> Decimal:
        return computed("/", Context.divide, to_decimal(value), THOUSAND)

    def write(value: Any) -> int:
        return int(computed("x", Context.multiply, _round(to_decimal(value), 3), THOUSAND))

    return Transform("money_x1000", read, write, rounds=True)


def scale(factor: Decimal) -> Transform:
    """Native = canonical x ``factor`` (e.g. a rate stored as 0.16 for 16 %: factor 0.01)."""
    return Transform(
        "scale",
        lambda v: computed("/", Context.divide, to_decimal(v), factor),
        lambda v: computed("x", Context.multiply, to_decimal(v), factor),
    )


def decimal_string(places: int | None) -> Transform:
    """A decimal written as text, as ERPs do: "1234.50". ``places`` fixes the decimals written."""

    def write(value: Any) -> str:
        number = to_decimal(value)
        if places is not None:
            return f"{_round(number, places):f}"
        return _plain(number)

    return Transform("decimal_string", to_decimal, write, rounds=places is not None)


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


def date_ymd() -> Transform:
    """A business date as ``YYYY-MM-DD`` (Repzo's issue and due dates)."""
    return date_format("%Y-%m-%d")


def date_format(format: str) -> Transform:
    """A business date in any strftime ``format`` (SAP's ``%Y%m%d``...)."""
    return Transform(
        "date_format", lambda v: _parse_date(v, format), lambda v: _date(v).strftime(format)
    )


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


def epoch_ms() -> Transform:
    """Milliseconds since the epoch (Repzo's event times) <-> an aware UTC instant."""

    def read(value: Any) -> datetime:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TransformValueError(f"expected milliseconds since the epoch, got {value!r}")
        try:
            millis = int(to_decimal(value))
        except TransformValueError:
            raise TransformValueError(
                f"expected milliseconds since the epoch, got {shown(value)}"
            ) from None
        try:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
        except OverflowError:
            raise TransformValueError(
                f"expected milliseconds since the epoch within the years 1 to 9999, got "
                f"{shown(value)}"
            ) from None

    def write(value: Any) -> int:
        delta = _aware(value) - datetime(1970, 1, 1, tzinfo=UTC)
        return delta // timedelta(milliseconds=1)

    return Transform("epoch_ms", read, write)


def iso_datetime(
    assume_timezone: zoneinfo.ZoneInfo | None,
    timezone: zoneinfo.ZoneInfo | None,
    precision: str,
) -> Transform:
    """ISO 8601 text <-> an aware UTC instant.

    ``assume_timezone``: the zone of times written without an offset (without it they are an
    error: a naive time is ambiguous). ``timezone``: the zone times are written in (UTC by
    default, with ``Z``); ``precision``: ``ms`` (default), ``s`` or ``us``.
    """
    output = timezone or UTC
    timespec = PRECISIONS[precision]

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
            if assume_timezone is None:
                raise TransformValueError(
                    f"the time {value!r} has no offset; set assume_timezone on the transform to "
                    "say which zone such times are in"
                )
            moment = moment.replace(tzinfo=assume_timezone)
        return moment.astimezone(UTC)

    def write(value: Any) -> str:
        text = _aware(value).astimezone(output).isoformat(timespec=timespec)
        return text.replace("+00:00", "Z") if output is UTC else text

    return Transform("iso_datetime", read, write)


def _normaliser(function: Callable[[str], str], name: str) -> Callable[[], Transform]:
    def factory() -> Transform:
        def read(value: Any) -> str:
            if not isinstance(value, str):
                raise TransformValueError(f"{name} expects text, got {value!r}")
            return function(value)

        return Transform(name, read, lambda value: value)

    factory.__doc__ = f"Normalise text with {name} on read; written back unchanged."
    return factory


def negate() -> Transform:
    """A boolean flipped both ways: Repzo's ``disabled`` <-> canonical ``active``."""

    def flip(value: Any) -> bool:
        if not isinstance(value, bool):
            raise TransformValueError(f"expected true or false, got {value!r}")
        return not value

    return Transform("negate", flip, flip)


def join(separator: str) -> Transform:
    """A list kept as one delimited string natively (tags "a, b" <-> ["a", "b"])."""

    def read(value: Any) -> list[str]:
        if not isinstance(value, str):
            raise TransformValueError(f"expected text separated by {separator!r}, got {value!r}")
        return [part.strip() for part in value.split(separator) if part.strip()]

    def write(value: Any) -> str:
        if not isinstance(value, list):
            raise TransformValueError(f"expected a list, got {value!r}")
        return separator.join(str(item) for item in value)

    return Transform("join", read, write)


def first_word() -> Transform:
    """The first word of a text. Lossy: read-only fields only."""

    def read(value: Any) -> str:
        if not isinstance(value, str):
            raise TransformValueError(f"expected text, got {value!r}")
        return value.split()[0] if value.split() else ""

    return Transform("first_word", read, None)


def _table(*types: TransformType) -> dict[str, TransformType]:
    return {kind.name: kind for kind in types}


TRANSFORMS: dict[str, TransformType] = _table(
    TransformType("money_x1000", money_x1000),
    TransformType(
        "scale",
        scale,
        (
            Param(
                "factor",
                NONZERO_NUMBER,
                "the native value of one canonical unit",
                default=Decimal(1),
            ),
        ),
    ),
    TransformType(
        "decimal_string",
        decimal_string,
        (Param("places", PLACES, "the number of decimals written"),),
    ),
    TransformType("date_ymd", date_ymd),
    TransformType(
        "date_format",
        date_format,
        (Param("format", TEXT, "the strftime pattern of the native date", default="%Y-%m-%d"),),
    ),
    TransformType("epoch_ms", epoch_ms),
    TransformType(
        "iso_datetime",
        iso_datetime,
        (
            Param("assume_timezone", TIME_ZONE, "the zone of native times without an offset"),
            Param("timezone", TIME_ZONE, "the zone times are written in"),
            Param(
                "precision",
                _choice("precision", list(PRECISIONS)),
                "the smallest unit written",
                default="ms",
            ),
        ),
    ),
    TransformType("strip", _normaliser(str.strip, "strip")),
    TransformType("upper", _normaliser(str.upper, "upper")),
    TransformType("lower", _normaliser(str.lower, "lower")),
    TransformType("negate", negate),
    TransformType(
        "join",
        join,
        (Param("separator", NONEMPTY_TEXT, "the text between the items", default=","),),
    ),
    TransformType("first_word", first_word),
)
"""Every transform a mapping can name, with the parameters each accepts."""


def build(name: str, params: Mapping[str, Any], hidden: Collection[str] = ()) -> Transform:
    """The transform ``name`` with its parameters; ValueError for an unknown name, and
    ParameterError (a ValueError) naming every parameter that is unknown, missing or of the
    wrong kind. The mapping loader reports them with file and line. ``hidden``: parameters
    whose values must not be quoted."""
    kind = TRANSFORMS.get(name)
    if kind is None:
        raise ValueError(unknown_name("transform", name, TRANSFORMS))
    return kind(params, hidden)
