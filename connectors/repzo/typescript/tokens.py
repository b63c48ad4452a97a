"""Tokenizer for TypeScript source: identifiers, strings, numbers, template literals and
punctuation, with the line each starts on. Comments are dropped."""

from dataclasses import dataclass
from typing import Literal

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
    Declarations hold no regular-expression literals, so ``/`` is only ever division."""
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
