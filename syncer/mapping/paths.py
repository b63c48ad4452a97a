"""Dotted paths into native records: ``financials.credit_limit``, ``items[0].price``,
``["key.with.dots"]``."""

from __future__ import annotations

import re
from typing import Any, Final

_TOKEN = re.compile(
    r"""
    (?P<name>[A-Za-z_$][A-Za-z0-9_$\-]*)     # a key
    | \[(?P<index>\d+)\]                    # a list index
    | \["(?P<quoted>[^"]+)"\]               # a key that contains dots or brackets
    """,
    re.VERBOSE,
)


class _Missing:
    """Marks a path that leads nowhere (distinct from a present ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class PathError(ValueError):
    """A path that cannot be parsed; the message says where."""


class Path:
    """A parsed path: a tuple of keys (str) and list indexes (int)."""

    __slots__ = ("_keys", "_single", "parts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts: tuple[str | int, ...] = parse_path(text)
        # Most paths are one key; they take a shortcut (mapping speed is per record, per field).
        self._single = (
            self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], str) else None
        )
        self._keys: tuple[str, ...] | None = (
            tuple(str(p) for p in self.parts)
            if all(isinstance(p, str) for p in self.parts)
            else None
        )

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    def get(self, record: Any) -> Any:
        """The value at this path, or MISSING when any step is absent."""
        if self._single is not None and type(record) is dict:
            return record.get(self._single, MISSING)
        value = record
        for part in self.parts:
            if isinstance(part, int):
                if not isinstance(value, list) or part >= len(value):
                    return MISSING
            elif not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
        return value

    def set(self, record: dict[str, Any], value: Any) -> None:
        """Write ``value`` at this path, creating the dicts and lists on the way."""
        if self._single is not None:
            record[self._single] = value
            return
        target: Any = record
        if self._keys is not None:  # nested objects only, no lists: the quick way
            for key in self._keys[:-1]:
                target = target.setdefault(key, {})
            target[self._keys[-1]] = value
            return
        for part, following in zip(self.parts, self.parts[1:], strict=False):
            empty: Any = [] if isinstance(following, int) else {}
            if isinstance(part, int):
                while len(target) <= part:
                    target.append(None)
                if target[part] is None:
                    target[part] = empty
                target = target[part]
            else:
                target = target.setdefault(part, empty)
        last = self.parts[-1]
        if isinstance(last, int):
            while len(target) <= last:
                target.append(None)
        target[last] = value


def parse_path(text: str) -> tuple[str | int, ...]:
    if not isinstance(text, str) or not text.strip():
        raise PathError("expected a path such as name, financials.credit_limit or items[0].price")
    if text.startswith("["):
        raise PathError(f"malformed path {text!r}: a path starts with a key, not an index")
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        if parts and text[position] == ".":
            position += 1
        match = _TOKEN.match(text, position)
        if match is None or (match.group("name") and parts and text[position - 1] != "."):
            raise PathError(
                f"malformed path {text!r} at character {position + 1}: expected a key, "
                '[index] or ["quoted key"]'
            )
        if match.group("index") is not None:
            parts.append(int(match.group("index")))
        else:
            parts.append(match.group("name") or match.group("quoted"))
        position = match.end()
    if text.endswith("."):
        raise PathError(f"malformed path {text!r}: it ends with a dot")
    return tuple(parts)


def dig(record: Any, dotted: str) -> Any:
    """The value at a plain dotted path (``integration_meta.id``), None where any part is
    missing or not an object: for the keys syncer itself reads off records (identity paths),
    where a full :class:`Path` with indexes and quoting is not needed."""
    value = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
