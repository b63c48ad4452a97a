"""Reading CSV files row by row, in constant memory, isolating broken rows.

Bytes are decoded one physical line at a time, so a line that is not valid in the configured
encoding spoils only the row it belongs to; a row with the wrong number of columns is reported
the same way. Both come out as :class:`BadRow` with the file, line and column, and reading goes
on with the next row.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

REPLACEMENT = "\ufffd"
BOM = "\ufeff"

# Some exports put whole documents in one cell; csv's default cap (128 KiB) is too small.
csv.field_size_limit(16 * 1024 * 1024)


class Digest(Protocol):
    """A hashlib object: the reader feeds it the raw bytes as it goes (file fingerprints)."""

    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    """Physical line the row starts on (1-based, the header being line 1)."""
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str
    column: str | None = None
    cells: list[str] = field(default_factory=list)
    delimited: bool = True
    """False when the parser could not tell where the row ends (an unclosed quote swallowed
    the lines after it): what it holds is not one row, and rows may be hidden inside."""


QUOTE = '"'
KEEP_OF_DAMAGE = 2000
"""Characters of a damaged stretch kept with its dead letter: enough to recognise it; the
rest of the file it swallowed is still in the file."""


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (no header, duplicate column names)."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path.name}:{line}: {reason}")


class _Lines:
    """Physical lines decoded one by one; remembers which ones were not valid text."""

    def __init__(self, binary: Iterable[bytes], encoding: str, digest: Digest | None) -> None:
        self._binary = binary
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._digest = digest
        self.number = 0
        self.bad: set[int] = set()
        self.quotes = 0
        """Quote characters on the lines of the row being parsed (see :meth:`next_row`)."""
        self.first_quote: int | None = None
        """The first of those lines that has a quote."""

    def next_row(self) -> None:
        """The parser finished a row: count quotes afresh. (csv.reader asks for lines one at a
        time, only as it needs them, so the lines read since are exactly the next row's.)"""
        self.quotes = 0
        self.first_quote = None

    def __iter__(self) -> Iterator[str]:
        for raw in self._binary:
            self.number += 1
            if self._digest is not None:
                self._digest.update(raw)
            try:
                text = self._decoder.decode(raw)
            except UnicodeDecodeError:
                self._decoder.reset()
                self.bad.add(self.number)
                text = raw.decode(self._encoding, errors="replace")
            quotes = text.count(QUOTE)
            if quotes and self.first_quote is None:
                self.first_quote = self.number
            self.quotes += quotes
            yield text


def read_rows(
    path: Path,
    *,
    encoding: str,
    delimiter: str,
    header: bool = True,
    columns: list[str] | None = None,
    digest: Digest | None = None,
) -> Iterator[Row | BadRow]:
    """Rows of ``path`` as dicts keyed by column name; broken rows as BadRow."""
    with path.open("rb") as binary:
        lines = _Lines(binary, encoding, digest)
        reader = csv.reader(lines, delimiter=delimiter)
        names = list(columns) if columns else None
        consumed = 0
        while True:
            start = consumed + 1
            lines.next_row()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                consumed = reader.line_num
                yield BadRow(start, f"not valid CSV: {error}")
                continue
            consumed = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            if names is None:
                if header:
                    names = _header(path, start, cells)
                    continue
                names = list(columns or [])
            if consumed != start:  # a row over several lines: a quoted line break, or damage
                damage = _undelimited(lines, start, consumed, len(cells), len(names))
                if damage is not None:
                    yield BadRow(start, damage, None, _clip(cells), delimited=False)
                    continue
            if lines.bad and not lines.bad.isdisjoint(range(start, consumed + 1)):
                yield BadRow(
                    start,
                    f"bytes that are not valid {encoding}",
                    _first(names, cells, lambda cell: REPLACEMENT in cell),
                    cells,
                )
                continue
            if len(cells) != len(names):
                yield BadRow(
                    start,
                    f"expected {len(names)} columns, as the header has, got {len(cells)}",
                    names[len(cells)] if len(cells) < len(names) else None,
                    cells,
                )
                continue
            yield Row(start, dict(zip(names, cells, strict=True)))


def _undelimited(lines: _Lines, start: int, end: int, cells: int, columns: int) -> str | None:
    """Why a row that spans several lines is not one row, or None when it is (a quoted cell
    may hold line breaks). Quotes come in pairs in a well-formed row (a quote inside a quoted
    cell is doubled), so an odd count means one opened and never closed where it should: the
    parser ran on through the next lines, taking rows for text."""
    if end == start:
        return None
    if lines.quotes % 2:
        opened = lines.first_quote or start
        return (
            f'an unclosed quote (") starting on line {opened} ran on to line {end}: lines '
            f"{start} to {end} could not be split into rows; fix the quote and the rows in it "
            "are read"
        )
    if cells != columns:
        return (
            f"quotes on lines {start} to {end} join them into one row of {cells} columns (the "
            f"header has {columns}): check the quotes on those lines"
        )
    return None


def _clip(cells: list[str]) -> list[str]:
    """The start of a damaged stretch, not the whole rest of the file it swallowed."""
    kept: list[str] = []
    room = KEEP_OF_DAMAGE
    for cell in cells:
        if room <= 0:
            break
        kept.append(cell[:room])
        room -= len(cell)
    return kept


def read_header(path: Path, *, encoding: str, delimiter: str) -> list[str] | None:
    """The column names of an existing file, or None for an empty one."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as text:
        for cells in csv.reader(text, delimiter=delimiter):
            if any(cell.strip() for cell in cells):
                return _header(path, 1, cells)
    return None


def _header(path: Path, line: int, cells: list[str]) -> list[str]:
    names = [cell.strip() for cell in cells]
    if names and names[0].startswith(BOM):  # a BOM the encoding did not expect
        names[0] = names[0][len(BOM) :]
    seen: set[str] = set()
    for name in names:
        if not name:
            raise CsvFormatError(path, line, "the header has an empty column name")
        if name in seen:
            raise CsvFormatError(path, line, f"the header names column {name!r} twice")
        seen.add(name)
    return names


def _first(names: list[str], cells: list[str], test: Callable[[str], bool]) -> str | None:
    for name, cell in zip(names, cells, strict=False):
        if test(cell):
            return name
    return None
