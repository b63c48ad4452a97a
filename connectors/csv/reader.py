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
NUL = "\x00"
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
"""Byte-order marks of encodings whose text is full of NUL bytes when read as a narrow one
(UTF-32's come first: the little-endian one starts like UTF-16's)."""

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
        self.head = b""
        """The first bytes of the file, to recognise a UTF-16 or UTF-32 one."""
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
        for raw in _physical_lines(self._binary, self._encoding):
            self.number += 1
            if self.number == 1:
                self.head = raw[:4]
            if self._digest is not None:
                self._digest.update(raw)
            try:
                text = self._decoder.decode(raw)
            except UnicodeError:  # undecodable bytes; or a UTF-16 stream without its BOM
                self._decoder.reset()
                self.bad.add(self.number)
                text = raw.decode(self._encoding, errors="replace")
            quotes = text.count(QUOTE)
            if quotes and self.first_quote is None:
                self.first_quote = self.number
            self.quotes += quotes
            yield text


def _physical_lines(binary: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """The file's lines as bytes, each with its line break. In nearly every encoding a line
    break is the byte 0x0A, which no other character contains; in UTF-16 and UTF-32 it is
    two or four bytes, which must start on a character's boundary."""
    name = codecs.lookup(encoding).name
    if not name.startswith(("utf-16", "utf-32")):
        yield from binary
        return
    unit = 2 if name.startswith("utf-16") else 4
    chunks = iter(lambda: binary.read(1 << 16), b"") if hasattr(binary, "read") else binary
    buffer = b""
    newline: bytes | None = None
    for chunk in chunks:
        buffer += chunk
        if newline is None:
            if len(buffer) < unit:
                continue
            newline = _wide_newline(name, buffer[:unit])
        start = 0
        while (found := buffer.find(newline, start)) >= 0:
            if found % unit:  # the bytes of two characters, not a line break
                start = found + 1
                continue
            yield buffer[: found + unit]
            buffer = buffer[found + unit :]
            start = 0
    if buffer:
        yield buffer


def _wide_newline(name: str, head: bytes) -> bytes:
    """``\\n`` in this UTF-16 or UTF-32 variant; plain ``utf-16`` goes by the file's
    byte-order mark (little-endian without one, as Python's codec reads it)."""
    big = name.endswith("-be") or (
        not name.endswith("-le") and head in (codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
    )
    return "\n".encode(f"{name[:6]}-{'be' if big else 'le'}")


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
                    _header_is_text(path, start, consumed, lines, encoding, cells)
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
            if any(NUL in cell for cell in cells):
                yield BadRow(
                    start,
                    f"a NUL character (byte 0), which no text holds: the row is damaged, or "
                    f"the file is not {encoding}",
                    _first(names, cells, lambda cell: NUL in cell),
                    [cell.replace(NUL, "") for cell in cells],
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


def _header_is_text(
    path: Path, start: int, end: int, lines: _Lines, encoding: str, cells: list[str]
) -> None:
    """A header that is not text in the stream's encoding means the whole file is in another
    one: said once, with the encoding it looks like, rather than as a missing key column
    named in mojibake."""
    if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        wide = None  # read as what it is
    else:
        wide = next((name for bom, name in _WIDE_BOMS if lines.head.startswith(bom)), None)
    if wide is None and any(NUL in cell for cell in cells):
        wide = "UTF-16"  # ASCII text in UTF-16 without a byte-order mark: every other byte 0
    if wide is not None:
        raise CsvFormatError(
            path,
            start,
            f"the file looks like {wide} text, but the stream's encoding is {encoding}: save "
            f"it as UTF-8, or set the stream's `encoding` to {wide.lower()}",
        )
    if lines.bad and not lines.bad.isdisjoint(range(start, end + 1)):
        raise CsvFormatError(
            path,
            start,
            f"the header has bytes that are not valid {encoding}, so no column can be "
            "trusted: set the stream's `encoding` to the file's (cp1256 or latin-1 for many "
            "Excel exports)",
        )


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
