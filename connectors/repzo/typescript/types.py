"""Type expressions as the parser builds them (``Ref``, ``Union``, ``ObjectType``, ...), and
``render``, which writes one back as normalised TypeScript text."""

import json
from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True)
class Ref:
    name: str
    """Dotted as written: ``string``, ``ClientSchema``, ``Product.ProductSchema``."""
    args: tuple["TypeNode", ...] = ()


@dataclass(frozen=True)
class Lit:
    value: str
    is_string: bool


@dataclass(frozen=True)
class Template:
    raw: str
    """Inside of a template literal type, e.g. ``integration_meta.${string}``."""


@dataclass(frozen=True)
class ArrayOf:
    element: "TypeNode"


@dataclass(frozen=True)
class Tuple:
    elements: tuple["TypeNode", ...]


@dataclass(frozen=True)
class Union:
    members: tuple["TypeNode", ...]


@dataclass(frozen=True)
class Intersection:
    members: tuple["TypeNode", ...]


@dataclass(frozen=True)
class Member:
    name: str
    optional: bool
    type: "TypeNode"


@dataclass(frozen=True)
class IndexSignature:
    key: "TypeNode"
    value: "TypeNode"


@dataclass(frozen=True)
class Mapped:
    key: "TypeNode"
    value: "TypeNode"
    optional: bool


@dataclass(frozen=True)
class ObjectType:
    members: tuple[Member, ...]
    indexes: tuple[IndexSignature, ...]
    mapped: Mapped | None = None


@dataclass(frozen=True)
class Function:
    pass


@dataclass(frozen=True)
class TypeOf:
    name: str


@dataclass(frozen=True)
class KeyOf:
    operand: "TypeNode"


@dataclass(frozen=True)
class Indexed:
    object: "TypeNode"
    index: "TypeNode"


TypeNode: TypeAlias = (
    Ref
    | Lit
    | Template
    | ArrayOf
    | Tuple
    | Union
    | Intersection
    | ObjectType
    | Function
    | TypeOf
    | KeyOf
    | Indexed
)


def render(node: TypeNode) -> str:
    """TypeScript text of a type, normalised: one spelling whatever the source's layout."""
    match node:
        case Ref(name, args):
            return f"{name}<{', '.join(render(arg) for arg in args)}>" if args else name
        case Lit(value, is_string):
            return json.dumps(value) if is_string else value
        case Template(raw):
            return f"`{raw}`"
        case ArrayOf(element):
            inner = render(element)
            return f"({inner})[]" if isinstance(element, Union | Intersection) else f"{inner}[]"
        case Tuple(elements):
            return f"[{', '.join(render(e) for e in elements)}]"
        case Union(members):
            return " | ".join(render(m) for m in members)
        case Intersection(members):
            return " & ".join(
                f"({render(m)})" if isinstance(m, Union) else render(m) for m in members
            )
        case ObjectType(members, indexes, mapped):
            parts = [f"[key: {render(i.key)}]: {render(i.value)}" for i in indexes]
            parts += [f"{m.name}{'?' if m.optional else ''}: {render(m.type)}" for m in members]
            if mapped is not None:
                parts.append(f"[key in {render(mapped.key)}]: {render(mapped.value)}")
            return "{ " + "; ".join(parts) + " }" if parts else "{}"
        case Function():
            return "Function"
        case TypeOf(name):
            return f"typeof {name}"
        case KeyOf(operand):
            return f"keyof {render(operand)}"
        case Indexed(obj, index):
            return f"({render(obj)})[{render(index)}]"
    raise AssertionError(node)  # pragma: no cover


def is_any(node: TypeNode) -> bool:
    """``any`` or ``unknown``: a type that says nothing about the value."""
    return isinstance(node, Ref) and node.name in ("any", "unknown")
