"""Whether a mapping's native paths exist in Repzo's record types, as the official SDK types
them (``Resource.record_fields`` and the create/update bodies, from ``sdk/types.ts``).

A path the SDK does not have is most likely a typo or a guess (``credit_limit`` where Repzo
keeps ``financials.credit_limit``): Repzo would ignore or refuse the value, silently. A mapping
that knows better marks the field ``unverified: true`` with a ``reason``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from connectors.repzo.registry import Resource
from syncer.mapping.spec import FieldSpec, MappingSpec

_INDEX = re.compile(r"\[\d*\]")


@dataclass(frozen=True, slots=True)
class UnknownPath:
    """A native path of a mapping that the SDK's type for the resource does not have."""

    where: str
    """What in the mapping names it: ``fields.credit_limit``, ``identity``, ``key``..."""
    path: str
    suggestion: str | None

    def message(self, resource: Resource) -> str:
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return (
            f"{self.where}: {self.path} is not a field of Repzo's {resource.name} in the "
            f"official SDK's types{hint} (mark it `unverified: true` with a `reason` if it "
            "really exists)"
        )


def normalise(path: str) -> str:
    """``items[0].qty`` -> ``items[].qty``: list positions do not change what the field is."""
    return _INDEX.sub("[]", path)


def known_paths(resource: Resource) -> frozenset[str]:
    """Every path the SDK gives the record, its create body or its update body."""
    return frozenset((*resource.record_fields, *resource.create_fields, *resource.update_fields))


def is_known(path: str, known: frozenset[str]) -> bool:
    """In the SDK's types: the path itself, an object that holds known fields
    (``financials``), or a key under an open map (``integration_meta.*``)."""
    path = normalise(path)
    if path in known or f"{path}[]" in known:
        return True
    if any(field.startswith((f"{path}.", f"{path}[].")) for field in known):
        return True
    parts = path.split(".")
    return any(
        ".".join(parts[:cut]) + ".*" in known or ".".join(parts[:cut]) + "[].*" in known
        for cut in range(1, len(parts))
    )


def unknown_paths(spec: MappingSpec, resource: Resource) -> list[UnknownPath]:
    """The mapping's native paths the SDK does not know, unless marked ``unverified``.
    Nothing when the SDK has no type for the resource: there is nothing to check against."""
    known = known_paths(resource)
    if not resource.record_fields:
        return []
    leaves = sorted(field for field in known if not field.endswith("*"))
    found: list[UnknownPath] = []
    for where, path in _paths(spec, resource):
        if not is_known(path, known):
            close = difflib.get_close_matches(normalise(path), leaves, n=1, cutoff=0.6)
            tail = [f for f in leaves if f.rsplit(".", 1)[-1] == path.rsplit(".", 1)[-1]]
            suggestions = tail or close
            found.append(UnknownPath(where, path, suggestions[0] if suggestions else None))
    return found


def _paths(spec: MappingSpec, resource: Resource) -> Iterator[tuple[str, str]]:
    for name, value in (("key", spec.key), ("cursor", spec.cursor), ("deleted", spec.deleted)):
        # DELETE sets `disabled` on the resources the registry says it disables, typed or not.
        if value and not (name == "deleted" and value == "disabled" and resource.delete_disables):
            yield name, value
    for path in spec.identity:
        yield "identity", path
    for path in spec.constants:
        yield "constants", path
    for path in spec.carry:
        yield "carry", path
    for name, field in spec.fields.items():
        yield from _field_paths(f"fields.{name}", field, "")


def _field_paths(where: str, field: FieldSpec, parent: str) -> Iterator[tuple[str, str]]:
    if field.unverified:
        return
    if field.path is not None:
        path = f"{parent}{field.path}"
        if field.each:
            for name, item in field.each.items():
                yield from _field_paths(f"{where}.each.{name}", item, f"{path}[].")
        else:
            yield where, path
