"""Settings of a ``type: csv`` connector."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.csv.paths import file_name_problem
from syncer.config.models import ConnectorSettings, StreamConflict, StrictModel
from syncer.config.types import TimeZoneName


def _known_encoding(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(
            "expected a Python codec name such as utf-8, utf-8-sig, cp1256 or latin-1, "
            f"got {value!r}"
        ) from None
    return value


class CsvStreamSettings(StrictModel):
    """How one stream maps onto files. Every key falls back to the connector's own."""

    file: str | None = None
    """File name (``customers.csv``, the default being ``<stream>.csv``) or a glob for drops
    of many files (``invoices_*.csv``), inside the connector's folder: an absolute path or a
    ``..`` is refused, and so is, when it is used, a symbolic link that leads out of it."""
    key: str | None = None
    """Column that identifies a row: upserts replace the row with the same key. By default
    the ``key`` of the stream's mapping (``id`` when no flow maps the stream)."""
    updated_at: str | None = None
    """Column holding each row's last-modified time; by default the ``cursor`` of the
    stream's mapping. Without one, the file's fingerprint (size, mtime, content hash) tells
    whether anything changed. syncer stamps it on every row it writes."""
    updated_at_format: str = "iso"
    """``iso`` (ISO 8601), or a strptime format such as ``%d/%m/%Y %H:%M``."""
    timezone: TimeZoneName = "UTC"
    """Zone of updated-at values written without an offset."""
    header: bool = True
    """The first row names the columns. Without a header, ``columns`` must name them."""
    columns: list[str] | None = None
    """Column names, in order: required without a header; for writing, the column order."""
    mode: Literal["upsert", "append"] = "upsert"
    """``upsert``: rows keyed by ``key``, re-running changes nothing; ``append``: a ledger."""
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    encoding: str | None = None
    escape_formulas: bool | None = None
    """Whether cells a spreadsheet would run as formulas are written with a ``'`` in front
    (and read without it); by default the connector's setting."""
    may_be_empty: bool = False
    """The file may hold only its header although it had rows before (a delta export on a day
    without changes): read as nothing new. By default such a file is taken for a truncated or
    unfinished export, and the read fails."""

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        return _known_encoding(value)

    @field_validator("file")
    @classmethod
    def _inside_the_folder(cls, value: str | None) -> str | None:
        problem = None if value is None else file_name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _columns_without_header(self) -> CsvStreamSettings:
        if not self.header and not self.columns:
            raise ValueError("a file without a header row needs `columns` to name them")
        return self

    @property
    def key_column(self) -> str:
        return self.key or "id"


class CsvSettings(ConnectorSettings):
    type: Literal["csv"] = "csv"
    path: Path
    """Folder the CSV files are read from and written to (relative to the configuration
    file's folder). It must exist: a missing folder is an error, never an empty source."""
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    """``utf-8-sig`` reads UTF-8 with or without a byte-order mark (and writes one, which Excel
    wants); Excel exports in the Middle East are often ``cp1256``."""
    page_size: int = Field(default=1000, ge=1, le=100_000)
    """Rows handed to the engine at a time."""
    rewrite_every: int = Field(default=20_000, ge=1, le=1_000_000)
    """Rows written are collected in a journal beside the file (``.<file>.journal``) and the
    file is rewritten once this many are waiting, and at the end of every run: rewriting a
    large file for every batch would make an export slow down as the file grows."""
    escape_formulas: bool = True
    """Cells starting with ``=``, ``+``, ``-``, ``@``, tab or CR (a plain number aside) are
    written with a ``'`` in front, so a spreadsheet shows them as text rather than running
    them, and read back without it (the exact rule is in ``formulas.py``). Turn it off for
    files only programs read, which want the text exactly as it is."""
    streams: dict[str, CsvStreamSettings] = Field(default_factory=dict)
    """Per-stream settings; a file in the folder is a stream even without an entry here."""

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        return _known_encoding(value) or value

    @field_validator("streams")
    @classmethod
    def _stream_files_inside_the_folder(
        cls, value: dict[str, CsvStreamSettings]
    ) -> dict[str, CsvStreamSettings]:
        # A stream without `file` is the file `<stream>.csv`, so its name is a file name.
        for name, options in value.items():
            if options.file is None and file_name_problem(f"{name}.csv") is not None:
                raise ValueError(
                    f"stream {name!r} has no `file`, so its file would be {name}.csv, which is "
                    "not a name inside the connector's folder; name the stream like a file "
                    "(customers), or set its `file`"
                )
        return value

    def stream(self, name: str) -> CsvStreamSettings:
        return self.streams.get(name) or CsvStreamSettings()

    def adopt_mapping(
        self, stream: str, *, key: str, cursor: str | None
    ) -> tuple[CsvSettings, list[StreamConflict]]:
        """The stream's key column and updated-at column come from its mapping unless set
        here; set in both places, they must agree (one source of truth, or an error that
        names both)."""
        options = self.stream(stream)
        conflicts: list[StreamConflict] = []
        update: dict[str, str] = {}
        for setting, value, mapping_key in (
            ("key", key, "key"),
            ("updated_at", cursor, "cursor"),
        ):
            mine = getattr(options, setting)
            if value is None:
                continue
            if mine is None:
                update[setting] = value
            elif mine != value:
                conflicts.append(StreamConflict(setting, mine, mapping_key, value))
        if not update:
            return self, conflicts
        streams = {**self.streams, stream: options.model_copy(update=update)}
        return self.model_copy(update={"streams": streams}), conflicts

    def delimiter_for(self, stream: CsvStreamSettings) -> str:
        return stream.delimiter or self.delimiter

    def encoding_for(self, stream: CsvStreamSettings) -> str:
        return stream.encoding or self.encoding

    def escape_formulas_for(self, stream: CsvStreamSettings) -> bool:
        if stream.escape_formulas is None:
            return self.escape_formulas
        return stream.escape_formulas
