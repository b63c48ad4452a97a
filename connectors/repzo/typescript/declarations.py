"""What a parsed file declares: interfaces, type aliases, namespaces and ``as const`` string
arrays, by the namespace they are declared in."""

from dataclasses import dataclass, field
from typing import TypeAlias

from connectors.repzo.typescript.types import ObjectType, TypeNode

Scope: TypeAlias = tuple[str, ...]
"""Namespace path of a declaration: () for the top level, ("Service", "Client", "Find")."""


@dataclass(frozen=True)
class Interface:
    name: str
    scope: Scope
    extends: tuple[TypeNode, ...]
    body: ObjectType
    line: int


@dataclass(frozen=True)
class Alias:
    name: str
    scope: Scope
    type: TypeNode
    line: int


Declaration: TypeAlias = Interface | Alias


@dataclass
class Module:
    """Declarations of a file by namespace; interfaces of one name merge as TypeScript does."""

    types: dict[Scope, dict[str, list[Declaration]]] = field(default_factory=dict)
    namespaces: dict[Scope, set[str]] = field(default_factory=dict)
    constants: dict[Scope, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """``const X = ["a", "b"] as const`` string arrays, for ``(typeof X)[number]``."""

    def add_namespace(self, scope: Scope) -> None:
        for depth in range(1, len(scope) + 1):
            self.namespaces.setdefault(scope[: depth - 1], set()).add(scope[depth - 1])

    def add(self, decl: Declaration) -> None:
        self.types.setdefault(decl.scope, {}).setdefault(decl.name, []).append(decl)
