"""Finding, loading and cross-checking mapping files.

Mappings are looked up as ``<dir>/<connector type>/<stream>.yaml`` in the directories the
configuration lists (``mappings:``), then in the ones shipped with syncer. A flow may also name
its file (``source: {..., mapping: path}``).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from syncer.errors import ConfigError, ConfigIssue
from syncer.mapping.compile import compile_mapping
from syncer.mapping.mapping import CompiledMapping
from syncer.mapping.spec import validate_spec
from syncer.yamlsource import load_yaml

SHIPPED_DIR = Path(__file__).resolve().parent.parent.parent / "mappings"
"""The example mappings shipped with syncer (``mappings/`` next to the package)."""
_ENTITY_LINE = re.compile(r"^entity:\s*['\"]?([A-Za-z_]+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Loaded:
    mapping: CompiledMapping | None
    issues: tuple[ConfigIssue, ...]


class MappingCatalog:
    """Mapping files by (connector type, stream), loaded and compiled once each."""

    def __init__(self, directories: Sequence[Path] = (), *, shipped: bool = True) -> None:
        self.directories = [*directories, *([SHIPPED_DIR] if shipped else [])]
        self._loaded: dict[tuple[Path, frozenset[str]], Loaded] = {}

    def find(self, connector_type: str, stream: str) -> Path | None:
        for directory in self.directories:
            candidate = directory / connector_type / f"{stream}.yaml"
            if candidate.is_file():
                return candidate
        return None

    def load(self, path: Path, variables: Iterable[str] = ()) -> Loaded:
        """Parse and compile one file; ``variables`` are the names templates may use besides
        the entity's fields (the connector's settings). References are checked against the
        entities this catalog maps for the same connector type."""
        key = (path.resolve(), frozenset(variables))
        if key not in self._loaded:
            self._loaded[key] = _load(path, key[1], self.entities)
        return self._loaded[key]

    def files(self, connector_type: str) -> list[Path]:
        """Every mapping file for a connector type, the first directory winning per stream."""
        return list(self._by_stream(connector_type).values())

    def close_streams(self, connector_type: str, stream: str) -> list[str]:
        """Streams of this connector type that have a mapping file and a name close to
        ``stream``: what a user who gets "no mapping" probably meant."""
        return difflib.get_close_matches(stream, list(self._by_stream(connector_type)), n=3)

    def _by_stream(self, connector_type: str) -> dict[str, Path]:
        seen: dict[str, Path] = {}
        for directory in self.directories:
            folder = directory / connector_type
            if folder.is_dir():
                for path in sorted(folder.rglob("*.yaml")):
                    seen.setdefault(path.relative_to(folder).with_suffix("").as_posix(), path)
        return seen

    def entities(self, connector_type: str) -> set[str]:
        """Entities some mapping of this connector type reads. Only the ``entity:`` line of
        each file is looked at, so checking one file never loads all the others."""
        found = set()
        for path in self.files(connector_type):
            match = _ENTITY_LINE.search(path.read_text(encoding="utf-8", errors="replace"))
            if match:
                found.add(match.group(1))
        return found


def _load(
    path: Path, variables: frozenset[str], entities: Callable[[str], set[str]] | None
) -> Loaded:
    doc = load_yaml(path, os.environ, display_name=str(path))
    if doc.data is None and not doc.issues:
        doc.issues.append(doc.issue((), "the mapping file is empty"))
    if doc.data is None:
        return Loaded(None, tuple(doc.issues))
    if not isinstance(doc.data, dict):
        doc.issues.append(doc.issue((), "expected a mapping (key: value) at the top level"))
        return Loaded(None, tuple(doc.issues))
    # Missing environment variables are already in doc.issues: carry on, so the same run
    # reports the rest of the file too.
    spec = validate_spec(doc, doc.data)
    mapping = None
    if spec is not None:
        mapped = entities(spec.connector) if entities is not None and spec.connector else None
        mapping = compile_mapping(spec, doc, variables, mapped)
    # Problems are found in passes (shape, then meaning); the user reads them top to bottom.
    issues = tuple(sorted(doc.issues, key=lambda issue: issue.line or 0))
    return Loaded(None if issues else mapping, issues)


def load_mapping(path: str | os.PathLike[str], variables: Iterable[str] = ()) -> CompiledMapping:
    """Load one mapping file on its own; raises ConfigError with every problem found."""
    loaded = _load(Path(path), frozenset(variables), None)
    if loaded.mapping is None:
        raise ConfigError(loaded.issues)
    return loaded.mapping
