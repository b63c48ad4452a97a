"""Small, safe expressions for what paths, maps and transforms cannot say.

Evaluated by simpleeval (no ``eval``, no attribute access to dunders, no imports), with a fixed
set of names and functions; an expression is parsed and checked once, when the mapping loads.

On top of simpleeval, an expression:

- reads the record through a read-only view (nested objects and lists too), so it can never
  change what it maps;
- has no clock: ``datetime.now()``, ``date.today()``... are refused, when the mapping loads
  wherever that can be seen then, else on the record;
- may use only the attributes listed in :data:`ATTRIBUTES`, for the type of value at hand;
- has a budget: numbers stay within the bounds of :mod:`syncer.canonical.numbers` (checked by
  ``int``, ``float``, ``decimal``, ``round``, ``**`` and on the result, and Decimal arithmetic
  runs in their context), and text within :data:`MAX_TEXT` characters.

Calls of clock and mutating methods are refused by name, and every part that does not depend
on the record (``round(Decimal('1e999999999'))``) is evaluated once, when the mapping loads, so
such mistakes are reported with their file and line rather than on every record.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, DecimalException, localcontext
from typing import Any, NoReturn

import simpleeval
from simpleeval import DEFAULT_OPERATORS, EvalWithCompoundTypes

from syncer.canonical.documents import line_discount, money
from syncer.canonical.numbers import (
    CONTEXT,
    MAX_EXPONENT,
    NumberOutOfBounds,
    bounded_int,
    bounded_number,
    shown,
    signal_problem,
)
from syncer.mapping.transforms import TransformValueError, to_decimal, to_float, to_int

MAX_TEXT: int = simpleeval.MAX_STRING_LENGTH
"""Longest text an expression may build (100 000 characters): ``+``, ``*``, ``join``,
``concat``, ``replace`` and padding check the length of their result before building it."""
MAX_FORMAT_WIDTH = 100
"""Largest width or precision in an f-string format (``f"{x:>100}"``)."""


class ExpressionError(ValueError):
    """An expression that does not parse, uses a name it may not, or fails on a record."""

    def __init__(self, expression: str, problem: str) -> None:
        self.expression = expression
        self.problem = problem
        """What is wrong, after the expression in the message (``failed: ...``)."""
        super().__init__(f"expression {expression!r} {problem}")


class Refused(Exception):
    """Something an expression may not do (read the clock, change the record, use an attribute
    not listed, go over its budget); ``problem`` says what, in words."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


# -- the record, read-only ----------------------------------------------------------------


class RecordView(Mapping[Any, Any]):
    """A native or canonical record as expressions see it: it reads like the dict it wraps
    (``record["a"]["b"]``, ``.get``, iteration, ``len``, ``in``, ``==``), and has no way to
    change it. Nested objects and lists are wrapped as they are read."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[Any, Any]) -> None:
        self._data = data

    def __getitem__(self, key: Any) -> Any:
        return view(self._data[key])

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        return bool(self._data == plain(other))

    __hash__ = None  # type: ignore[assignment]  # like the dict it stands for

    def __repr__(self) -> str:
        return repr(self._data)


class ListView(Sequence[Any]):
    """A list inside a record, read-only, as :class:`RecordView`."""

    __slots__ = ("_data",)

    def __init__(self, data: Sequence[Any]) -> None:
        self._data = data

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return ListView(self._data[index])
        return view(self._data[index])

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Any]:
        return (view(item) for item in self._data)

    def __contains__(self, item: object) -> bool:
        return plain(item) in self._data

    def __eq__(self, other: object) -> bool:
        return bool(self._data == plain(other))

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> Any:
        if not isinstance(other, list | ListView):
            return NotImplemented
        return ListView([*self._data, *plain(other)])

    def __radd__(self, other: Any) -> Any:
        if not isinstance(other, list):
            return NotImplemented
        return ListView([*other, *self._data])

    def __repr__(self) -> str:
        return repr(self._data)


def view(value: Any) -> Any:
    """``value`` as expressions see it: objects and lists read-only, the rest as it is."""
    if isinstance(value, RecordView | ListView):
        return value
    if isinstance(value, Mapping):
        return RecordView(value)
    if isinstance(value, list):
        return ListView(value)
    return value


def plain(value: Any) -> Any:
    """A plain copy of what an expression returns: views become dicts and lists of their own,
    so that what a mapping produces never shares (or exposes) the record it came from."""
    if isinstance(value, RecordView | ListView):
        value = value._data
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        copied = [plain(item) for item in value]
        return tuple(copied) if isinstance(value, tuple) else copied
    return value


# -- functions ----------------------------------------------------------------------------


def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value not in (None, "")), None)


def _text_budget(length: int, what: str) -> None:
    if length > MAX_TEXT:
        raise Refused(f"{what} would make text of {length} characters; the most is {MAX_TEXT}")


def _concat(*values: Any, sep: str = "") -> str:
    parts = [str(value) for value in values if value not in (None, "")]
    _text_budget(sum(map(len, parts)) + len(str(sep)) * max(len(parts) - 1, 0), "concat")
    return str(sep).join(parts)


def _join(items: Any, sep: str = "") -> str:
    parts = [str(item) for item in items]
    _text_budget(sum(map(len, parts)) + len(str(sep)) * max(len(parts) - 1, 0), "join")
    return str(sep).join(parts)


def _int(value: Any = 0, *base: Any) -> int:
    if base:  # int("ff", 16): text in a base; Python refuses more than 4300 digits
        return bounded_int(int(value, *base), value)
    return to_int(value)


def _float(value: Any = 0.0) -> float:
    return to_float(value)


def _decimal(value: Any = 0) -> Decimal:
    return to_decimal(value)


def _round(number: Any, ndigits: Any = None) -> Any:
    # Checked before round() sees it: round(Decimal("1e999999999")) builds a billion-digit int.
    bounded_number(number)
    if ndigits is None:
        return bounded_number(round(number))
    if isinstance(ndigits, bool) or not isinstance(ndigits, int):
        raise TypeError(f"round() takes a whole number of digits, got {shown(ndigits)}")
    if abs(ndigits) > MAX_EXPONENT:
        raise Refused(f"round() to {ndigits} digits: the most is {MAX_EXPONENT} either way")
    return bounded_number(round(number, ndigits))


def _money(value: Any) -> Decimal:
    """An amount at documents' resolution, 0.001, half up as accountants round (``round`` is
    Python's, half to even)."""
    return money(_decimal(value))


def _line_discount(
    quantity: Any, unit_price: Any, total: Any, tax: Any, tax_included: Any, nominal: Any
) -> Decimal:
    return line_discount(
        _decimal(quantity),
        _decimal(unit_price),
        _decimal(total),
        _decimal(tax),
        bool(tax_included),
        _decimal(nominal),
    )


def _sum(values: Any, start: Any = 0) -> Any:
    total = start
    for value in values:
        total = bounded_number(total + value)
    return total


FUNCTIONS: dict[str, Any] = {
    "str": str,
    "int": _int,
    "float": _float,
    "decimal": _decimal,
    "round": _round,
    "abs": abs,
    "min": min,
    "max": max,
    "len": len,
    "sum": _sum,
    "money": _money,
    "line_discount": _line_discount,
    "bool": bool,
    "lower": lambda text: str(text).lower(),
    "upper": lambda text: str(text).upper(),
    "strip": lambda text: str(text).strip(),
    "split": lambda text, sep=None: str(text).split(sep),
    "join": _join,
    "concat": _concat,
    "coalesce": _coalesce,
    "date": date,
    "datetime": datetime,
    # The same as decimal(): a float goes through its repr (Decimal(0.1) is 0.1, not the 55
    # digits of the binary fraction), and the number is checked against the bounds.
    "Decimal": _decimal,
}
"""What expressions may call. Nothing random, nothing that reads the clock: a mapping must give
the same output for the same input, or change detection would see changes that are not there."""


# -- attributes ---------------------------------------------------------------------------

_NO_CLOCK = (
    "mappings have no clock, so that the same record always maps to the same values; take the "
    "time from the record"
)
_NO_ZONE = (
    "it depends on the time zone of the machine that runs syncer; for milliseconds since "
    "the epoch, use the epoch_ms transform"
)
REFUSED: dict[str, str] = {
    "now": _NO_CLOCK,
    "today": _NO_CLOCK,
    "utcnow": _NO_CLOCK,
    "fromtimestamp": _NO_ZONE,
    "utcfromtimestamp": _NO_ZONE,
    "timestamp": _NO_ZONE,
    "astimezone": _NO_ZONE,
}
"""Attributes refused with a reason of their own: they read the clock, or the machine's zone."""
MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "setdefault",
        "sort",
        "reverse",
        "add",
        "discard",
    }
)
"""Methods that change a dict, list or set: refused when the mapping loads."""

_TEXT_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
    }
)
_DATE = frozenset(
    {
        "year",
        "month",
        "day",
        "isoformat",
        "isocalendar",
        "isoweekday",
        "weekday",
        "toordinal",
        "replace",
        "strftime",
    }
)
_MAPPING = frozenset({"get", "keys", "values", "items"})
_SEQUENCE = frozenset({"index", "count"})

ATTRIBUTES: dict[type, frozenset[str]] = {
    str: _TEXT_METHODS,
    RecordView: _MAPPING,
    dict: _MAPPING,
    ListView: _SEQUENCE,
    list: _SEQUENCE,
    tuple: _SEQUENCE,
    int: frozenset({"real", "imag", "numerator", "denominator", "bit_length"}),
    float: frozenset({"real", "imag", "is_integer"}),
    Decimal: frozenset(
        {
            "adjusted",
            "copy_abs",
            "copy_negate",
            "is_signed",
            "is_zero",
            "normalize",
            "quantize",
            "to_integral_value",
        }
    ),
    date: _DATE,
    # no astimezone() or timestamp(): they read the machine's time zone
    datetime: _DATE
    | {"hour", "minute", "second", "microsecond", "tzinfo", "date", "time", "utcoffset"},
}
"""The attributes expressions may use, by the exact type of the value."""

CLASS_ATTRIBUTES: dict[Any, frozenset[str]] = {
    date: frozenset({"fromisoformat", "fromisocalendar", "fromordinal", "min", "max"}),
    datetime: frozenset(
        {"fromisoformat", "fromisocalendar", "fromordinal", "strptime", "combine", "min", "max"}
    ),
}
"""The attributes of the ``date`` and ``datetime`` functions themselves."""

_TYPE_NAMES: dict[type, str] = {
    str: "text",
    RecordView: "an object",
    dict: "an object",
    ListView: "a list",
    list: "a list",
    tuple: "a tuple",
}


def _refused(owner: str | None, name: str) -> Refused:
    """The refusal of an attribute in :data:`REFUSED`; ``owner`` None: not known yet."""
    what = f"{owner}.{name}" if owner else f".{name}()"
    verb = "reads the clock" if REFUSED[name] is _NO_CLOCK else "is not available"
    return Refused(f"{verb} ({what}): {REFUSED[name]}")


def _mutation(name: str) -> Refused:
    return Refused(f"would change the record (.{name}()): expressions only read it")


def _allowed(owner: Any) -> tuple[frozenset[str], str]:
    """The attributes ``owner`` offers, and what to call it in a message."""
    if isinstance(owner, type) and owner in CLASS_ATTRIBUTES:
        return CLASS_ATTRIBUTES[owner], owner.__name__
    kind = type(owner)
    names = ATTRIBUTES.get(kind, frozenset())
    return names, _TYPE_NAMES.get(kind, kind.__name__)


def _padded(method: Callable[..., str]) -> Callable[..., str]:
    def padded(width: Any, *fill: Any) -> str:
        if isinstance(width, int):
            _text_budget(width, f".{method.__name__}()")
        return method(width, *fill)

    return padded


def _replacer(text: str) -> Callable[..., str]:
    def replace(old: Any, new: Any, count: Any = -1) -> str:
        if isinstance(old, str) and isinstance(new, str) and isinstance(count, int):
            times = text.count(old) if old else len(text) + 1
            if count >= 0:
                times = min(times, count)
            _text_budget(len(text) + times * (len(new) - len(old)), ".replace()")
        return text.replace(old, new, count)

    return replace


def attribute(owner: Any, name: str) -> Any:
    """``owner.name`` as an expression may have it; Refused says why not. On an object,
    ``record.code`` is ``record["code"]``, as in simpleeval."""
    names, kind = _allowed(owner)
    if name in names:
        if type(owner) is str and name == "replace":
            return _replacer(owner)
        if type(owner) is str and name in ("center", "ljust", "rjust", "zfill"):
            return _padded(getattr(owner, name))
        return getattr(owner, name)
    if isinstance(owner, Mapping):
        return owner[name]  # a KeyError, as record["name"] would give
    if name in REFUSED:
        raise _refused(kind, name)
    if name in MUTATORS:
        raise _mutation(name)
    usable = f"; it can use: {', '.join(sorted(names))}" if names else ""
    raise Refused(f"uses .{name}, which is not available on {kind}{usable}")


# -- operators ----------------------------------------------------------------------------


def _power(base: Any, exponent: Any) -> Any:
    numbers = (int, float, Decimal)
    if isinstance(base, numbers) and isinstance(exponent, numbers):
        bounded_number(base)
        bounded_number(exponent)
        size = abs(float(base))
        # The size of the result, known before it is computed: 2 ** 10**9 is never built.
        if size not in (0.0, 1.0) and abs(float(exponent) * math.log10(size)) > MAX_EXPONENT + 1:
            raise NumberOutOfBounds(
                f"{shown(base)} ** {shown(exponent)}",
                f"its exponent is about {int(float(exponent) * math.log10(size))}",
                computed=True,
            )
        result: Any = base**exponent  # type: ignore[operator]  # Decimal ** float: TypeError
        if isinstance(result, complex):
            raise ValueError("a negative number to a fractional power is not a real number")
        return bounded_number(result)
    return base**exponent


_PERCENT_FORMAT = re.compile(
    r"%(?:\([^)]*\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?"
)


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        # "%0999999999d" % 1 is a gigabyte of zeros: widths are bounded as in f-strings
        for spec in _PERCENT_FORMAT.finditer(left):
            for size in (spec["width"], spec["precision"]):
                if size == "*" or (size and int(size) > MAX_FORMAT_WIDTH):
                    raise Refused(
                        f"formats with {spec[0]!r}: widths and precisions go up to "
                        f"{MAX_FORMAT_WIDTH}, written in the format"
                    )
    return left % right


OPERATORS: dict[type, Any] = {**DEFAULT_OPERATORS, ast.Pow: _power, ast.Mod: _modulo}

_FORMAT_NUMBER = re.compile(r"\d+")


class _Evaluator(EvalWithCompoundTypes):  # type: ignore[misc]  # simpleeval has no types
    """simpleeval, with this module's attributes, operators and formats."""

    def __init__(self) -> None:
        super().__init__(operators=dict(OPERATORS), functions=dict(FUNCTIONS), names={})

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            raise Refused(f"uses .{node.attr}: attributes starting with _ are not available")
        return attribute(self._eval(node.value), node.attr)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        if node.format_spec is not None:
            spec = str(self._eval(node.format_spec))
            widths = [int(digits) for digits in _FORMAT_NUMBER.findall(spec)]
            if any(width > MAX_FORMAT_WIDTH for width in widths):
                raise Refused(
                    f"formats with {spec!r}: widths and precisions go up to {MAX_FORMAT_WIDTH}"
                )
        return super()._eval_formattedvalue(node)


# -- checks when the mapping loads --------------------------------------------------------

_SCOPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)


def _static(node: ast.AST) -> bool:
    """``node`` gives the same value for every record: it names no variable."""
    for inner in ast.walk(node):
        if isinstance(inner, _SCOPES):
            return False
        if isinstance(inner, ast.Name) and inner.id not in FUNCTIONS:
            return False
    return True


def _refuse(text: str, problem: str) -> NoReturn:
    raise ExpressionError(text, problem)


def _check_tree(text: str, tree: ast.AST, evaluator: _Evaluator) -> None:
    """What can be known without a record: attributes and calls that are refused whatever the
    values, and every part that does not depend on the record, evaluated once."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                _refuse(text, f"uses .{node.attr}: attributes starting with _ are not available")
            owner = node.value
            if isinstance(owner, ast.Name) and FUNCTIONS.get(owner.id) in CLASS_ATTRIBUTES:
                if node.attr in REFUSED:
                    _refuse(text, _refused(owner.id, node.attr).problem)
                if node.attr not in CLASS_ATTRIBUTES[FUNCTIONS[owner.id]]:
                    names = ", ".join(sorted(CLASS_ATTRIBUTES[FUNCTIONS[owner.id]]))
                    _refuse(text, f"uses {owner.id}.{node.attr}; {owner.id} has only: {names}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in REFUSED:
                owner = node.func.value
                known = owner.id if isinstance(owner, ast.Name) and owner.id in FUNCTIONS else None
                _refuse(text, _refused(known, name).problem)
            if name in MUTATORS:
                _refuse(text, _mutation(name).problem)
    _fold(text, tree, evaluator)


def _fold(text: str, node: ast.AST, evaluator: _Evaluator) -> None:
    if isinstance(node, ast.expr) and _static(node):
        try:
            with localcontext(CONTEXT):
                evaluator.expr = text
                result = evaluator._eval(node)
                _checked(result)
        except (
            Refused,
            NumberOutOfBounds,
            DecimalException,
            simpleeval.InvalidExpression,
        ) as error:
            _refuse(text, f"is refused: {_reason(error)}")
        except Exception:  # noqa: BLE001, S110 - may well be on a branch no record takes
            pass
        return
    for child in ast.iter_child_nodes(node):
        _fold(text, child, evaluator)


# -- evaluation ---------------------------------------------------------------------------


def _checked(value: Any) -> Any:
    """A plain copy of ``value``, with every number in it within the bounds."""
    result = plain(value)
    _check_numbers(result)
    return result


def _check_numbers(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _check_numbers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_numbers(item)
    else:
        bounded_number(value)


def _reason(error: BaseException) -> str:
    if isinstance(error, Refused):
        return error.problem
    if isinstance(error, NumberOutOfBounds | TransformValueError):
        return str(error)
    if isinstance(error, ZeroDivisionError):  # 1 / 0, and the Decimal signals for it
        return "division by zero"
    if isinstance(error, DecimalException):
        return f"a decimal result is out of bounds: {signal_problem(error)}"
    if isinstance(error, simpleeval.IterableTooLong):
        return (
            f"it would build more than an expression may: text of at most {MAX_TEXT:,} "
            f"characters, comprehensions of at most {simpleeval.MAX_COMPREHENSION_LENGTH:,} items"
        )
    return f"{type(error).__name__}: {error}"


class Expression:
    """A parsed expression, evaluated with the given names bound."""

    __slots__ = ("_evaluator", "_tree", "names", "text")

    def __init__(self, text: str, names: frozenset[str]) -> None:
        self.text = text
        self.names = names
        self._evaluator = _Evaluator()
        try:
            self._tree = self._evaluator.parse(text)
        except SyntaxError as error:
            raise ExpressionError(text, f"does not parse: {error.msg}") from None
        used = {
            node.id
            for node in ast.walk(self._tree)
            if isinstance(node, ast.Name) and not isinstance(getattr(node, "ctx", None), ast.Store)
        }
        # Names a comprehension binds (``for line in record["items"]``) are its own.
        bound = {
            node.id
            for node in ast.walk(self._tree)
            if isinstance(node, ast.Name) and isinstance(getattr(node, "ctx", None), ast.Store)
        }
        unknown = sorted(used - bound - names - set(FUNCTIONS))
        if unknown:
            raise ExpressionError(
                text,
                f"uses unknown name {', '.join(map(repr, unknown))}; it can use "
                f"{', '.join(sorted(names))} and the functions {', '.join(sorted(FUNCTIONS))}",
            )
        _check_tree(text, self._tree, self._evaluator)

    def __call__(self, names: Mapping[str, Any]) -> Any:
        """The value; ExpressionError when evaluating fails on this record (a missing key, a
        wrong type, a number out of bounds...), so the record is dead-lettered rather than the
        run stopped. The record and the other names are seen read-only."""
        self._evaluator.names = {name: view(value) for name, value in names.items()}
        try:
            with localcontext(CONTEXT):
                return _checked(self._evaluator.eval(self.text, previously_parsed=self._tree))
        except Exception as error:  # noqa: BLE001 - any failure is about this record's data
            raise ExpressionError(self.text, f"failed: {_reason(error)}") from None
        finally:
            self._evaluator.names = {}  # the record is not kept alive by the mapping
