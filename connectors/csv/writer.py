"""Writing CSV files atomically: the new content goes to a temporary file in the same folder,
is flushed and fsynced, then renamed over the old file. A reader (or a crash, even kill -9)
sees the old file or the new one, never half of one.

Upsert rewrites the file streaming row by row, replacing rows whose key is in the batch and
appending new ones, so memory does not grow with the file. Append copies the old bytes as they
are and adds rows at the end (a ledger). Both cost the size of the whole file, so the connector
collects batches in a journal (``journal.py``) and calls these once per many batches.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from connectors.csv.formulas import FIRST, escape, unescape
from connectors.csv.reader import BadRow, CsvFormatError, read_header, read_rows

Outcome = Literal["created", "updated", "deleted", "missing"]


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    values: Mapping[str, Any] | None
    """New column values; None deletes the row."""


def cell(value: Any) -> str:
    """How a canonical-side value is written in a cell."""
    if type(value) is str:
        return value  # most cells, and every cell a second time (journal, then file)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _escaped_cell(value: Any) -> str:
    text = value if type(value) is str else cell(value)
    # escape() decides on the first character: most cells are done without a call.
    return escape(text) if text and text[0] in FIRST else text


BeforeReplace = Callable[[int], None]
"""Told the size of the complete new file just before it replaces the old one."""


@contextmanager
def atomic_file(
    path: Path, encoding: str, before_replace: BeforeReplace | None = None
) -> Iterator[IO[str]]:
    """A text file that replaces ``path`` only once it is complete and on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        # "x": only ever a new file, never through a link someone put there in advance.
        with temporary.open("x", encoding=encoding, newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(temporary.stat().st_size)
        temporary.replace(path)
        fsync_directory(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_leftovers(path: Path) -> None:
    # A process killed mid-write leaves its temporary file; the target itself is intact.
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)


def fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _ordered_columns(existing: Sequence[str], changes: Sequence[Change], key: str) -> list[str]:
    columns = list(existing) or [key]
    for change in changes:
        for name in change.values or ():
            if name not in columns:
                columns.append(name)
    return columns


def upsert(
    path: Path,
    changes: Sequence[Change],
    *,
    key: str,
    encoding: str,
    delimiter: str,
    columns: Sequence[str] | None = None,
    before_replace: BeforeReplace | None = None,
    escape_formulas: bool = True,
) -> dict[str, Outcome]:
    """Apply ``changes`` keyed by the ``key`` column; returns the outcome per key. With
    ``escape_formulas`` the cells written from ``changes`` are quoted as ``formulas.py`` says
    and the file's keys compared unquoted; rows left alone keep their text."""
    pending = {change.key: change for change in changes}
    to_cell = _escaped_cell if escape_formulas else cell
    file_key = unescape if escape_formulas else str
    existing = read_header(path, encoding=encoding, delimiter=delimiter) if path.exists() else None
    names = _ordered_columns(existing or list(columns or []), changes, key)
    if existing is not None and key not in existing:
        raise CsvFormatError(path, 1, f"the file has no {key!r} column to key the rows by")
    outcomes: dict[str, Outcome] = {}
    with atomic_file(path, encoding, before_replace) as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(names)
        if existing is not None:
            for item in read_rows(path, encoding=encoding, delimiter=delimiter):
                if isinstance(item, BadRow):
                    # Rewriting would carry a damaged row over as if it were data.
                    raise CsvFormatError(path, item.line, f"cannot update the file: {item.reason}")
                row = item.values
                change = pending.pop(file_key(row.get(key, "")), None)
                if change is None:
                    writer.writerow([row.get(name, "") for name in names])
                elif change.values is None:
                    outcomes[change.key] = "deleted"
                else:
                    merged = {**row, **{n: to_cell(v) for n, v in change.values.items()}}
                    writer.writerow([merged.get(name, "") for name in names])
                    outcomes[change.key] = "updated"
        for change in pending.values():
            if change.values is None:
                outcomes[change.key] = "missing"
                continue
            values = {name: to_cell(value) for name, value in change.values.items()}
            writer.writerow([values.get(name, "") for name in names])
            outcomes[change.key] = "created"
    return outcomes


def append(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    encoding: str,
    delimiter: str,
    columns: Sequence[str] | None = None,
    before_replace: BeforeReplace | None = None,
    escape_formulas: bool = True,
) -> list[str]:
    """Add ``rows`` at the end of a ledger. Returns the columns of the file; a row with a
    column the file does not have is refused before anything is written (KeyError). With
    ``escape_formulas`` the new cells are quoted as ``formulas.py`` says; the old bytes are
    copied as they are."""
    to_cell = _escaped_cell if escape_formulas else cell
    existing = read_header(path, encoding=encoding, delimiter=delimiter) if path.exists() else None
    names = list(existing or columns or [])
    if not names:
        for row in rows:
            names.extend(name for name in row if name not in names)
    for row in rows:
        unknown = [name for name in row if name not in names]
        if unknown:
            raise KeyError(f"column {unknown[0]!r} is not in {path.name}'s header")
    with atomic_file(path, encoding, before_replace) as handle:
        if existing is not None:
            with path.open("r", encoding=encoding, newline="") as old:
                last = ""
                while chunk := old.read(1 << 20):
                    handle.write(chunk)
                    last = chunk[-1]
            if last not in ("\n", "\r"):
                handle.write("\r\n")  # the old file ended mid-line: do not glue rows to it
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        if existing is None:
            writer.writerow(names)
        for row in rows:
            writer.writerow([to_cell(row.get(name)) for name in names])
    return names
