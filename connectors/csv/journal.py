"""Batches written to a CSV file between two rewrites of it.

A CSV file is replaced atomically by writing it whole, so rewriting it for every batch makes a
large export quadratic in the file's size. Instead each batch is appended to a journal beside
the file (``.customers.csv.journal``, JSON lines) and fsynced before the write is acknowledged;
the file itself is rewritten once the journal holds ``rewrite_every`` rows, and at the end of
every run. Nothing acknowledged is lost: a process that dies leaves its journal behind, and the
next use of the file replays it first. Readers of the file only ever see whole rewrites.

Replaying is safe to repeat. Upserts are keyed; and just before a rewritten file replaces the
old one the journal records the new file's size, so when the process dies between the rename
and the journal's removal, the next replay sees the file already has the size it was going to
have and does not append a ledger's rows a second time.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from connectors.csv.formulas import unescape
from connectors.csv.keys import FileKeys
from connectors.csv.reader import BadRow, CsvFormatError, read_header, read_rows
from connectors.csv.writer import (
    Change,
    Outcome,
    append,
    cell,
    fsync_directory,
    remove_leftovers,
    upsert,
)
from syncer.connector import LOCATION_FIELD

_ABSENT: Any = object()

Packed = tuple[tuple[str, ...], tuple[str, ...]]
"""A pending row as (its columns, their cells): a journal holds up to ``rewrite_every`` rows,
and as tuples (the columns shared by every row of the same shape) they take half the memory
of a dict each."""


class _Unpacked(Sequence[dict[str, str]]):
    """Packed rows seen as dicts, each made when it is read: a rewrite goes through them one
    at a time instead of holding all of them as dicts at once."""

    def __init__(self, rows: Sequence[Packed]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [_unpack(row) for row in self._rows[index]]
        return _unpack(self._rows[index])


def _unpack(row: Packed) -> dict[str, str]:
    return dict(zip(*row, strict=True))


@dataclass(frozen=True, slots=True)
class Layout:
    """How the file is written: what a rewrite needs to know."""

    mode: Literal["upsert", "append"]
    key: str
    encoding: str
    delimiter: str
    columns: tuple[str, ...] | None = None
    escape_formulas: bool = True
    """Cells a spreadsheet would run are quoted in the file (``formulas.py``). The journal
    holds the values as given, so keys are compared unquoted."""


def journal_path(path: Path) -> Path:
    return path.parent / f".{path.name}.journal"


class Journal:
    """The pending batches of one CSV file, on disk and in memory."""

    def __init__(self, path: Path, layout: Layout) -> None:
        self.path = path
        self.layout = layout
        self.file = journal_path(path)
        self._upserts: dict[str, Packed | None] = {}
        """Key -> the row's pending columns (merged over its batches), None when deleted."""
        self._appends: list[Packed] = []
        self._shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._ledger_columns: list[str] | None = None
        self._keys: FileKeys | None = None
        """Keys in the file as last read or written, valid while its stat is ``_keys_stat``."""
        self._keys_stat: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._replay()

    @property
    def pending(self) -> int:
        """Rows waiting for the next rewrite (a row changed twice counts once)."""
        return len(self._upserts) + len(self._appends)

    # -- writing -------------------------------------------------------------------------

    def upsert(self, changes: Sequence[Change]) -> dict[str, Outcome]:
        """Journal keyed changes; the outcome per key is what the file will show."""
        with self._lock:
            keys = self._file_keys()
            staged: dict[str, dict[str, str] | None] = {}
            entries: list[dict[str, Any]] = []
            outcomes: dict[str, Outcome] = {}
            for change in changes:
                before = staged.get(change.key, _ABSENT)
                if before is _ABSENT:
                    kept = self._upserts.get(change.key, _ABSENT)
                    before = _unpack(kept) if isinstance(kept, tuple) else kept
                present = change.key in keys if before is _ABSENT else before is not None
                if change.values is None:
                    outcomes[change.key] = "deleted" if present else "missing"
                    staged[change.key] = None
                    entries.append({"u": change.key, "v": None})
                    continue
                values = {name: cell(value) for name, value in change.values.items()}
                values.setdefault(self.layout.key, change.key)
                if before is None:
                    # Deleted earlier in this journal, so the row is replaced whole: the
                    # rewrite must not merge these columns over the old row still in the file.
                    values = {**dict.fromkeys(self._header() or (), ""), **values}
                outcomes[change.key] = "updated" if present else "created"
                # Batches may carry only some columns: the rewrite merges them over the row.
                staged[change.key] = {**before, **values} if isinstance(before, dict) else values
                entries.append({"u": change.key, "v": values})
            self._append_entries(entries)
            for key, row in staged.items():
                self._upserts[key] = None if row is None else self._pack(row)
            return outcomes

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Journal rows for the end of a ledger. A row with a column the ledger does not have
        is refused before anything is written (KeyError)."""
        with self._lock:
            columns = self._ledger_columns
            if columns is None:
                columns = self._header() or list(self.layout.columns or [])
                if not columns:
                    for names in [*(names for names, _ in self._appends), *rows]:
                        columns.extend(name for name in names if name not in columns)
            for row in rows:
                unknown = [name for name in row if name not in columns]
                if unknown:
                    raise KeyError(f"column {unknown[0]!r} is not in {self.path.name}'s header")
            cells = [{name: cell(row.get(name)) for name in columns} for row in rows]
            self._append_entries([{"a": row} for row in cells])
            self._appends.extend(self._pack(row) for row in cells)
            self._ledger_columns = columns

    def rewrite(self) -> None:
        """Apply every pending row to the file (one atomic rewrite) and empty the journal."""
        with self._lock:
            if not self.pending:
                if self.file.exists():
                    self._discard()
                # A process killed while it rewrote the file may have left its temporary file
                # even when nothing is left to write (the file was replaced, or never reached).
                remove_leftovers(self.path)
                return
            upserts, appends = self._upserts, self._appends
            layout = self.layout
            columns = list(layout.columns) if layout.columns else None

            def mark(size: int) -> None:
                self._append_entries([{"to": size}])

            if upserts and not appends and self._only_new_rows():
                # The common case of a big export: the old rows stay as they are, so their
                # bytes are copied rather than parsed and written again.
                append(
                    self.path,
                    _Unpacked([values for values in upserts.values() if values is not None]),
                    encoding=layout.encoding,
                    delimiter=layout.delimiter,
                    before_replace=mark,
                    escape_formulas=layout.escape_formulas,
                )
            elif upserts:
                upsert(
                    self.path,
                    [
                        Change(key, None if values is None else _unpack(values))
                        for key, values in upserts.items()
                    ],
                    key=layout.key,
                    encoding=layout.encoding,
                    delimiter=layout.delimiter,
                    columns=columns,
                    before_replace=None if appends else mark,
                    escape_formulas=layout.escape_formulas,
                )
            if appends:
                append(
                    self.path,
                    _Unpacked(appends),
                    encoding=layout.encoding,
                    delimiter=layout.delimiter,
                    columns=self._ledger_columns or columns,
                    before_replace=mark,
                    escape_formulas=layout.escape_formulas,
                )
            if self._keys is not None:
                for key, values in upserts.items():
                    if values is None:
                        self._keys.discard(key)
                    else:
                        self._keys.add(key)
                self._keys_stat = _stat(self.path)
            self._discard()

    # -- reading -------------------------------------------------------------------------

    def overlay(self, rows: Iterable[dict[str, Any]], location: str) -> Iterator[dict[str, Any]]:
        """``rows`` of the file as they will be after the next rewrite."""
        with self._lock:
            upserts = dict(self._upserts)
            appends = list(self._appends)
        seen: set[str] = set()
        for row in rows:
            key = row.get(self.layout.key)
            if isinstance(key, str) and key in upserts:
                seen.add(key)
                values = upserts[key]
                if values is None:
                    continue
                row = {**row, **_unpack(values)}
            yield row
        for key, values in upserts.items():
            if values is not None and key not in seen:
                yield {**_unpack(values), LOCATION_FIELD: location}
        for values in appends:
            yield {**_unpack(values), LOCATION_FIELD: location}

    # -- internals -----------------------------------------------------------------------

    def _header(self) -> list[str] | None:
        if not self.path.exists():
            return None
        return read_header(
            self.path, encoding=self.layout.encoding, delimiter=self.layout.delimiter
        )

    def _only_new_rows(self) -> bool:
        """Every waiting row is new to the file and fits its header (deleting a row that is
        not there changes nothing)."""
        header = self._header()
        if header is None:
            return False  # a new file: the full write puts the key column first
        columns, keys = set(header), self._file_keys()
        return all(
            key not in keys and (values is None or columns.issuperset(values[0]))
            for key, values in self._upserts.items()
        )

    def _file_keys(self) -> FileKeys:
        """The keys in the file, read once and again only when someone else changed it.
        Reading it also refuses a file a rewrite would damage, before anything is journaled."""
        stat = _stat(self.path)
        if self._keys is not None and stat == self._keys_stat:
            return self._keys
        keys = FileKeys()
        header = self._header() if stat is not None else None
        if header is not None:
            if self.layout.key not in header:
                raise CsvFormatError(
                    self.path, 1, f"the file has no {self.layout.key!r} column to key the rows by"
                )
            for item in read_rows(
                self.path, encoding=self.layout.encoding, delimiter=self.layout.delimiter
            ):
                if isinstance(item, BadRow):
                    # A rewrite would carry a damaged row over as if it were data.
                    raise CsvFormatError(
                        self.path, item.line, f"cannot update the file: {item.reason}"
                    )
                key = item.values.get(self.layout.key, "")
                keys.add(unescape(key) if self.layout.escape_formulas else key)
        self._keys, self._keys_stat = keys, stat
        return keys

    def _pack(self, values: Mapping[str, str]) -> Packed:
        names = tuple(values)
        return self._shapes.setdefault(names, names), tuple(values.values())

    def _append_entries(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        created = not self.file.exists()
        data = b"".join(
            json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
            for entry in entries
        )
        with self.file.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            fsync_directory(self.file.parent)

    def _discard(self) -> None:
        self.file.unlink(missing_ok=True)
        fsync_directory(self.file.parent)
        self._upserts, self._appends, self._shapes = {}, [], {}

    def _replay(self) -> None:
        """Pick up the journal a previous process left."""
        if not self.file.exists():
            return
        kept = 0
        size_after_rewrite: int | None = None
        with self.file.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    break  # torn by a crash while it was written: it was never acknowledged
                try:
                    entry = json.loads(line)
                    size_after_rewrite = self._apply(entry)
                except (ValueError, TypeError, KeyError, AttributeError):
                    raise CsvFormatError(
                        self.file,
                        number,
                        "the journal of unwritten rows is damaged; move it away to drop "
                        "those rows, and sync again to send them",
                    ) from None
                kept += len(line)
        if kept < self.file.stat().st_size:
            os.truncate(self.file, kept)
        stat = _stat(self.path)
        if size_after_rewrite is not None and stat is not None and stat[0] == size_after_rewrite:
            self._discard()  # the rewrite replaced the file; only the cleanup was missed

    def _apply(self, entry: dict[str, Any]) -> int | None:
        if "to" in entry:
            return int(entry["to"])
        if "a" in entry:
            self._appends.append(self._pack(_cells(entry["a"])))
            return None
        key, values = str(entry["u"]), entry["v"]
        if values is None:
            self._upserts[key] = None
            return None
        before = self._upserts.get(key)
        self._upserts[key] = self._pack({**(_unpack(before) if before else {}), **_cells(values)})
        return None


def _cells(values: Any) -> dict[str, str]:
    """A journal line's row; anything but text to text is damage (TypeError)."""
    row = dict(values)
    if not all(isinstance(name, str) and isinstance(cell, str) for name, cell in row.items()):
        raise TypeError("a row holds something other than text")
    return row


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino
