"""Read a YAML file into plain Python data, remembering the line of every key and item.

Configuration and mapping files both go through here, so that every later validation error can
say ``file:line: key.path: what was expected``. Environment variables written as ``${VAR}`` or
``${VAR:-default}`` are substituted in string values (``$$`` stands for a literal ``$``); a
variable that is not set is reported as an issue at the place that uses it, not raised at once,
so that one pass finds every problem in the file.

Anchors and aliases (``<<: *defaults``) are expanded into plain data, within a budget: a few
hundred bytes of nested aliases ("billion laughs") would otherwise expand to billions of values
and exhaust memory. A file whose aliases would add more than :data:`MAX_ALIAS_EXPANSION` values
is refused, naming the line of the alias that goes over, like a syntax error.
So is a file nested deeper than :data:`MAX_DEPTH`, which the YAML parser would take seconds to
fail on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import ComposerError
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)
from ruamel.yaml.parser import RoundTripParser

from syncer.errors import ConfigIssue

PathKey = str | int
KeyPath = tuple[PathKey, ...]

_ENV_PATTERN = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")
_REFERENCE = re.compile(r"\$(?:\$|\{([^}]*)(\}?))")
"""Anything that starts like a reference: ``$$``, or ``${`` up to the next ``}`` (if any)."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DUPLICATE_KEY = re.compile(r'found duplicate key "(.*?)"')

MAX_ALIAS_EXPANSION = 10_000
"""Values (mappings, lists and scalars) that aliases may add to one file, all aliases counted
together. Hand-written anchors (a block of defaults merged into each flow) add tens or hundreds;
a file needing more is generated, and can be generated without aliases."""

MAX_DEPTH = 100
"""Mappings and lists open inside each other at once; configurations and mappings need ten."""


def format_path(path: KeyPath) -> str:
    """Render ``("flows", 1, "schedule")`` as ``flows[1].schedule``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class YamlDocument:
    """A parsed YAML file: plain data plus the line of every node, and any issues found."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    tainted: set[KeyPath] = field(default_factory=set)
    """Paths whose value could not be built (a missing variable); later checks skip them."""
    from_environment: set[KeyPath] = field(default_factory=set)
    """Paths whose value came from an environment variable: never quoted back in messages,
    since that is how secrets usually arrive."""

    def line_of(self, path: KeyPath) -> int | None:
        """Line of ``path``, or of its nearest ancestor that exists in the file (missing keys)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def issue(self, path: KeyPath, message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), format_path(path), message)

    def is_tainted(self, path: KeyPath) -> bool:
        return any(tuple(path[: len(bad)]) == bad for bad in self.tainted)


def load_yaml(
    path: Path, env: Mapping[str, str], *, display_name: str | None = None
) -> YamlDocument:
    """Parse ``path``. Syntax errors and missing variables end up in ``document.issues``."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return YamlDocument(name, None, issues=[ConfigIssue(name, None, "", "file not found")])
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return YamlDocument(
            name, None, issues=[ConfigIssue(name, None, "", f"cannot read: {reason}")]
        )
    return parse_yaml(text, name, env)


def parse_yaml(text: str, name: str, env: Mapping[str, str]) -> YamlDocument:
    """Parse YAML text already in memory (used by tests and by inline mapping snippets)."""
    try:
        refused, tree = _parsed(text, name)
        if refused is not None:
            return YamlDocument(name, None, issues=[refused])
    except DuplicateKeyError as exc:
        return YamlDocument(name, None, issues=[_duplicate_key_issue(name, exc)])
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.problem, exc.context) if p) or "invalid YAML"
        return YamlDocument(
            name, None, issues=[ConfigIssue(name, line, "", f"YAML syntax error: {problem}")]
        )
    except YAMLError as exc:
        return YamlDocument(name, None, issues=[ConfigIssue(name, None, "", f"YAML error: {exc}")])
    except RecursionError:
        return YamlDocument(name, None, issues=[_too_deep(name)])
    document = YamlDocument(name, None)
    document.lines[()] = 1
    try:
        document.data = _convert(tree, (), document, env)
    except RecursionError:
        return YamlDocument(name, None, issues=[_too_deep(name)])
    return document


@lru_cache(maxsize=256)
def _parsed(text: str, name: str) -> tuple[ConfigIssue | None, Any]:
    """The refusal of ``text``, or its round-trip tree. Parsing is most of what loading a
    configuration costs, and ``syncer check`` binds the flows (every mapping file) several
    times: each text is parsed once per process. The tree is only ever read (``_convert``
    builds new data from it), so sharing it is safe; a text that fails to parse is not kept
    and fails again the same way."""
    yaml = YAML(typ="rt")
    yaml.Parser = _BudgetedParser
    yaml.parser.budget = _Budget(name)
    try:
        return None, yaml.load(text)
    except _Refused as refused:
        return refused.issue, None
    except ComposerError:
        # An undefined alias or a second document stops the composer before the parser has
        # read the rest; a syntax error or a bomb there is what the file is refused for.
        issue = _Budget(name).scan(YAML(typ="rt"), text)
        if issue is not None:
            return issue, None
        raise


def _too_deep(name: str) -> ConfigIssue:
    return ConfigIssue(name, None, "", "the YAML is nested too deeply to be a configuration")


class _Refused(Exception):
    def __init__(self, issue: ConfigIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class _BudgetedParser(RoundTripParser):
    """The round-trip parser, refusing the file at the first event that goes over its budget.

    The composer takes every event through :meth:`get_event`, so the file is refused before
    any node past the budget is built, in the same single pass that builds the tree."""

    budget: _Budget | None = None

    def get_event(self) -> Any:
        event = super().get_event()
        if self.budget is not None and (issue := self.budget.see(event)) is not None:
            raise _Refused(issue)
        return event


class _Budget:
    """The first alias that takes the file past the expansion budget, or the first node nested
    too deep, found from the parser's events as they come: each anchor's expanded size is known
    when its node ends, so counting costs as much as reading the file, however much the aliases
    would expand."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sizes: dict[str, int] = {}
        self.open_nodes: list[list[Any]] = [[None, 0]]  # [anchor, values so far] of each open
        self.expanded = 0

    def scan(self, yaml: YAML, text: str) -> ConfigIssue | None:
        """Every event of ``text``, without building anything."""
        for event in yaml.parse(text):
            if (issue := self.see(event)) is not None:
                return issue
        return None

    def see(self, event: Any) -> ConfigIssue | None:
        open_nodes = self.open_nodes
        if isinstance(event, CollectionStartEvent):
            open_nodes.append([event.anchor, 0])
            if len(open_nodes) - 1 > MAX_DEPTH:
                return ConfigIssue(
                    self.name,
                    event.start_mark.line + 1,
                    "",
                    f"mappings and lists are nested more than {MAX_DEPTH} levels deep here",
                )
        elif isinstance(event, CollectionEndEvent):
            anchor, count = open_nodes.pop()
            if anchor is not None:
                self.sizes[anchor] = count + 1
            open_nodes[-1][1] += count + 1
        elif isinstance(event, ScalarEvent):
            if event.anchor is not None:
                self.sizes[event.anchor] = 1
            open_nodes[-1][1] += 1
        elif isinstance(event, AliasEvent):
            # An alias of a collection still open (it contains itself) comes out as null.
            size = self.sizes.get(event.anchor, 1)
            self.expanded += size
            open_nodes[-1][1] += size
            if self.expanded > MAX_ALIAS_EXPANSION:
                mark = event.start_mark
                return ConfigIssue(
                    self.name,
                    mark.line + 1,
                    "",
                    f"the alias *{event.anchor} (column {mark.column + 1}) takes what this "
                    f"file's aliases expand to past {MAX_ALIAS_EXPANSION} values "
                    f"({self.expanded} so far), as only an alias bomb would; write the values "
                    "out, or nest fewer aliases",
                )
        return None


def _duplicate_key_issue(name: str, exc: DuplicateKeyError) -> ConfigIssue:
    # ruamel's own message quotes both values, which may be secrets: name only the key.
    found = _DUPLICATE_KEY.search(exc.problem or "")
    key = found.group(1) if found else "?"
    first = exc.context_mark.line + 1 if exc.context_mark is not None else None
    line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
    where = f" (the mapping starting at line {first} has it twice)" if first else ""
    return ConfigIssue(name, line, "", f"duplicate key {key!r}{where}")


def _convert(node: Any, path: KeyPath, doc: YamlDocument, env: Mapping[str, str]) -> Any:
    """Turn ruamel's round-trip nodes into plain dict/list/scalars, recording lines."""
    if isinstance(node, dict):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            plain_key = _scalar(key)
            child = (*path, plain_key)
            line = _key_line(node, key)
            if line is not None:
                doc.lines[child] = line
            out[plain_key] = _convert(value, child, doc, env)
        return out
    if isinstance(node, list):
        items: list[Any] = []
        lc = getattr(node, "lc", None)
        for index, value in enumerate(node):
            child = (*path, index)
            if lc is not None:
                doc.lines[child] = lc.item(index)[0] + 1
            items.append(_convert(value, child, doc, env))
        return items
    value = _scalar(node)
    if isinstance(value, str):
        return _interpolate(value, path, doc, env)
    return value


def _key_line(node: Any, key: Any) -> int | None:
    """The 1-based line of ``key`` in a mapping. A key merged in by ``<<: *defaults`` has no
    line in the mapping that merges it: it is the line where the anchored mapping has it."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    if key in lc.data:
        return int(lc.key(key)[0]) + 1
    for source in getattr(node, "merge", None) or ():
        if isinstance(source, dict) and key in source:
            return _key_line(source, key)
    return None


def _scalar(value: Any) -> Any:
    # ruamel wraps scalars in subclasses that carry formatting; callers want the plain types.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _interpolate(value: str, path: KeyPath, doc: YamlDocument, env: Mapping[str, str]) -> str:
    if "$" not in value:
        return value
    malformed = _malformed_reference(value)
    if malformed is not None:
        doc.issues.append(doc.issue(path, malformed))
        doc.tainted.add(path)
        return ""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        current = env.get(name)
        doc.from_environment.add(path)
        if default is not None:
            return current if current else default
        if current is None:
            doc.issues.append(
                doc.issue(
                    path,
                    f"environment variable {name} is not set; set it, or write "
                    f"${{{name}:-default}} to give a default",
                )
            )
            doc.tainted.add(path)
            return ""
        return current

    return _ENV_PATTERN.sub(substitute, value)


def _malformed_reference(value: str) -> str | None:
    """Why a ``${...}`` in ``value`` is not a reference syncer reads, or None when every one is.

    Taken literally, ``${DIR`` or ``${DIR:./out}`` (the shell's other default syntax) would
    become a folder or a URL named after the typo. Only the variable's name is quoted: the rest
    of the value may be a secret."""
    for match in _REFERENCE.finditer(value):
        inside, closed = match.group(1), match.group(2)
        if inside is None:
            continue  # `$$`, a literal `$`
        if closed and _ENV_PATTERN.fullmatch(match.group(0)):
            continue
        name = _NAME.match(inside)
        shape = "write ${NAME} or ${NAME:-default}, or $$ for a literal $"
        if name is None:
            return f"an environment reference without a variable name after '${{'; {shape}"
        variable = name.group(0)
        if not closed:
            return (
                f"the environment reference to {variable} is not closed with '}}'; "
                f"write ${{{variable}}} or ${{{variable}:-default}}, or $$ for a literal $"
            )
        return (
            f"the environment reference to {variable} is not one syncer reads: a default is "
            f"written ${{{variable}:-default}} (with ':-'), and $$ stands for a literal $"
        )
    return None
