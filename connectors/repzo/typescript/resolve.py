"""Answers questions about the types of a parsed module: the properties an object type has
once references, ``extends``, intersections, unions and the utility types ``Omit``/``Pick``/
``Partial``/``Required``/``Record`` are applied, the string values a literal type stands for,
and the dotted field paths of a record type. Names it cannot resolve are collected, not raised."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from connectors.repzo.typescript.declarations import Alias, Declaration, Module, Scope
from connectors.repzo.typescript.types import (
    ArrayOf,
    Indexed,
    Intersection,
    Lit,
    ObjectType,
    Ref,
    Template,
    Tuple,
    TypeNode,
    TypeOf,
    Union,
    render,
)

SCALARS = {
    "string",
    "number",
    "boolean",
    "bigint",
    "symbol",
    "any",
    "unknown",
    "never",
    "void",
    "null",
    "undefined",
    "object",
    "true",
    "false",
    "Date",
    "Function",
    "Object",
    "String",
    "Number",
    "Boolean",
}
NOTHING = {"null", "undefined", "void", "never"}
WRAPPERS = {"Promise", "Readonly", "NonNullable", "Awaited"}
ARRAYS = {"Array", "ReadonlyArray"}


@dataclass(frozen=True)
class Typed:
    """A type with the namespace its names resolve in."""

    node: TypeNode
    scope: Scope


@dataclass
class Prop:
    types: list[Typed]
    optional: bool


@dataclass
class Shape:
    """The properties an object type has once references, bases and utilities are applied."""

    props: dict[str, Prop] = field(default_factory=dict)
    indexes: list[tuple[Typed, Typed]] = field(default_factory=list)
    """(key type, value type) of each index signature."""
    bases: set[str] = field(default_factory=set)
    """Qualified names of the declarations it was built from (DefaultPaginationResult...)."""


@dataclass(frozen=True)
class _Walk:
    """What stays the same while listing one record's paths."""

    home: Scope
    max_depth: int


def _merge(shapes: Sequence[Shape], *, union: bool) -> Shape:
    """Intersection: a property is required if any side requires it. Union: if every side
    has and requires it. Either way its types are collected, so all alternatives count."""
    merged = Shape()
    for shape in shapes:
        for name, prop in shape.props.items():
            if name in merged.props:
                merged.props[name].types.extend(prop.types)
                both = merged.props[name].optional
                merged.props[name].optional = (
                    both or prop.optional if union else both and prop.optional
                )
            else:
                merged.props[name] = Prop(list(prop.types), prop.optional)
        merged.indexes.extend(shape.indexes)
        merged.bases |= shape.bases
    if union:
        for name, prop in merged.props.items():
            if any(name not in shape.props for shape in shapes):
                prop.optional = True
    return merged


class Resolver:
    """Answers questions about the types of a parsed module; records what it cannot resolve."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.unresolved: set[str] = set()

    def lookup(self, name: str, scope: Scope) -> tuple[list[Declaration], Scope | None]:
        """Declarations of a (dotted) name as seen from a namespace, innermost first."""
        parts = name.split(".")
        for depth in range(len(scope), -1, -1):
            outer = scope[:depth]
            if len(parts) == 1:
                found = self.module.types.get(outer, {}).get(parts[0])
                if found:
                    return found, outer
                continue
            inner: Scope = outer
            for part in parts[:-1]:
                if part not in self.module.namespaces.get(inner, set()):
                    break
                inner = (*inner, part)
            else:
                found = self.module.types.get(inner, {}).get(parts[-1])
                if found:
                    return found, inner
        return [], None

    def constant(self, name: str, scope: Scope) -> tuple[str, ...] | None:
        for depth in range(len(scope), -1, -1):
            found = self.module.constants.get(scope[:depth], {}).get(name)
            if found is not None:
                return found
        return None

    def unalias(self, typed: Typed) -> Typed:
        """Follow references to type aliases down to the type they stand for."""
        seen: set[str] = set()
        while isinstance(typed.node, Ref) and not typed.node.args and typed.node.name not in seen:
            seen.add(typed.node.name)
            decls, _where = self.lookup(typed.node.name, typed.scope)
            if len(decls) != 1 or not isinstance(decls[0], Alias):
                break
            typed = Typed(decls[0].type, decls[0].scope)
        return typed

    def miss(self, name: str, scope: Scope) -> None:
        self.unresolved.add(f"{name} (in {'.'.join(scope) or 'the top level'})")

    # object shapes

    def shape(self, typed: Typed, stack: frozenset[str] = frozenset()) -> Shape | None:
        """Properties of an object-like type; None for scalars, arrays and what cannot be
        resolved."""
        node, scope = typed.node, typed.scope
        match node:
            case ObjectType():
                return self.object_shape(node, scope)
            case Intersection(members):
                parts = [self.shape(Typed(m, scope), stack) for m in members]
                found = [part for part in parts if part is not None]
                return _merge(found, union=False) if found else None
            case Union(members):
                options = [m for m in members if not (isinstance(m, Ref) and m.name in NOTHING)]
                parts = [self.shape(Typed(m, scope), stack) for m in options]
                found = [part for part in parts if part is not None]
                if not found:
                    return None
                merged = _merge(found, union=True)
                if len(found) < len(options):
                    # Another option is no object at all (an array body), so nothing is required.
                    for prop in merged.props.values():
                        prop.optional = True
                return merged
            case Ref():
                return self.ref_shape(node, scope, stack)
        return None

    def object_shape(self, node: ObjectType, scope: Scope) -> Shape:
        shape = Shape()
        for member in node.members:
            shape.props[member.name] = Prop([Typed(member.type, scope)], member.optional)
        shape.indexes = [(Typed(i.key, scope), Typed(i.value, scope)) for i in node.indexes]
        if node.mapped is not None:
            keys = self.literals(Typed(node.mapped.key, scope))
            value = Typed(node.mapped.value, scope)
            if keys is None:
                shape.indexes.append((Typed(Ref("string"), scope), value))
            for key in keys or ():
                shape.props[key] = Prop([value], node.mapped.optional)
        return shape

    def ref_shape(self, node: Ref, scope: Scope, stack: frozenset[str]) -> Shape | None:
        name, args = node.name, node.args
        if name in SCALARS or name in ARRAYS:
            return None
        if name in WRAPPERS and args:
            return self.shape(Typed(args[0], scope), stack)
        if name in ("Partial", "Required") and args:
            inner = self.shape(Typed(args[0], scope), stack)
            if inner is not None:
                for prop in inner.props.values():
                    prop.optional = name == "Partial"
            return inner
        if name in ("Pick", "Omit") and len(args) == 2:
            return self.pick(name, args, scope, stack)
        if name == "Record" and len(args) == 2:
            keys = self.literals(Typed(args[0], scope))
            value = Typed(args[1], scope)
            if keys is None:
                return Shape(indexes=[(Typed(args[0], scope), value)])
            return Shape(props={key: Prop([value], False) for key in keys})
        decls, where = self.lookup(name, scope)
        if not decls or where is None:
            self.miss(name, scope)
            return None
        key = ".".join((*where, name.split(".")[-1]))
        if key in stack:
            return None
        inner_stack = stack | {key}
        shapes: list[Shape] = []
        for decl in decls:
            if isinstance(decl, Alias):
                found = self.shape(Typed(decl.type, decl.scope), inner_stack)
                if found is not None:
                    shapes.append(found)
                continue
            base_shapes = [self.shape(Typed(b, decl.scope), inner_stack) for b in decl.extends]
            shape = _merge([b for b in base_shapes if b is not None], union=False)
            own = self.object_shape(decl.body, decl.scope)
            # An interface's own member replaces the inherited one rather than merging.
            shape.props.update(own.props)
            shape.indexes.extend(own.indexes)
            shapes.append(shape)
        if not shapes:
            return None
        merged = _merge(shapes, union=False)
        merged.bases.add(key)
        return merged

    def pick(
        self, name: str, args: tuple[TypeNode, ...], scope: Scope, stack: frozenset[str]
    ) -> Shape | None:
        keys = self.literals(Typed(args[1], scope))
        inner = self.shape(Typed(args[0], scope), stack)
        if keys is None:
            self.miss(render(args[1]), scope)
            return inner
        if inner is None:
            if name == "Omit":
                return None
            # The picked names are still known even when the type they come from is not.
            return Shape(props={k: Prop([Typed(Ref("unknown"), scope)], False) for k in keys})
        if name == "Pick":
            inner.props = {k: p for k, p in inner.props.items() if k in keys}
        else:
            inner.props = {k: p for k, p in inner.props.items() if k not in keys}
        return inner

    # literal values

    def literals(self, typed: Typed, stack: frozenset[str] = frozenset()) -> list[str] | None:
        """The string values a literal type (or union, alias, ``(typeof X)[number]``) stands
        for, in order; None when it is not such a type."""
        node, scope = typed.node, typed.scope
        match node:
            case Lit(value, is_string):
                return [value] if is_string else None
            case Union(members):
                out: list[str] = []
                for member in members:
                    if isinstance(member, Ref) and member.name in NOTHING:
                        continue
                    found = self.literals(Typed(member, scope), stack)
                    if found is None:
                        return None
                    out += [value for value in found if value not in out]
                return out
            case Indexed(TypeOf(name), Ref("number")):
                values = self.constant(name, scope)
                if values is None:
                    self.miss(f"typeof {name}", scope)
                return list(values) if values is not None else None
            case Ref(name, ()) if name not in SCALARS:
                decls, where = self.lookup(name, scope)
                aliases = [d for d in decls if isinstance(d, Alias)]
                if not aliases or where is None:
                    if not decls:
                        self.miss(name, scope)
                    return None
                key = ".".join((*where, name))
                if key in stack:
                    return None
                return self.literals(Typed(aliases[0].type, aliases[0].scope), stack | {key})
        return None

    # record paths

    def paths(self, typed: Typed, home: Scope, max_depth: int) -> list[str]:
        """Dotted paths of a record type, sorted: ``[]`` marks a list, ``*`` an open map
        (``prefix*`` for a template-literal key), and the options of a union are merged.
        Declarations outside ``home``, or named through their namespace, stay leaves (another
        document a field may hold); so do objects ``max_depth`` deep, cycles and types that
        cannot be resolved."""
        found = self._paths(typed, _Walk(home, max_depth), "", frozenset())
        return sorted(path for path in found if path)

    def _paths(self, typed: Typed, walk: _Walk, prefix: str, stack: frozenset[str]) -> set[str]:
        node, scope = typed.node, typed.scope
        match node:
            case Union(members):
                out: set[str] = set()
                for member in members:
                    if not (isinstance(member, Ref) and member.name in NOTHING):
                        out |= self._paths(Typed(member, scope), walk, prefix, stack)
                return out or {prefix}
            case ArrayOf(element):
                return self._paths(Typed(element, scope), walk, prefix + "[]", stack)
            case Tuple(elements):
                out = set()
                for element in elements:
                    out |= self._paths(Typed(element, scope), walk, prefix + "[]", stack)
                return out or {prefix + "[]"}
            case Ref(name, args) if name in ARRAYS and args:
                return self._paths(Typed(args[0], scope), walk, prefix + "[]", stack)
            case Ref(name, args) if name in WRAPPERS and args:
                return self._paths(Typed(args[0], scope), walk, prefix, stack)
            case Ref(name, ()) if name not in SCALARS:
                decls, where = self.lookup(name, scope)
                if not decls or where is None:
                    self.miss(name, scope)
                    return {prefix}
                key = ".".join((*where, name.split(".")[-1]))
                home = walk.home
                # A schema of another namespace, or one named through its namespace
                # (``returned_to?: string | FullInvoice.InvoiceSchema``), is a populated
                # reference to another document: a leaf here.
                foreign = where[: len(home)] != home and home[: len(where)] != where
                if key in stack or (prefix and (foreign or "." in name)):
                    return {prefix}
                aliases = [d for d in decls if isinstance(d, Alias)]
                if len(aliases) == len(decls) == 1:
                    alias = aliases[0]
                    return self._paths(Typed(alias.type, alias.scope), walk, prefix, stack | {key})
                shape = self.shape(typed)
                return self._expand(shape, walk, prefix, stack | {key})
            case ObjectType() | Intersection() | Ref():
                return self._expand(self.shape(typed), walk, prefix, stack)
        return {prefix}

    def _expand(
        self, shape: Shape | None, walk: _Walk, prefix: str, stack: frozenset[str]
    ) -> set[str]:
        depth = prefix.count(".") + 1 if prefix else 0
        if shape is None or depth >= walk.max_depth or not (shape.props or shape.indexes):
            return {prefix}
        out: set[str] = set()
        for name, prop in shape.props.items():
            child = f"{prefix}.{name}" if prefix else name
            for typed in prop.types:
                out |= self._paths(typed, walk, child, stack)
        for key, value in shape.indexes:
            part = "*"
            if isinstance(key.node, Template):
                part = key.node.raw.split("${", 1)[0] + "*"
            child = f"{prefix}.{part}" if prefix else part
            out |= self._paths(value, walk, child, stack)
        return out
