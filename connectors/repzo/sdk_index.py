"""Reads the vendored SDK's ``index.ts``: the ``end_points`` map, the HTTP verb behind each
request helper, and per service object of the ``Repzo`` class its ``_path`` and the request each
member makes, with the ``Service.*`` types the member mentions. ``sdk_gen`` builds the table
from these.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from connectors.repzo.typescript.parser import OPENERS, ParseError, Parser
from connectors.repzo.typescript.tokens import Token, tokenize

# The Repzo class sends every request through one of these; their bodies say the verb.
HELPERS = ("_fetch", "_create", "_update", "_patch", "_delete")


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

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.parser = Parser(tokenize(text), file)
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
            self.issues.append(f"{self.file}: no end_points map")
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
                self.issues.append(f"{self.file}: request helper {helper} not found")
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
                    self.issues.append(f"{self.file}: {exc}")
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
            self.issues.append(f"{self.file}: no Repzo class")
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
            self.issues.append(f"{self.file}: line {last.line}: {service}._path not understood")
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
