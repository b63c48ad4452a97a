"""Comparing canonical values with what was last synced, field by field.

Snapshots are stored normalised (see :mod:`syncer.mapping.hashing`): equal content compares
equal whatever its representation, and empty values count as absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from syncer.mapping.hashing import normalize

Snapshot = dict[str, Any]
_EMPTY: tuple[Any, ...] = (None, "", [], {})


def snapshot(values: Mapping[str, Any], fields: Iterable[str]) -> Snapshot:
    """The normalised values of ``fields`` (absent and empty ones left out)."""
    out: Snapshot = {}
    for name in fields:
        value = values.get(name)
        kind = type(value)
        if kind is str or kind is bool:  # most values: already normal
            if value != "":
                out[name] = value
            continue
        if value in _EMPTY:
            continue
        normal = normalize(value)
        if normal not in _EMPTY:
            out[name] = normal
    return out


def changed_fields(
    current: Snapshot, previous: Mapping[str, Any] | None, fields: Iterable[str]
) -> set[str]:
    """Fields whose value differs from the previous snapshot (all of them without one)."""
    if previous is None:
        return {name for name in fields}
    return {name for name in fields if current.get(name) != previous.get(name)}


def merged(
    previous: Mapping[str, Any] | None, current: Snapshot, fields: Iterable[str]
) -> Snapshot:
    """``previous`` with ``fields`` replaced by their current values (or removed if empty)."""
    out = dict(previous or {})
    for name in fields:
        if name in current:
            out[name] = current[name]
        else:
            out.pop(name, None)
    return out
