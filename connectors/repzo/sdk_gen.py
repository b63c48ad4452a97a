"""Generate ``sdk.json``, what Repzo's official TypeScript SDK says each resource accepts.

    python -m connectors.repzo.sdk_gen          # (re)write sdk.json
    python -m connectors.repzo.sdk_gen --check  # exit 1, with a summary, if it is stale

Reads the vendored ``sdk/index.ts`` (the service objects and their ``_path``) and ``sdk/types.ts``
(the ``Service.<Name>`` namespaces) with a small TypeScript reader: a tokenizer and a recursive
descent parser for the declaration subset the SDK uses (namespaces, interfaces, type aliases,
``as const`` arrays), and a resolver for references, ``extends``, intersections, unions and the
utility types ``Omit``/``Pick``/``Partial``/``Required``/``Record``. No node, no dependency.
Whatever it cannot parse or resolve is reported and kept in the JSON's ``issues``; it never
stops the build. ``registry_gen`` feeds the table into the resource registry.
"""

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
SDK_DIR = PACKAGE_DIR / "sdk"
INDEX_FILE = SDK_DIR / "index.ts"
TYPES_FILE = SDK_DIR / "types.ts"
OUTPUT_FILE = PACKAGE_DIR / "sdk.json"
GENERATOR_COMMAND = "python -m connectors.repzo.sdk_gen"
SDK_PACKAGE = "repzo"
SDK_VERSION = "1.0.254"
CODE_INPUTS = ("sdk_gen.py",)

# The SDK's comments say its bare index signatures on Find.Params exist for these dotted filters.
OPEN_PARAM_PREFIXES = ("customFields.", "integration_meta.")
PAGED_RESULT = "DefaultPaginationResult"
# Deep enough for fullinvoices' items[].variant.product_id._id; a deeper object is a leaf.
MAX_RECORD_DEPTH = 4
HELPERS = ("_fetch", "_create", "_update", "_patch", "_delete")

FindResult = Literal["paged", "array", "object"]


# --- the table ---------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SdkService(_Frozen):
    """One SDK service object (``client``, ``priceListItem``, ``ActionLogs``, ...)."""

    service: str
    """Property of the ``Repzo`` class that holds it (``static`` for the log classes)."""
    path: str
    """End point path without slashes, e.g. ``product-category``."""
    namespace: str | None
    """``Service.<Name>`` its types live in; None when no method names one."""
    methods: dict[str, str]
    """Member name -> ``VERB path``, ``{id}`` standing for the document id. The verb is the one
    the SDK's helper really sends (its ``_patch`` sends a PUT). Members that make no request
    (``setStatus`` on the log classes) are left out."""
    find_params_type: str | None
    """Written type of the list (``GET path``) parameters; None: no list method or no type."""
    find_params: tuple[str, ...] | None
    """Every key ``Find.Params`` declares, ``DefaultPaginationQueryParams`` included when
    intersected; quoted keys (``serial_number.formatted``) as written. None without a list type."""
    find_open: bool
    """``Find.Params`` has a bare ``[key: string]: any`` index signature."""
    find_prefixes: tuple[str, ...]
    """Dotted filter prefixes the params let through: ``customFields.`` and ``integration_meta.``
    for a bare index signature, the literal part of a template-literal key otherwise."""
    sort_by_fields: tuple[str, ...] | None
    """``field`` values the ``sortBy`` parameter accepts; None where there is no sortBy."""
    find_result_type: str | None
    find_result: FindResult | None
    """paged: the result extends DefaultPaginationResult; array: a bare array; object: anything
    else; None: no list method."""
    create_body_type: str | None
    create_fields: tuple[str, ...] | None
    """Properties of the create body; None without a create method or body type."""
    create_required: tuple[str, ...] | None
    """Its properties without ``?``."""
    update_body_type: str | None
    update_fields: tuple[str, ...] | None
    update_required: tuple[str, ...] | None
    update_prefixes: tuple[str, ...]
    """Literal parts of template-literal keys of the update body (``integration_meta.``)."""
    update_open: bool
    """The update body has a bare ``[key: string]`` index signature."""
    record_type: str | None
    """Type of one document as the list (``data[]``) or, without a list, ``get`` returns it."""
    record_fields: tuple[str, ...]
    """Dotted paths of that type: ``[]`` marks a list, ``*`` an open map, and the options of a
    union are merged (``assigned_to[]`` and ``assigned_to[]._id`` when a field is ids or, with
    populatedKeys, populated documents). Schemas of other ``Service`` namespaces or named
    through their namespace (populated references) stay leaves; so do paths deeper than
    MAX_RECORD_DEPTH, cycles and types the reader could not resolve."""


class SdkTable(_Frozen):
    generator: str
    package: str
    version: str
    inputs: dict[str, str]
    """sha256 of every file the table was generated from, by path relative to this package."""
    issues: tuple[str, ...]
    """What the reader could not parse or resolve; the affected fields are partial."""
    digest: str
    """sha256 of the rest of the file, so a hand edit shows up as a failing test."""
    end_points: dict[str, str]
    """The SDK's ``end_points`` map: constant name -> path."""
    services: dict[str, SdkService]
    """By end point path."""


# --- tokens ------------------------------------------------------------------------------

TokenKind = Literal["ident", "str", "num", "tmpl", "punct", "eof"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    """Identifier, punctuation, a string's value without quotes, a template's raw inside."""
    line: int


def _scan_string(text: str, start: int) -> tuple[str, int]:
    quote, i, out = text[start], start + 1, []
    while i < len(text) and text[i] != quote and text[i] != "\n":
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        out.append(text[i])
        i += 1
    # An unterminated string ends at its line break, which still counts as a line.
    closed = i < len(text) and text[i] == quote
    return "".join(out), i + 1 if closed else i


def _scan_template(text: str, start: int) -> tuple[str, int]:
    i, depth = start + 1, 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if depth == 0 and char == "`":
            break
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if depth and char == "}":
            depth -= 1
        i += 1
    return text[start + 1 : i], i + 1


def tokenize(text: str) -> list[Token]:
    """Tokens of a TypeScript file, comments dropped (so commented-out members never count).
    There are no regular-expression literals in the SDK, so ``/`` is only ever division."""
    tokens: list[Token] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            line += 1
            i += 1
        elif char.isspace():
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
        elif char in "\"'":
            value, end = _scan_string(text, i)
            tokens.append(Token("str", value, line))
            i = end
        elif char == "`":
            raw, end = _scan_template(text, i)
            tokens.append(Token("tmpl", raw, line))
            line += text.count("\n", i, end)
            i = end
        elif char.isalpha() or char in "_$":
            end = i + 1
            while end < n and (text[end].isalnum() or text[end] in "_$"):
                end += 1
            tokens.append(Token("ident", text[i:end], line))
            i = end
        elif char.isdigit():
            end = i + 1
            while end < n and (text[end].isalnum() or text[end] in "._"):
                end += 1
            tokens.append(Token("num", text[i:end], line))
            i = end
        elif text.startswith("...", i) or text.startswith("=>", i):
            size = 3 if char == "." else 2
            tokens.append(Token("punct", text[i : i + size], line))
            i += size
        else:
            tokens.append(Token("punct", char, line))
            i += 1
    tokens.append(Token("eof", "", line))
    return tokens


# --- type expressions --------------------------------------------------------------------


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
    """TypeScript text of a type, normalised (what the table shows as a ``*_type``)."""
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


# --- declarations ------------------------------------------------------------------------

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


class ParseError(Exception):
    def __init__(self, token: Token, message: str) -> None:
        super().__init__(f"line {token.line}: {message} (at {token.text or token.kind!r})")


OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = set(OPENERS.values())
STATEMENT_WORDS = {"export", "interface", "namespace", "type", "const", "declare", "import"}
MODIFIERS = {"export", "declare", "default", "abstract"}


class Parser:
    """Recursive descent over the tokens, for the declaration subset the SDK's types use."""

    def __init__(self, tokens: list[Token], file: str) -> None:
        self.tokens = tokens
        self.file = file
        self.pos = 0
        self.issues: list[str] = []

    # token helpers

    def token(self, index: int) -> Token:
        """The token at an index; the end-of-file token past the end."""
        return self.tokens[min(index, len(self.tokens) - 1)]

    def peek(self, offset: int = 0) -> Token:
        return self.token(self.pos + offset)

    def at(self, text: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.text == text and token.kind in ("punct", "ident")

    def eat(self, text: str) -> bool:
        if self.at(text):
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> Token:
        token = self.peek()
        if not self.at(text):
            raise ParseError(token, f"expected {text!r}")
        self.pos += 1
        return token

    def ident(self) -> str:
        token = self.peek()
        if token.kind != "ident":
            raise ParseError(token, "expected a name")
        self.pos += 1
        return token.text

    def matching(self, start: int) -> int:
        """Index of the bracket closing the one at ``start`` (angle brackets included when
        ``start`` is one); the end of the tokens when it is unbalanced."""
        opener = self.token(start)
        pairs = {**OPENERS, "<": ">"} if opener.text == "<" else OPENERS
        if opener.kind != "punct" or opener.text not in pairs:
            return start
        stack: list[str] = []
        for index in range(start, len(self.tokens)):
            token = self.tokens[index]
            if token.kind != "punct":
                continue
            if token.text in pairs:
                stack.append(pairs[token.text])
            elif stack and token.text == stack[-1]:
                stack.pop()
                if not stack:
                    return index
        return len(self.tokens) - 1

    def skip_statement(self, start: int) -> int:
        """Where the statement that begins at ``start`` ends: after a ``;`` or a balanced block
        at its own level, before the next declaration keyword, or before a ``}`` that closes the
        enclosing block."""
        depth, index = 0, start
        while self.token(index).kind == "ident" and self.token(index).text in MODIFIERS:
            index += 1
        first = index
        while index < len(self.tokens) - 1:
            token = self.tokens[index]
            if token.kind == "punct" and token.text in OPENERS:
                depth += 1
            elif token.kind == "punct" and token.text in CLOSERS:
                if depth == 0:
                    return index
                depth -= 1
                if depth == 0 and token.text == "}":
                    following = self.token(index + 1)
                    if following.text in STATEMENT_WORDS | {"}", ";"} or following.kind == "eof":
                        return index + 1
            elif token.text == ";" and depth == 0:
                return index + 1
            elif index > first and depth == 0 and token.text in STATEMENT_WORDS:
                return index
            index += 1
        return index

    # statements

    def parse_module(self) -> Module:
        module = Module()
        self.statements(module, (), closed=False)
        return module

    def statements(self, module: Module, scope: Scope, *, closed: bool) -> None:
        while True:
            token = self.peek()
            if token.kind == "eof":
                if closed:
                    self.issues.append(f"{self.file}: namespace {'.'.join(scope)} is not closed")
                return
            if closed and self.at("}"):
                self.pos += 1
                return
            start = self.pos
            try:
                self.statement(module, scope)
            except ParseError as exc:
                self.issues.append(f"{self.file}: {exc}; statement skipped")
                self.pos = max(self.skip_statement(start), start + 1)

    def statement(self, module: Module, scope: Scope) -> None:
        while self.peek().text in MODIFIERS and self.peek().kind == "ident":
            self.pos += 1
        token = self.peek()
        word = token.text if token.kind == "ident" else ""
        if self.eat(";"):
            return
        if word in ("namespace", "module"):
            self.pos += 1
            parts = [self.ident()]
            while self.eat("."):
                parts.append(self.ident())
            inner = (*scope, *parts)
            module.add_namespace(inner)
            self.expect("{")
            self.statements(module, inner, closed=True)
        elif word == "interface":
            self.pos += 1
            module.add(self.interface(scope, token.line))
        elif word == "type" and self.peek(1).kind == "ident":
            self.pos += 1
            name = self.ident()
            self.type_parameters()
            self.expect("=")
            module.add(Alias(name, scope, self.type(), token.line))
            self.eat(";")
        elif word in ("const", "let", "var"):
            self.constant(module, scope)
        elif word in ("import", "function", "class", "enum") or self.at("{"):
            # Nothing the table needs; enums do not occur in the SDK.
            self.pos = max(self.skip_statement(self.pos), self.pos + 1)
        else:
            raise ParseError(token, "unexpected statement")

    def type_parameters(self) -> None:
        # The SDK declares no generic types; a reference to a parameter resolves to nothing.
        if self.at("<"):
            self.pos = self.matching(self.pos) + 1

    def interface(self, scope: Scope, line: int) -> Interface:
        name = self.ident()
        self.type_parameters()
        bases: list[TypeNode] = []
        if self.eat("extends"):
            bases.append(self.type())
            while self.eat(","):
                bases.append(self.type())
        return Interface(name, scope, tuple(bases), self.object_type(), line)

    def constant(self, module: Module, scope: Scope) -> None:
        self.pos += 1
        name = self.ident()
        if self.eat(":"):
            self.type()
        if self.eat("=") and self.at("["):
            end = self.matching(self.pos)
            inner = self.tokens[self.pos + 1 : end]
            if all(t.kind == "str" or t.text == "," for t in inner):
                values = tuple(t.text for t in inner if t.kind == "str")
                module.constants.setdefault(scope, {})[name] = values
            self.pos = end + 1
            if self.at("as") and self.at("const", 1):
                self.pos += 2
            self.eat(";")
            return
        # Any other initializer is a value the table has no use for.
        self.pos = max(self.skip_statement(self.pos), self.pos + 1)

    # types

    def type(self) -> TypeNode:
        node = self.union()
        if self.at("extends"):
            # A conditional type: either branch may be what a value has.
            self.pos += 1
            self.union()
            self.expect("?")
            yes = self.type()
            self.expect(":")
            return Union((yes, self.type()))
        return node

    def union(self) -> TypeNode:
        self.eat("|")
        members = [self.intersection()]
        while self.eat("|"):
            members.append(self.intersection())
        return members[0] if len(members) == 1 else Union(tuple(members))

    def intersection(self) -> TypeNode:
        self.eat("&")
        members = [self.postfix()]
        while self.eat("&"):
            members.append(self.postfix())
        return members[0] if len(members) == 1 else Intersection(tuple(members))

    def postfix(self) -> TypeNode:
        node = self.primary()
        while self.at("["):
            if self.at("]", 1):
                self.pos += 2
                node = ArrayOf(node)
            else:
                self.pos += 1
                index = self.type()
                self.expect("]")
                node = Indexed(node, index)
        return node

    def primary(self) -> TypeNode:
        token = self.peek()
        if token.kind == "str":
            self.pos += 1
            return Lit(token.text, is_string=True)
        if token.kind == "num":
            self.pos += 1
            return Lit(token.text, is_string=False)
        if token.kind == "tmpl":
            self.pos += 1
            return Template(token.text)
        if token.kind == "ident":
            return self.named()
        if self.at("-") and self.peek(1).kind == "num":
            self.pos += 2
            return Lit("-" + self.tokens[self.pos - 1].text, is_string=False)
        if self.at("("):
            close = self.matching(self.pos)
            if self.token(close + 1).text == "=>":
                return self.function(close)
            self.pos += 1
            inner = self.type()
            self.expect(")")
            return inner
        if self.at("<"):
            self.pos = self.matching(self.pos) + 1
            return self.function(self.matching(self.pos))
        if self.at("{"):
            return self.object_type()
        if self.at("["):
            return self.tuple()
        raise ParseError(token, "expected a type")

    def function(self, close: int) -> TypeNode:
        self.pos = close + 1
        self.expect("=>")
        self.type()
        return Function()

    def named(self) -> TypeNode:
        word = self.ident()
        if word == "typeof":
            name = self.ident()
            while self.at(".") and self.peek(1).kind == "ident":
                self.pos += 1
                name += "." + self.ident()
            return TypeOf(name)
        if word == "keyof":
            return KeyOf(self.postfix())
        if word in ("readonly", "unique") and (self.peek().kind == "ident" or self.at("(")):
            return self.postfix()
        if word == "new" and self.at("("):
            return self.function(self.matching(self.pos))
        if word == "infer":
            self.ident()
            return Ref("unknown")
        name = word
        while self.at(".") and self.peek(1).kind == "ident":
            self.pos += 1
            name += "." + self.ident()
        args: list[TypeNode] = []
        if self.eat("<"):
            args.append(self.type())
            while self.eat(","):
                args.append(self.type())
            self.expect(">")
        if self.at("is") and self.peek(1).kind == "ident":
            self.pos += 1
            self.type()
            return Ref("boolean")
        return Ref(name, tuple(args))

    def tuple(self) -> TypeNode:
        self.expect("[")
        elements: list[TypeNode] = []
        while not self.at("]"):
            self.eat("...")
            label = self.at(":", 1) or (self.at("?", 1) and self.at(":", 2))
            if self.peek().kind == "ident" and label:
                self.pos += 1
                self.eat("?")
                self.expect(":")
            elements.append(self.type())
            self.eat("?")
            if not self.eat(","):
                break
        self.expect("]")
        return Tuple(tuple(elements))

    def object_type(self) -> ObjectType:
        self.expect("{")
        members: list[Member] = []
        indexes: list[IndexSignature] = []
        mapped: Mapped | None = None
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise ParseError(self.peek(), "unclosed object type")
            found = self.member()
            if isinstance(found, Member):
                members.append(found)
            elif isinstance(found, IndexSignature):
                indexes.append(found)
            elif isinstance(found, Mapped):
                mapped = found
            separated = self.eat(";") or self.eat(",") or self.at("}")
            # Members may also be separated by line breaks alone.
            if not separated and self.peek().line == self.token(self.pos - 1).line:
                raise ParseError(self.peek(), "expected ';' between members")
        self.expect("}")
        return ObjectType(tuple(members), tuple(indexes), mapped)

    def member(self) -> Member | IndexSignature | Mapped | None:
        while (
            self.peek().text in ("readonly", "public", "private", "protected", "static")
            and self.peek().kind == "ident"
            and self.peek(1).text not in (":", "?", "(", ";", ",", "}")
        ):
            self.pos += 1
        if self.at("["):
            return self.bracketed_member()
        if self.at("(") or self.at("<"):
            self.signature()
            return None
        if self.at("new") and (self.at("(", 1) or self.at("<", 1)):
            self.pos += 1
            self.signature()
            return None
        token = self.peek()
        if token.kind not in ("ident", "str", "num"):
            raise ParseError(token, "expected a member name")
        self.pos += 1
        optional = self.eat("?")
        if self.at("(") or self.at("<"):
            self.signature()
            return Member(token.text, optional, Function())
        self.expect(":")
        return Member(token.text, optional, self.type())

    def signature(self) -> None:
        if self.at("<"):
            self.pos = self.matching(self.pos) + 1
        self.pos = self.matching(self.pos) + 1
        if self.eat(":"):
            self.type()

    def bracketed_member(self) -> IndexSignature | Mapped | None:
        if self.peek(1).kind == "ident" and self.at(":", 2):
            self.pos += 3
            key = self.type()
            self.expect("]")
            self.eat("?")
            self.expect(":")
            return IndexSignature(key, self.type())
        if self.peek(1).kind == "ident" and self.at("in", 2):
            self.pos += 3
            key = self.type()
            if self.eat("as"):
                self.type()
            self.expect("]")
            removed = self.eat("-")
            self.eat("+")
            optional = self.eat("?") and not removed
            self.expect(":")
            return Mapped(key, self.type(), optional)
        # A computed key such as [Symbol.iterator]: not a field a document has.
        self.pos = self.matching(self.pos) + 1
        self.eat("?")
        if self.at("(") or self.at("<"):
            self.signature()
        elif self.eat(":"):
            self.type()
        return None


def parse_types(text: str, file: str) -> tuple[Module, list[str]]:
    parser = Parser(tokenize(text), file)
    return parser.parse_module(), parser.issues


# --- resolving ---------------------------------------------------------------------------

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

    def paths(self, typed: Typed, home: Scope) -> list[str]:
        """Dotted paths of a record type, sorted (see SdkService.record_fields)."""
        found = self._paths(typed, home, "", frozenset())
        return sorted(path for path in found if path)

    def _paths(self, typed: Typed, home: Scope, prefix: str, stack: frozenset[str]) -> set[str]:
        node, scope = typed.node, typed.scope
        match node:
            case Union(members):
                out: set[str] = set()
                for member in members:
                    if not (isinstance(member, Ref) and member.name in NOTHING):
                        out |= self._paths(Typed(member, scope), home, prefix, stack)
                return out or {prefix}
            case ArrayOf(element):
                return self._paths(Typed(element, scope), home, prefix + "[]", stack)
            case Tuple(elements):
                out = set()
                for element in elements:
                    out |= self._paths(Typed(element, scope), home, prefix + "[]", stack)
                return out or {prefix + "[]"}
            case Ref(name, args) if name in ARRAYS and args:
                return self._paths(Typed(args[0], scope), home, prefix + "[]", stack)
            case Ref(name, args) if name in WRAPPERS and args:
                return self._paths(Typed(args[0], scope), home, prefix, stack)
            case Ref(name, ()) if name not in SCALARS:
                decls, where = self.lookup(name, scope)
                if not decls or where is None:
                    self.miss(name, scope)
                    return {prefix}
                key = ".".join((*where, name.split(".")[-1]))
                # A schema of another namespace, or one named through its namespace
                # (``returned_to?: string | FullInvoice.InvoiceSchema``), is a populated
                # reference to another document: a leaf here.
                foreign = where[: len(home)] != home and home[: len(where)] != where
                if key in stack or (prefix and (foreign or "." in name)):
                    return {prefix}
                aliases = [d for d in decls if isinstance(d, Alias)]
                if len(aliases) == len(decls) == 1:
                    alias = aliases[0]
                    return self._paths(Typed(alias.type, alias.scope), home, prefix, stack | {key})
                shape = self.shape(typed)
                return self._expand(shape, home, prefix, stack | {key})
            case ObjectType() | Intersection() | Ref():
                return self._expand(self.shape(typed), home, prefix, stack)
        return {prefix}

    def _expand(
        self, shape: Shape | None, home: Scope, prefix: str, stack: frozenset[str]
    ) -> set[str]:
        depth = prefix.count(".") + 1 if prefix else 0
        if shape is None or depth >= MAX_RECORD_DEPTH or not (shape.props or shape.indexes):
            return {prefix}
        out: set[str] = set()
        for name, prop in shape.props.items():
            child = f"{prefix}.{name}" if prefix else name
            for typed in prop.types:
                out |= self._paths(typed, home, child, stack)
        for key, value in shape.indexes:
            part = "*"
            if isinstance(key.node, Template):
                part = key.node.raw.split("${", 1)[0] + "*"
            child = f"{prefix}.{part}" if prefix else part
            out |= self._paths(value, home, child, stack)
        return out


# --- index.ts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """The request one service member makes."""

    verb: str
    path: str
    types: tuple[str, ...]
    """``Service.X.Y.Z`` names the member mentions, in order."""

    def named(self, suffix: str) -> str | None:
        """The first type it mentions that ends with ``.<suffix>`` (Params, Body, Result)."""
        return next((name for name in self.types if name.endswith("." + suffix)), None)


@dataclass(frozen=True)
class RawService:
    service: str
    path: str
    calls: dict[str, Call]


CLASS_MODIFIERS = {"public", "private", "protected", "static", "readonly", "async", "get", "set"}


class IndexReader:
    """Finds ``end_points``, the request helpers and the service objects of ``index.ts``: the
    members of the ``Repzo`` class that are an object literal or a class with a ``_path``."""

    def __init__(self, text: str) -> None:
        self.parser = Parser(tokenize(text), INDEX_FILE.name)
        self.issues: list[str] = []

    def tok(self, index: int) -> Token:
        return self.parser.token(index)

    def find(self, *texts: str, start: int = 0) -> int:
        """Index of the first run of tokens with these texts; -1 when there is none."""
        tokens = self.parser.tokens
        for index in range(max(start, 0), len(tokens) - len(texts)):
            if all(tokens[index + k].text == text for k, text in enumerate(texts)):
                return index
        return -1

    def matching(self, index: int) -> int:
        return self.parser.matching(index)

    def end_points(self) -> dict[str, str]:
        start = self.find("end_points", "=", "{")
        if start < 0:
            self.issues.append(f"{INDEX_FILE.name}: no end_points map")
            return {}
        found: dict[str, str] = {}
        for index in range(start + 3, self.matching(start + 2)):
            key, colon, value = self.tok(index), self.tok(index + 1), self.tok(index + 2)
            if key.kind == "ident" and colon.text == ":" and value.kind == "str":
                found[key.text] = value.text
        return found

    def helper_verbs(self) -> dict[str, str]:
        """HTTP verb behind each request helper, from the axios call in its body."""
        verbs: dict[str, str] = {}
        for helper in HELPERS:
            start = self.find("async", helper, "(")
            body = self.find("{", start=self.matching(start + 2)) if start >= 0 else -1
            axios = self.find("axios", ".", start=body) if body >= 0 else -1
            if axios < 0 or axios > self.matching(body):
                self.issues.append(f"{INDEX_FILE.name}: request helper {helper} not found")
                continue
            verbs[helper] = self.tok(axios + 2).text.upper()
        return verbs

    def members(self, start: int, end: int) -> Iterator[tuple[str, int, int, int]]:
        """(name, first token, value or body start, end) of each class member in a range."""
        index = start
        while index < end:
            first = index
            while self.tok(index).text in CLASS_MODIFIERS and self.tok(index + 1).kind == "ident":
                index += 1
            name = self.tok(index)
            index += 1
            if name.kind != "ident":
                continue
            while self.tok(index).text in ("?", "!"):
                index += 1
            if self.tok(index).text in ("(", "<"):
                if self.tok(index).text == "<":
                    index = self.matching(index) + 1
                body = self.find("{", start=self.matching(index) + 1)
                if body < 0:
                    return
                yield name.text, first, body, self.matching(body)
                index = self.matching(body) + 1
                continue
            if self.tok(index).text == ":":
                self.parser.pos = index + 1
                try:
                    self.parser.type()
                except ParseError as exc:
                    self.issues.append(f"{INDEX_FILE.name}: {exc}")
                index = self.parser.pos
            value = index + 1 if self.tok(index).text == "=" else index
            close = self.value_end(value, end)
            yield name.text, first, value, close
            index = close + 1

    def value_end(self, start: int, end: int) -> int:
        """End of a property value: the ``;`` or ``,`` after it, or the ``}`` of its block."""
        index = start
        while index < end:
            token = self.tok(index)
            if token.kind == "punct" and token.text in OPENERS:
                index = self.matching(index) + 1
                continue
            if token.kind == "punct" and token.text in (";", ",", "}"):
                return index
            index += 1
        return end

    def object_entries(self, start: int, end: int) -> Iterator[tuple[str, int, int]]:
        index = start
        while index < end:
            if self.tok(index).kind == "ident" and self.tok(index + 1).text == ":":
                close = self.value_end(index + 2, end)
                yield self.tok(index).text, index + 2, close
                index = close + 1
            else:
                index += 1

    def services(self, end_points: Mapping[str, str]) -> list[RawService]:
        verbs = self.helper_verbs()
        start = self.find("class", "Repzo")
        brace = self.find("{", start=start) if start >= 0 else -1
        if brace < 0:
            self.issues.append(f"{INDEX_FILE.name}: no Repzo class")
            return []
        found: list[RawService] = []
        for name, _first, value, _end in self.members(brace + 1, self.matching(brace)):
            if self.tok(value).text == "{":
                entries = list(self.object_entries(value + 1, self.matching(value)))
            elif self.tok(value).text == "class" and self.tok(value + 1).text == "{":
                inner = self.members(value + 2, self.matching(value + 1))
                entries = [(member, first, close) for member, first, _v, close in inner]
            else:
                continue
            path = self.service_path(name, entries, end_points)
            if path is None:
                continue
            calls: dict[str, Call] = {}
            for member, member_start, member_end in entries:
                call = self.call(member_start, member_end, path, verbs)
                if call is not None:
                    calls[member] = call
            found.append(RawService(name, path, calls))
        return found

    def service_path(
        self, service: str, entries: Sequence[tuple[str, int, int]], end_points: Mapping[str, str]
    ) -> str | None:
        for member, _start, end in entries:
            if member != "_path":
                continue
            last = self.tok(end - 1)
            if last.kind == "str":
                return last.text
            if last.text in end_points:
                return end_points[last.text]
            self.issues.append(
                f"{INDEX_FILE.name}: line {last.line}: {service}._path not understood"
            )
        return None

    def call(self, start: int, end: int, path: str, verbs: Mapping[str, str]) -> Call | None:
        for index in range(start, end):
            token = self.tok(index)
            if token.text in verbs and self.tok(index + 1).text == "(":
                args = self.split_args(index + 2, self.matching(index + 1))
                target = self.render_path(args[1], path) if len(args) > 1 else path
                return Call(verbs[token.text], target, self.service_types(start, end))
        return None

    def split_args(self, start: int, end: int) -> list[list[Token]]:
        args: list[list[Token]] = [[]]
        index = start
        while index < end:
            token = self.tok(index)
            if token.kind == "punct" and token.text in OPENERS:
                close = self.matching(index)
                args[-1].extend(self.parser.tokens[index : close + 1])
                index = close + 1
                continue
            if token.text == ",":
                args.append([])
            else:
                args[-1].append(token)
            index += 1
        return [arg for arg in args if arg]

    @staticmethod
    def render_path(tokens: Sequence[Token], path: str) -> str:
        """``this.client._path + `/${id}``` -> ``client/{id}``."""
        parts: list[str] = []
        for token in tokens:
            if token.text == "_path":
                parts.append(path)
            elif token.kind == "str":
                parts.append(token.text)
            elif token.kind == "tmpl":
                parts.append(token.text.replace("${", "{"))
        return "".join(parts) or "?"

    def service_types(self, start: int, end: int) -> tuple[str, ...]:
        names: list[str] = []
        for index in range(start, end):
            if self.tok(index).text != "Service" or self.tok(index + 1).text != ".":
                continue
            parts, cursor = [], index + 2
            while self.tok(cursor).kind == "ident":
                parts.append(self.tok(cursor).text)
                if self.tok(cursor + 1).text != ".":
                    break
                cursor += 2
            names.append(".".join(["Service", *parts]))
        return tuple(dict.fromkeys(names))


# --- building the table ------------------------------------------------------------------


def pick_call(calls: Mapping[str, Call], verbs: set[str], path: str, prefer: str) -> Call | None:
    """The member making this kind of request, the conventionally named one first."""
    names = sorted(name for name, call in calls.items() if call.verb in verbs and call.path == path)
    if not names:
        return None
    return calls[prefer if prefer in names else names[0]]


@dataclass(frozen=True)
class Body:
    fields: tuple[str, ...]
    required: tuple[str, ...]
    prefixes: tuple[str, ...]
    open: bool


@dataclass(frozen=True)
class FindFacts:
    params: tuple[str, ...] | None = None
    open: bool = False
    prefixes: tuple[str, ...] = ()
    sort_by: tuple[str, ...] | None = None


def index_prefixes(shape: Shape) -> tuple[tuple[str, ...], bool]:
    """Literal parts of template-literal index keys, and whether a bare string key exists."""
    prefixes: set[str] = set()
    open_ = False
    for key, _value in shape.indexes:
        if isinstance(key.node, Template):
            prefixes.add(key.node.raw.split("${", 1)[0])
        elif isinstance(key.node, Ref) and key.node.name in ("string", "number"):
            open_ = True
    return tuple(sorted(prefixes)), open_


@dataclass
class Builder:
    resolver: Resolver
    issues: list[str]

    def typed(self, qualified: str) -> Typed | None:
        """A ``Service.X.Y.Z`` name as a reference in its own namespace."""
        decls, where = self.resolver.lookup(qualified, ())
        if not decls or where is None:
            self.issues.append(f"{TYPES_FILE.name}: {qualified} is not declared")
            return None
        return Typed(Ref(qualified.split(".")[-1]), where)

    def object_shape(self, qualified: str) -> Shape | None:
        typed = self.typed(qualified)
        if typed is None:
            return None
        shape = self.resolver.shape(typed)
        if shape is None:
            self.issues.append(f"{TYPES_FILE.name}: {qualified} is not an object type")
        return shape

    def body(self, qualified: str | None) -> Body | None:
        shape = self.object_shape(qualified) if qualified else None
        if shape is None:
            return None
        required = [name for name, prop in shape.props.items() if not prop.optional]
        prefixes, open_ = index_prefixes(shape)
        return Body(tuple(sorted(shape.props)), tuple(sorted(required)), prefixes, open_)

    def find(self, qualified: str | None) -> FindFacts:
        shape = self.object_shape(qualified) if qualified else None
        if shape is None:
            return FindFacts()
        prefixes, open_ = index_prefixes(shape)
        if open_:
            prefixes = tuple(sorted({*prefixes, *OPEN_PARAM_PREFIXES}))
        return FindFacts(
            params=tuple(sorted(shape.props)),
            open=open_,
            prefixes=prefixes,
            sort_by=self.sort_by(shape, qualified or ""),
        )

    def sort_by(self, shape: Shape, owner: str) -> tuple[str, ...] | None:
        prop = shape.props.get("sortBy")
        if prop is None:
            return None
        fields: set[str] = set()
        for typed in prop.types:
            element = self.resolver.unalias(typed)
            if isinstance(element.node, ArrayOf):
                element = Typed(element.node.element, element.scope)
            entry = self.resolver.shape(element)
            field_prop = entry.props.get("field") if entry is not None else None
            values = [self.resolver.literals(t) for t in field_prop.types] if field_prop else []
            if not values or any(found is None for found in values):
                self.issues.append(f"{TYPES_FILE.name}: {owner}: sortBy fields not understood")
                continue
            fields |= {value for found in values for value in found or ()}
        return tuple(sorted(fields))

    def result(self, qualified: str | None) -> tuple[FindResult | None, Typed | None]:
        """Kind of a list result and the type of one of its documents."""
        typed = self.typed(qualified) if qualified else None
        if typed is None:
            return None, None
        target = self.resolver.unalias(typed)
        if isinstance(target.node, ArrayOf):
            return "array", Typed(target.node.element, target.scope)
        shape = self.resolver.shape(typed)
        if shape is None:
            return "object", None
        element: Typed | None = None
        for option in shape.props["data"].types if "data" in shape.props else ():
            option = self.resolver.unalias(option)
            if isinstance(option.node, ArrayOf) and not is_any(option.node.element):
                element = Typed(option.node.element, option.scope)
        return ("paged" if PAGED_RESULT in shape.bases else "object"), element

    def service(self, raw: RawService) -> SdkService:
        calls = raw.calls
        finder = pick_call(calls, {"GET"}, raw.path, "find")
        getter = pick_call(calls, {"GET"}, f"{raw.path}/{{id}}", "get")
        creator = pick_call(calls, {"POST"}, raw.path, "create")
        updater = pick_call(calls, {"PUT", "PATCH"}, f"{raw.path}/{{id}}", "update")
        mentioned = [name.split(".")[1] for call in calls.values() for name in call.types]
        namespace = mentioned[0] if mentioned else None
        if namespace is None:
            self.issues.append(f"{INDEX_FILE.name}: {raw.service} names no Service type")
        params_type = finder.named("Params") if finder else None
        result_type = finder.named("Result") if finder else None
        found = self.find(params_type)
        kind, record = self.result(result_type)
        if finder is not None and kind is None:
            self.issues.append(f"{INDEX_FILE.name}: {raw.service}: its list has no Result type")
        get_type = getter.named("Result") if getter else None
        if record is None and get_type is not None:
            record = self.typed(get_type)
        home: Scope = ("Service", namespace) if namespace else ()
        create_type = creator.named("Body") if creator else None
        update_type = updater.named("Body") if updater else None
        create, update = self.body(create_type), self.body(update_type)
        return SdkService(
            service=raw.service,
            path=raw.path,
            namespace=namespace,
            methods={name: f"{call.verb} {call.path}" for name, call in sorted(calls.items())},
            find_params_type=params_type,
            find_params=found.params,
            find_open=found.open,
            find_prefixes=found.prefixes,
            sort_by_fields=found.sort_by,
            find_result_type=result_type,
            find_result=kind if finder is not None else None,
            create_body_type=create_type,
            create_fields=create.fields if create else None,
            create_required=create.required if create else None,
            update_body_type=update_type,
            update_fields=update.fields if update else None,
            update_required=update.required if update else None,
            update_prefixes=update.prefixes if update else (),
            update_open=update.open if update else False,
            record_type=render(record.node) if record else None,
            record_fields=tuple(self.resolver.paths(record, home)) if record else (),
        )


def is_any(node: TypeNode) -> bool:
    return isinstance(node, Ref) and node.name in ("any", "unknown")


def sha256_of(path: Path) -> str:
    # Newlines are normalised so a checkout with CRLF endings does not look stale.
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def input_digests() -> dict[str, str]:
    paths = [INDEX_FILE, TYPES_FILE, *(PACKAGE_DIR / name for name in CODE_INPUTS)]
    return {path.relative_to(PACKAGE_DIR).as_posix(): sha256_of(path) for path in paths}


def content_digest(payload: Mapping[str, object]) -> str:
    body = {key: value for key, value in payload.items() if key != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_table(
    index_text: str | None = None,
    types_text: str | None = None,
    inputs: dict[str, str] | None = None,
) -> SdkTable:
    index_text = INDEX_FILE.read_text(encoding="utf-8") if index_text is None else index_text
    types_text = TYPES_FILE.read_text(encoding="utf-8") if types_text is None else types_text
    module, issues = parse_types(types_text, TYPES_FILE.name)
    reader = IndexReader(index_text)
    end_points = reader.end_points()
    raw_services = reader.services(end_points)
    resolver = Resolver(module)
    builder = Builder(resolver, issues)
    services: dict[str, SdkService] = {}
    for raw in raw_services:
        if raw.path in services:
            issues.append(
                f"{INDEX_FILE.name}: {raw.service} and {services[raw.path].service} share "
                f"{raw.path}; the first is kept"
            )
            continue
        services[raw.path] = builder.service(raw)
    for path in sorted(set(end_points.values()) - set(services)):
        issues.append(f"{INDEX_FILE.name}: end point {path} has no service object")
    issues += reader.issues
    issues += [f"{TYPES_FILE.name}: unresolved type {name}" for name in resolver.unresolved]
    payload: dict[str, object] = {
        "generator": GENERATOR_COMMAND,
        "package": SDK_PACKAGE,
        "version": SDK_VERSION,
        "inputs": input_digests() if inputs is None else inputs,
        "issues": sorted(set(issues)),
        "end_points": dict(sorted(end_points.items())),
        "services": {path: services[path].model_dump(mode="json") for path in sorted(services)},
    }
    payload["digest"] = content_digest(payload)
    return SdkTable.model_validate(payload)


def render_table(table: SdkTable) -> str:
    data = table.model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_table(path: Path = OUTPUT_FILE) -> SdkTable:
    return SdkTable.model_validate_json(path.read_text(encoding="utf-8"))


# --- reporting ---------------------------------------------------------------------------


def summary_lines(table: SdkTable) -> list[str]:
    services = table.services.values()
    finds = [s for s in services if s.find_params is not None]
    return [
        f"sdk: {table.package} {table.version}",
        f"services: {len(table.services)} ({len(finds)} with a list type)",
        "list results: "
        + ", ".join(
            f"{kind} {sum(s.find_result == kind for s in services)}"
            for kind in ("paged", "array", "object")
        ),
        f"from_updatedAt: {sum('from_updatedAt' in (s.find_params or ()) for s in services)}, "
        f"to_updatedAt: {sum('to_updatedAt' in (s.find_params or ()) for s in services)}, "
        f"from__id: {sum('from__id' in (s.find_params or ()) for s in services)}, "
        f"sortBy: {sum(s.sort_by_fields is not None for s in services)}",
        *(f"issue: {issue}" for issue in table.issues),
    ]


def diff_summary(committed: str, fresh: SdkTable) -> list[str]:
    try:
        old = json.loads(committed)
    except json.JSONDecodeError as exc:
        return [f"committed {OUTPUT_FILE.name} is not valid JSON: {exc}"]
    if not isinstance(old, dict):
        return [f"committed {OUTPUT_FILE.name} is not a JSON object"]
    new = json.loads(render_table(fresh))
    lines: list[str] = []
    for section in ("inputs", "services", "end_points"):
        raw = old.get(section)
        before: dict[str, object] = raw if isinstance(raw, dict) else {}
        after: dict[str, object] = new[section]
        lines += [f"+ {section}: {key}" for key in sorted(set(after) - set(before))]
        lines += [f"- {section}: {key}" for key in sorted(set(before) - set(after))]
        for key in sorted(set(before) & set(after)):
            if before[key] != after[key]:
                parts = _changed_fields(before[key], after[key])
                lines.append(f"~ {section}: {key}" + (f" ({', '.join(parts)})" if parts else ""))
    for key in sorted((set(old) | set(new)) - {"inputs", "services", "end_points", "digest"}):
        if old.get(key) != new.get(key):
            lines.append(f"~ {key}")
    return lines or ["only the formatting differs"]


def _changed_fields(before: object, after: object) -> list[str]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=GENERATOR_COMMAND, description="Generate the Repzo SDK table."
    )
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if the committed {OUTPUT_FILE.name} is stale"
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    table = build_table()
    text = render_table(table)
    out.write("\n".join(summary_lines(table)) + "\n")
    if args.check:
        committed = OUTPUT_FILE.read_text(encoding="utf-8") if OUTPUT_FILE.exists() else ""
        if committed == text:
            out.write(f"{OUTPUT_FILE.name} is up to date\n")
            return 0
        out.write(f"{OUTPUT_FILE.name} is stale; run {GENERATOR_COMMAND}\n")
        out.write("\n".join(diff_summary(committed, table)) + "\n")
        return 1
    OUTPUT_FILE.write_text(text, encoding="utf-8")
    out.write(f"wrote {OUTPUT_FILE.relative_to(PACKAGE_DIR.parent.parent)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
