"""The bounds on numbers, in one place: what syncer reads, computes and writes.

A number is in bounds when it is 0, or has at most :data:`MAX_DIGITS` significant digits and
an exponent (in scientific notation: the ``e`` of ``d.ddd x 10**e``) from ``-MAX_EXPONENT``
to ``MAX_EXPONENT``.

Why these: Repzo keeps money as integer thousandths in a JSON number, an ERP in a
``NUMERIC(18, n)``-like column, so more than 18 significant digits would be cut by the target
anyway; no amount, quantity, rate or time in this domain comes near 10**30. The point of the
bound is the work: ``Decimal("1e999999999")`` is eleven characters of text, but turning it into
an int, formatting it with ``:f`` or rounding it costs a billion digits, which hangs a run
(in C, deaf to SIGTERM). Every place a native value becomes a number checks it here first.

Arithmetic on canonical numbers runs in :data:`CONTEXT`, which has the same bounds: a result
is rounded to :data:`MAX_DIGITS` significant digits, and one out of range raises instead of
growing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    Subnormal,
)
from typing import Any

MAX_DIGITS = 18
"""Significant digits (trailing zeros not counted): an int64, a NUMERIC(18), Repzo's x1000."""
MAX_EXPONENT = 30
"""Largest exponent, either way: 1E-30 <= abs(number) < 1E+31, or 0."""
MAX_SHOWN = 40
"""Characters of a refused value quoted in a message: a cell may hold a megabyte."""

RULE = (
    f"numbers have at most {MAX_DIGITS} significant digits and an exponent from "
    f"-{MAX_EXPONENT} to {MAX_EXPONENT}"
)
"""The bound, as messages end with it."""

CONTEXT = Context(
    prec=MAX_DIGITS,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EXPONENT,
    Emin=-MAX_EXPONENT,
    # Subnormal rather than Underflow: a result below 1E-30 is refused even when exact,
    # the way a value read is.
    traps=[InvalidOperation, DivisionByZero, Overflow, Subnormal],
)
"""Decimal arithmetic within the bounds (transforms, expressions)."""

_WIDE = Context(prec=2 * MAX_EXPONENT + MAX_DIGITS + 2, traps=[InvalidOperation])
"""Enough digits to round any number in bounds to any places up to MAX_DIGITS exactly."""

_INT_LIMIT = 10**MAX_DIGITS
_INT_BITS = math.ceil((MAX_EXPONENT + 1) * math.log2(10))
"""An int of more bits is at least 1E+31: refused without converting it to anything."""
_STR_BITS = 14_000
"""About 4200 digits: str() of an int is quick and allowed (Python refuses beyond 4300)."""
_ZERO = Decimal(0)


class NumberOutOfBounds(ValueError):
    """A number outside the bounds: the record it is in cannot be mapped."""

    def __init__(self, value: str, problem: str, *, computed: bool = False) -> None:
        self.value = value
        """The number as given, quoted and cut to about MAX_SHOWN characters."""
        self.problem = problem
        """What is wrong with it (``its exponent is 999999999``)."""
        self.computed = computed
        """The number is a result (``1E+20 * 1E+20``), not a value read."""
        subject = f"the result of {value}" if computed else f"number {value}"
        super().__init__(f"{subject} is out of bounds: {problem}; {RULE}")


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """``value`` quoted for a message, cut to about ``limit`` characters, never expensive: a
    huge int is described rather than converted to text."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"<an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
    if isinstance(value, Decimal):
        text = str(value)  # scientific for a huge exponent, so short unless the digits are many
    elif isinstance(value, str):
        text = value
    else:
        text = repr(value)
    if len(text) > limit:
        text = f"{text[: limit - 10]}...{text[-6:]} ({len(text)} characters)"
    return repr(text) if isinstance(value, str) else text


def _significant(digits: tuple[int, ...]) -> int:
    count = len(digits)
    while count > 1 and digits[count - 1] == 0:
        count -= 1
    return count


def bounded(number: Decimal, original: Any = None) -> Decimal:
    """``number`` if it is in bounds; NumberOutOfBounds naming ``original`` (default: the
    number) otherwise. A zero with a wild exponent (``0E-999999999``) is plain 0: it is 0, and
    kept as it was it would print a billion zeros."""
    # The common case, in C: rounding to MAX_DIGITS in CONTEXT keeps the value exactly when
    # it has no more significant digits (it runs per number of every record).
    if number.is_finite() and -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        try:
            if CONTEXT.plus(number) == number:
                return number
        except Overflow:  # nineteen nines, rounded up past the largest exponent
            pass
    return _refused(number, number if original is None else original)


def _refused(number: Decimal, original: Any) -> Decimal:
    if not number.is_finite():
        raise NumberOutOfBounds(shown(original), "not finite")
    exponent = number.adjusted()
    if not number:
        return number if -MAX_EXPONENT <= exponent <= MAX_EXPONENT else _ZERO
    if not -MAX_EXPONENT <= exponent <= MAX_EXPONENT:
        raise NumberOutOfBounds(shown(original), f"its exponent is {exponent}")
    count = _significant(number.as_tuple().digits)
    raise NumberOutOfBounds(shown(original), f"it has {count} significant digits")


def bounded_int(number: int, original: Any = None) -> int:
    """``number`` if it is in bounds (trailing zeros are not significant: 10**25 is)."""
    if -_INT_LIMIT < number < _INT_LIMIT:
        return number
    bits = number.bit_length()
    if bits > _INT_BITS:
        exponent = (
            f"{len(str(abs(number))) - 1}"  # exact while str() is cheap (and allowed)
            if bits <= _STR_BITS
            else f"about {int(bits * math.log10(2))}"
        )
        raise NumberOutOfBounds(
            shown(number if original is None else original), f"its exponent is {exponent}"
        )
    bounded(Decimal(number), number if original is None else original)
    return number


def bounded_float(number: float, original: Any = None) -> float:
    """``number`` if it is finite and in bounds (through its repr, the digits it stands for)."""
    if not math.isfinite(number):
        raise NumberOutOfBounds(shown(number if original is None else original), "not finite")
    if number:
        bounded(Decimal(repr(number)), number if original is None else original)
    return number


def bounded_number(value: Any, original: Any = None) -> Any:
    """Any value, checked when it is a number (int, float, Decimal; bool is not one)."""
    kind = type(value)
    if kind is Decimal:
        return bounded(value, original)
    if kind is int:
        return bounded_int(value, original)
    if kind is float:
        return bounded_float(value, original)
    return value


def computed(operation: str, compute: Callable[..., Decimal], *operands: Decimal) -> Decimal:
    """``compute(CONTEXT, *operands)``, e.g. ``computed("/", Context.divide, a, b)``; a result
    out of bounds is NumberOutOfBounds naming the operation."""
    try:
        # CONTEXT has the bounds: a result it returns is within them
        return compute(CONTEXT, *operands)
    except DecimalException as signal:
        what = f" {operation} ".join(shown(operand) for operand in operands)
        raise NumberOutOfBounds(what, signal_problem(signal), computed=True) from None


def signal_problem(signal: DecimalException) -> str:
    """What a decimal signal raised in :data:`CONTEXT` means, in words."""
    if isinstance(signal, Overflow):
        return f"its exponent is above {MAX_EXPONENT}"
    if isinstance(signal, Subnormal):
        return f"its exponent is below -{MAX_EXPONENT}"
    if isinstance(signal, ZeroDivisionError):  # DivisionByZero, and 0 / 0
        return "it divides by zero"
    return f"it needs more than {MAX_DIGITS} significant digits"


def round_places(number: Decimal, places: int, rounding: str) -> Decimal:
    """``number`` rounded to ``places`` decimals (0 to MAX_DIGITS), exactly, then checked: a
    number in bounds may need more than MAX_DIGITS digits to be written with its places
    (1E+20 with 2 places), so rounding uses a wider context."""
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=rounding, context=_WIDE)
    return bounded(rounded, number)
