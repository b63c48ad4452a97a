"""Recursive descent parser for the declaration subset of TypeScript: namespaces, interfaces,
type aliases and ``as const`` arrays, with the type expressions they use. What it cannot parse
is reported as an issue and skipped, one statement at a time; it never stops."""

from connectors.repzo.typescript.declarations import Alias, Interface, Module, Scope
from connectors.repzo.typescript.tokens import Token, tokenize
from connectors.repzo.typescript.types import (
    ArrayOf,
    Function,
    Indexed,
    IndexSignature,
    Intersection,
    KeyOf,
    Lit,
    Mapped,
    Member,
    ObjectType,
    Ref,
    Template,
    Tuple,
    TypeNode,
    TypeOf,
    Union,
)


class ParseError(Exception):
    def __init__(self, token: Token, message: str) -> None:
        super().__init__(f"line {token.line}: {message} (at {token.text or token.kind!r})")


OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = set(OPENERS.values())
STATEMENT_WORDS = {"export", "interface", "namespace", "type", "const", "declare", "import"}
MODIFIERS = {"export", "declare", "default", "abstract"}


class Parser:
    """Recursive descent over the tokens of one file; issues collects what it skipped."""

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
            # Only interfaces, type aliases and const arrays are read; enums are not supported.
            self.pos = max(self.skip_statement(self.pos), self.pos + 1)
        else:
            raise ParseError(token, "unexpected statement")

    def type_parameters(self) -> None:
        # Type parameters are skipped, so a reference to one resolves to nothing.
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
        # Any other initializer is a value, not a type a reader could ask about.
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
    """The declarations of a file's text, and the issues, each naming ``file``."""
    parser = Parser(tokenize(text), file)
    return parser.parse_module(), parser.issues
