"""Small, safe expressions for what paths, maps and transforms cannot say.

Evaluated by simpleeval (no ``eval``, no attribute access to dunders, no imports), with a fixed
set of names and functions; an expression is parsed and checked once, when the mapping loads.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from simpleeval import EvalWithCompoundTypes

from syncer.mapping.transforms import to_decimal


def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value not in (None, "")), None)


def _concat(*values: Any, sep: str = "") -> str:
    return sep.join(str(value) for value in values if value not in (None, ""))


FUNCTIONS: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "decimal": to_decimal,
    "round": round,
    "abs": abs,
    "min": min,
    "max": max,
    "len": len,
    "bool": bool,
    "lower": lambda text: str(text).lower(),
    "upper": lambda text: str(text).upper(),
    "strip": lambda text: str(text).strip(),
    "split": lambda text, sep=None: str(text).split(sep),
    "join": lambda items, sep="": sep.join(str(item) for item in items),
    "concat": _concat,
    "coalesce": _coalesce,
    "date": date,
    "datetime": datetime,
    "Decimal": Decimal,
}
"""What expressions may call. Nothing random, nothing that reads the clock: a mapping must give
the same output for the same input, or change detection would see changes that are not there."""


class ExpressionError(ValueError):
    """An expression that does not parse, uses a name it may not, or fails on a record."""


class Expression:
    """A parsed expression, evaluated with the given names bound."""

    __slots__ = ("_evaluator", "_tree", "names", "text")

    def __init__(self, text: str, names: frozenset[str]) -> None:
        self.text = text
        self.names = names
        self._evaluator = EvalWithCompoundTypes(functions=FUNCTIONS, names={})
        try:
            self._tree = self._evaluator.parse(text)
        except SyntaxError as error:
            raise ExpressionError(f"expression {text!r} does not parse: {error.msg}") from None
        used = {
            node.id
            for node in ast.walk(self._tree)
            if isinstance(node, ast.Name) and not isinstance(getattr(node, "ctx", None), ast.Store)
        }
        unknown = sorted(used - names - set(FUNCTIONS))
        if unknown:
            raise ExpressionError(
                f"expression {text!r} uses unknown name {', '.join(map(repr, unknown))}; it can "
                f"use {', '.join(sorted(names))} and the functions {', '.join(sorted(FUNCTIONS))}"
            )

    def __call__(self, names: Mapping[str, Any]) -> Any:
        """The value; ExpressionError when evaluating fails on this record (a missing key, a
        wrong type...), so the record is dead-lettered rather than the run stopped."""
        self._evaluator.names = dict(names)
        try:
            return self._evaluator.eval(self.text, previously_parsed=self._tree)
        except Exception as error:  # noqa: BLE001 - any failure is about this record's data
            raise ExpressionError(
                f"expression {self.text!r} failed: {type(error).__name__}: {error}"
            ) from None
