"""The CSV folder connector: each file (or glob of files) is a stream of rows."""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from connectors.csv.formulas import unescape
from connectors.csv.journal import Journal, Layout, journal_path
from connectors.csv.paths import OutsideFolder, confine
from connectors.csv.reader import NUL, CsvFormatError, Row, read_rows
from connectors.csv.settings import CsvSettings, CsvStreamSettings
from connectors.csv.writer import Change, cell, remove_leftovers
from syncer.connector import (
    LOCATION_FIELD,
    CheckResult,
    Page,
    ReadRequest,
    Record,
    RejectedRecord,
    StreamInfo,
    WriteOp,
    WriteOutcome,
    WriteResult,
)
from syncer.logs import get_logger
from syncer.remote.errors import FatalRemoteError, SkippableRemoteError

log = get_logger(__name__)

GLOB_CHARACTERS = frozenset("*?[")
HASH_CHUNK = 1 << 20


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in GLOB_CHARACTERS)


class CsvConnector:
    """Reads and writes a folder of CSV files, one stream per file name."""

    type_name: ClassVar[str] = "csv"
    settings_model: ClassVar[type[CsvSettings]] = CsvSettings

    def __init__(self, name: str, settings: CsvSettings) -> None:
        self.name = name
        self.settings = settings
        self.folder = settings.path
        self._journals: dict[Path, Journal] = {}

    async def aclose(self) -> None:
        for journal in list(self._journals.values()):
            try:
                await asyncio.to_thread(journal.rewrite)
            except (CsvFormatError, KeyError, OSError) as error:
                # Nothing is lost: the journal stays and the next use of the file replays it.
                log.warning(
                    "could not rewrite the file; its journal is kept for the next run",
                    path=str(journal.path),
                    error=_reason(error),
                )

    async def flush(self, stream: str) -> None:
        """Rewrite the stream's file with every row written to it so far."""
        await asyncio.to_thread(self._settle, stream)

    # -- streams ---------------------------------------------------------------------------

    def info(self, stream: str) -> StreamInfo:
        """Any name is a stream: writing to a new one creates ``<name>.csv``."""
        options = self.settings.stream(stream)
        upserts = options.mode == "upsert"
        return StreamInfo(
            name=stream,
            key=options.key_column,
            cursor="updated_at" if options.updated_at else "token",
            updated_field=options.updated_at,
            can_read=True,
            can_create=True,
            can_update=upserts,
            can_delete=upserts,
            lookup_fields=(options.key_column,),
            resumable=False,
            from_files=True,
        )

    def streams(self) -> Mapping[str, StreamInfo]:
        names = set(self.settings.streams)
        if self.folder.is_dir():
            names.update(
                path.stem for path in self.folder.glob("*.csv") if not path.name.startswith(".")
            )
        return {name: self.info(name) for name in sorted(names)}

    def files(self, stream: str) -> list[Path]:
        """The stream's files. One that leads out of the folder (a symbolic link, or a flow's
        stream name with ``..``) stops the read rather than being skipped: a file the stream
        should cover would silently be missing."""
        pattern = self.settings.stream(stream).file or f"{stream}.csv"
        if _is_glob(pattern):
            return sorted(
                self._confined(p)
                for p in self.folder.glob(pattern)
                if p.is_file() and not p.name.startswith(".")
            )
        path = self._confined(self.folder / pattern)
        return [path] if path.is_file() else []

    def _confined(self, path: Path) -> Path:
        try:
            return confine(self.folder, path)
        except OutsideFolder as error:
            raise FatalRemoteError(str(error), system=self.name, path=str(path)) from None

    # -- checks ----------------------------------------------------------------------------

    async def check(self) -> CheckResult:
        folder = self.folder
        if not folder.exists():
            return CheckResult(False, f"the folder {folder} does not exist")
        if not folder.is_dir():
            return CheckResult(False, f"{folder} is not a folder")
        if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            return CheckResult(False, f"the folder {folder} is not readable and writable by syncer")
        count = sum(1 for _ in folder.glob("*.csv"))
        return CheckResult(
            True, f"the folder {folder} is readable and writable ({count} CSV files)"
        )

    async def server_time(self) -> datetime:
        return datetime.now(UTC)

    # -- reading ---------------------------------------------------------------------------

    async def read(self, stream: str, request: ReadRequest) -> AsyncIterator[Page]:
        pages = self._pages(stream, request)
        while True:
            # Parsing is blocking work; a thread keeps the event loop free for heartbeats.
            page = await asyncio.to_thread(next, pages, None)
            if page is None:
                return
            yield page

    def _pages(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        self._require_folder()
        self._settle(stream)
        options = self.settings.stream(stream)
        size = request.page_size or self.settings.page_size
        files = self._source_files(stream)
        if options.updated_at:
            rows = self._windowed(files, options, request)
            yield from self._batches(rows, size, lambda: None)
            return
        previous = _fingerprints(request.after)
        current: dict[str, list[Any]] = {}
        changed: list[Path] = []
        for path in files:
            stat = path.stat()
            old = previous.get(path.name)
            if old and old[:2] == [stat.st_size, stat.st_mtime_ns]:
                current[path.name] = old  # untouched since the last read: not even opened
                continue
            try:
                digest = _sha256(path)
            except OSError as error:
                raise FatalRemoteError(
                    f"cannot read {path}: {error.strerror}", system=self.name, path=str(path)
                ) from None
            current[path.name] = [stat.st_size, stat.st_mtime_ns, digest]
            if not old or old[2] != digest:
                changed.append(path)  # a re-export with the same bytes is skipped
        counts: dict[str, int] = {}
        rows = (
            item
            for path in changed
            for item in self._counted(self._rows(path, options), path.name, counts)
        )

        def position() -> str:
            for name, count in counts.items():
                had = previous.get(name, [])[3:]
                if count == 0 and had and had[0] and not options.may_be_empty:
                    raise FatalRemoteError(
                        f"{name} has no rows now, but had {had[0]} when it was last read: a "
                        "truncated or unfinished export looks like this, so it is not read as "
                        "an empty source. Once the file is right, the next run reads it; to "
                        "read it as empty on purpose, run `syncer cursor reset` on the flow",
                        system=self.name,
                        path=str(self.folder / name),
                    )
                current[name] = [*current[name][:3], count]
            return json.dumps({"files": current}, sort_keys=True)

        yield from self._batches(rows, size, position)

    @staticmethod
    def _counted(
        items: Iterator[Record | RejectedRecord], name: str, counts: dict[str, int]
    ) -> Iterator[Record | RejectedRecord]:
        counts[name] = 0
        for item in items:
            counts[name] += 1
            yield item

    def _require_folder(self) -> None:
        """A folder that is not there (an unmounted share, a typo, a rename) is an error, never
        an empty source: mirror mode would disable everything it once listed."""
        if not self.folder.is_dir():
            what = "is not a folder" if self.folder.exists() else "does not exist"
            raise FatalRemoteError(
                f"the folder {self.folder} {what}: create it if it is new, or check that the "
                "share is mounted and `path` is right (syncer never takes a missing folder for "
                "an empty one)",
                system=self.name,
                path=str(self.folder),
            )

    def _source_files(self, stream: str) -> list[Path]:
        """The files a read covers. A stream named by one file needs that file; a glob may
        match nothing (a drop folder between deliveries)."""
        pattern = self.settings.stream(stream).file or f"{stream}.csv"
        files = self.files(stream)
        if not files and not _is_glob(pattern):
            raise FatalRemoteError(
                f"{pattern} does not exist in {self.folder}; a missing file is not read as an "
                f"empty one{self._near(pattern)}",
                system=self.name,
                path=str(self.folder / pattern),
            )
        return files

    def _near(self, missing: str) -> str:
        """A typo in a stream or file name shows as a missing file: name the closest one."""
        present = sorted(path.name for path in self.folder.glob("*.csv"))
        close = difflib.get_close_matches(missing, present, n=1)
        if not close:
            return ""
        stream = close[0].removesuffix(".csv")
        return f" (did you mean {close[0]}, stream {stream!r}?)"

    def _windowed(
        self, files: list[Path], options: CsvStreamSettings, request: ReadRequest
    ) -> Iterator[Record | RejectedRecord]:
        """Rows whose updated-at falls in the window. The window opens earlier by the
        precision of the column's format (a minute for ``%d/%m/%Y %H:%M``): a row stamped
        10:30 may have been written at 10:30:59, after a scan that ended at 10:30:40. A row
        with no updated-at at all is always read: nothing says it is old."""
        assert options.updated_at is not None
        parse = _time_parser(options)
        lower = request.updated_from
        if lower is not None:
            lower -= _precision(options.updated_at_format)
        rows = 0
        for path in files:
            for item in self._rows(path, options):
                rows += 1
                if isinstance(item, RejectedRecord):
                    yield item
                    continue
                raw = item.get(options.updated_at)
                if raw is None:
                    yield item
                    continue
                try:
                    moment = parse(raw)
                except ValueError as error:
                    yield RejectedRecord(item[LOCATION_FIELD], str(error), options.updated_at, item)
                    continue
                if lower is not None and moment < lower:
                    continue
                if request.updated_to is not None and moment > request.updated_to:
                    continue
                yield item
        if rows == 0 and files and request.known and not options.may_be_empty:
            # A window may well be empty; a whole file of nothing, from a stream that gave
            # records before, is a truncated or unfinished export.
            names = files[0].name if len(files) == 1 else f"the {len(files)} files of the stream"
            raise FatalRemoteError(
                f"{names} has no rows now, but had {request.known} when it was last read: a "
                "truncated or unfinished export looks like this, so it is not read as an empty "
                "source. Once the file is right, the next run reads it; a file that may be "
                "empty (a delta export) wants `may_be_empty: true` on its stream",
                system=self.name,
                path=str(files[0]),
            )

    def _rows(self, path: Path, options: CsvStreamSettings) -> Iterator[Record | RejectedRecord]:
        name, key = path.name, options.key_column
        escaped = self.settings.escape_formulas_for(options)
        try:
            for item in read_rows(
                path,
                encoding=self.settings.encoding_for(options),
                delimiter=self.settings.delimiter_for(options),
                header=options.header,
                columns=options.columns,
            ):
                where = f"{name}:{item.line}"
                if not isinstance(item, Row):
                    yield RejectedRecord(
                        where, item.reason, item.column, item.cells, delimited=item.delimited
                    )
                    continue
                if key not in item.values:
                    # A file without its key column cannot identify one row: a wrong file or a
                    # renamed column, not a pile of bad rows.
                    raise CsvFormatError(
                        path,
                        1,
                        f"there is no {key!r} column, which is the stream's key (the columns "
                        f"are {', '.join(item.values) or 'none'}); rename the column in the "
                        "file, or set the stream's `key`",
                    )
                # An empty cell is a null: CSV has no other way to write one (inlined: per row).
                record: Record = (
                    {column: unescape(value) or None for column, value in item.values.items()}
                    if escaped
                    else {column: value or None for column, value in item.values.items()}
                )
                if record.get(key) is None:
                    yield RejectedRecord(
                        where,
                        f"the key column {key!r} is empty or missing",
                        key,
                        item.values,
                    )
                    continue
                record[LOCATION_FIELD] = where
                yield record
        except CsvFormatError as error:
            raise FatalRemoteError(str(error), system=self.name, path=str(path)) from None
        except OSError as error:
            raise FatalRemoteError(
                f"cannot read {path}: {error.strerror}", system=self.name, path=str(path)
            ) from None

    @staticmethod
    def _batches(
        items: Iterator[Record | RejectedRecord], size: int, position: Callable[[], str | None]
    ) -> Iterator[Page]:
        """Pages of ``size``; the last carries ``position()``, asked once every row is read."""
        records: list[Record] = []
        rejected: list[RejectedRecord] = []
        for item in items:
            if isinstance(item, RejectedRecord):
                rejected.append(item)
            else:
                records.append(item)
            if len(records) + len(rejected) >= size:
                yield Page(records, None, rejected)
                records, rejected = [], []
        yield Page(records, position(), rejected)

    async def get(self, stream: str, native_id: str) -> Record | None:
        found = await self.lookup(stream, self.settings.stream(stream).key_column, [native_id])
        return found[0] if found else None

    async def lookup(self, stream: str, field: str, values: Sequence[str]) -> list[Record]:
        wanted = set(values)
        options = self.settings.stream(stream)

        def scan() -> list[Record]:
            if not self.folder.is_dir():
                self._require_folder()
            return [
                _cells_to_record(item)
                for item in self._current_rows(stream, options)
                if not isinstance(item, RejectedRecord) and item.get(field) in wanted
            ]

        return await asyncio.to_thread(scan)

    # -- writing ---------------------------------------------------------------------------

    async def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        return await asyncio.to_thread(self._write, stream, ops)

    def _write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        self._require_folder()
        written = self._written_file(stream)
        if written is None:
            raise FatalRemoteError(
                f"stream {stream!r} reads the files {self.settings.stream(stream).file}; set "
                "`file:` to one file name to write to it",
                system=self.name,
                resource=stream,
            )
        path, options = written
        refused: dict[str, WriteResult] = {}
        for op in ops:
            column = _nul_column(op.record) if op.kind != "delete" else None
            if column is not None:
                refused[op.ref] = self._refused(
                    op,
                    stream,
                    f"column {column!r} would hold a NUL character (byte 0), which a CSV file "
                    "cannot carry as text: the row would not read back",
                )
        everything = ops
        ops = _stamped([op for op in ops if op.ref not in refused], options)
        with self._file_errors(path):
            journal = self._journal(path, options)
            if options.mode == "append":
                records = [op.record for op in ops if op.kind != "delete"]
                journal.append(records)
                results = [
                    WriteResult(
                        op.ref, "created", native_id=_key(op, options.key_column), record=op.record
                    )
                    if op.kind != "delete"
                    else self._refused(op, stream, "a ledger in append mode cannot delete rows")
                    for op in ops
                ]
            else:
                results = self._upsert(journal, stream, ops, options)
        if refused:
            done = {result.ref: result for result in results}
            results = [refused.get(op.ref) or done[op.ref] for op in everything]
        if journal.pending >= self.settings.rewrite_every:
            # The batch is journaled: it must be acknowledged whatever the rewrite does, or a
            # ledger would get its rows twice when the engine sends them again.
            try:
                journal.rewrite()
            except (CsvFormatError, KeyError, OSError) as error:
                log.warning(
                    "could not rewrite the file; its rows stay in the journal and the end of "
                    "the run tries again",
                    path=str(path),
                    error=_reason(error),
                )
        return results

    def _upsert(
        self, journal: Journal, stream: str, ops: Sequence[WriteOp], options: CsvStreamSettings
    ) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        changes: list[Change] = []
        keyed: list[tuple[WriteOp, str]] = []
        for op in ops:
            key = _key(op, options.key_column)
            if not key:
                results[op.ref] = self._refused(
                    op, stream, f"the record has no {options.key_column!r} value"
                )
                continue
            changes.append(Change(key, None if op.kind == "delete" else op.record))
            keyed.append((op, key))
        outcomes = journal.upsert(changes)
        for op, key in keyed:
            outcome = outcomes.get(key, "updated")
            # Deleting a row that is not there leaves the file as asked: that is a delete too.
            kind: WriteOutcome = "deleted" if outcome == "missing" else outcome
            results[op.ref] = WriteResult(op.ref, kind, native_id=key, record=op.record)
        return [results[op.ref] for op in ops]

    # -- the journal of rows not yet in the file --------------------------------------------

    def _journal(self, path: Path, options: CsvStreamSettings) -> Journal:
        journal = self._journals.get(path)
        if journal is None:
            layout = Layout(
                mode=options.mode,
                key=options.key_column,
                encoding=self.settings.encoding_for(options),
                delimiter=self.settings.delimiter_for(options),
                columns=tuple(options.columns) if options.columns else None,
                escape_formulas=self.settings.escape_formulas_for(options),
            )
            journal = self._journals[path] = Journal(path, layout)
        return journal

    def _written_file(self, stream: str) -> tuple[Path, CsvStreamSettings] | None:
        """The one file a stream is written to (a glob stream is read-only). It and its
        journal must stay inside the folder; the temporary files of a rewrite are created
        beside it, and only ever as new files (see ``writer.atomic_file``)."""
        options = self.settings.stream(stream)
        pattern = options.file or f"{stream}.csv"
        if _is_glob(pattern):
            return None
        path = self._confined(self.folder / pattern)
        self._confined(journal_path(path))
        return path, options

    def _pending_journal(self, stream: str) -> Journal | None:
        """The stream's journal, also one a process that died left behind."""
        written = self._written_file(stream)
        if written is None:
            return None
        path, options = written
        if path not in self._journals and not journal_path(path).exists():
            return None
        with self._file_errors(path):
            return self._journal(path, options)

    def _settle(self, stream: str) -> None:
        """Bring the file up to date with its journal, so a read sees every row written."""
        journal = self._pending_journal(stream)
        if journal is None:
            written = self._written_file(stream)
            if written is not None:
                # A process killed while it rewrote the file may have left its temporary file
                # after its journal was done with.
                with self._file_errors(written[0]):
                    remove_leftovers(written[0])
            return
        with self._file_errors(journal.path):
            journal.rewrite()

    @contextmanager
    def _file_errors(self, path: Path) -> Iterator[None]:
        """A file that cannot be written (a broken row, a dropped column, a full disk) stops
        the run with its name; nothing acknowledged is lost, the journal keeps it."""
        try:
            yield
        except (CsvFormatError, KeyError) as error:
            raise FatalRemoteError(_reason(error), system=self.name, path=str(path)) from None
        except OSError as error:
            raise FatalRemoteError(
                f"cannot write {path}: {error.strerror}", system=self.name, path=str(path)
            ) from None

    def _current_rows(
        self, stream: str, options: CsvStreamSettings
    ) -> Iterator[Record | RejectedRecord]:
        """Every row of the stream as it stands, journaled rows included, without rewriting
        the file (lookups run for every batch; a rewrite per batch is what the journal saves)."""
        journal = self._pending_journal(stream)
        if journal is None:
            for path in self.files(stream):
                yield from self._rows(path, options)
            return
        rows = self._rows(journal.path, options) if journal.path.is_file() else iter(())
        records = (item for item in rows if not isinstance(item, RejectedRecord))
        yield from journal.overlay(records, journal.file.name)

    def _refused(self, op: WriteOp, stream: str, reason: str) -> WriteResult:
        error = SkippableRemoteError(reason, system=self.name, resource=stream, record_id=op.ref)
        return WriteResult(op.ref, "failed", native_id=op.native_id, error=error)


def _nul_column(record: Record) -> str | None:
    """The first column whose cell would hold a NUL character: the reader refuses such rows
    (no text holds one; a file with them is damaged or in another encoding), so syncer never
    writes one."""
    for column, value in record.items():
        if value is None:
            continue
        if NUL in (value if type(value) is str else cell(value)):
            return str(column)
    return None


def _cells_to_record(values: Mapping[str, Any]) -> Record:
    """A row as a record: an empty cell is a null (CSV has no other way to write one), so a
    blank credit limit is "none", not "not a number"."""
    return {name: None if value == "" else value for name, value in values.items()}


def _stamped(ops: Sequence[WriteOp], options: CsvStreamSettings) -> Sequence[WriteOp]:
    """Every row syncer writes carries the time it was written in the stream's updated-at
    column, in the column's format: it is the file's own last-modified time per row, which
    is what an incremental read of the file (by syncer or anyone) needs."""
    column = options.updated_at
    if column is None:
        return ops
    now = datetime.now(ZoneInfo(options.timezone))
    fmt = options.updated_at_format
    stamp = now.isoformat(timespec="seconds") if fmt == "iso" else now.strftime(fmt)
    return [
        op if op.kind == "delete" else replace(op, record={**op.record, column: stamp})
        for op in ops
    ]


def _precision(fmt: str) -> timedelta:
    """The coarsest step of a time format: the most a stamp in it can be behind the truth."""
    if fmt == "iso" or "%S" in fmt or "%f" in fmt or "%s" in fmt or "%T" in fmt:
        return timedelta(seconds=1)
    if "%M" in fmt or "%R" in fmt:
        return timedelta(minutes=1)
    if "%H" in fmt or "%I" in fmt:
        return timedelta(hours=1)
    return timedelta(days=1)


def _reason(error: Exception) -> str:
    # A KeyError's str() is the repr of its message.
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def _key(op: WriteOp, column: str) -> str:
    value = op.record.get(column)
    if value in (None, "") and op.native_id:
        return op.native_id
    return "" if value is None else str(value)


def _fingerprints(position: str | None) -> dict[str, list[Any]]:
    if not position:
        return {}
    try:
        files = json.loads(position).get("files", {})
    except (ValueError, AttributeError):
        return {}  # an unreadable position means: read everything again, which is safe
    return files if isinstance(files, dict) else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _time_parser(options: CsvStreamSettings) -> Any:
    zone = ZoneInfo(options.timezone)
    fmt = options.updated_at_format

    def parse(text: str) -> datetime:
        value = text.strip()
        try:
            moment = (
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                if fmt == "iso"
                else datetime.strptime(value, fmt)  # noqa: DTZ007 - the zone is applied below
            )
        except ValueError:
            expected = "an ISO 8601 time" if fmt == "iso" else f"a time in the format {fmt}"
            raise ValueError(f"expected {expected}, got {value!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)

    return parse
