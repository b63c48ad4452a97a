"""The contract between the engine and a connector.

A connector knows one system. It declares its streams and what each can do, reads pages of
native records for a window the engine chose, and writes batches, reporting one result per
record. It never decides where a cursor stands, whether a record changed or what to do with a
failure beyond its own request: those are the engine's. Everything is async so a connector can
keep several writes in flight (Repzo has no bulk endpoint).

Connector classes register under the ``syncer.connectors`` entry point and are built with
``ConnectorClass(name, settings)``.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from syncer.config.models import ConnectorSettings
from syncer.remote.errors import RemoteError

if TYPE_CHECKING:
    from syncer.observe import RunDescription, RunObserver

Record = dict[str, Any]
"""A native record, exactly as the system represents it (JSON-like)."""

CursorKind = Literal["updated_at", "id", "token", "none"]
"""How a stream is read incrementally:

- ``updated_at``: by a last-modified time, within a window ``[updated_from, updated_to]``;
- ``id``: by an increasing id, for append-only streams (documents);
- ``token``: the last page of a complete read carries a position (a file fingerprint, say);
  passed back as ``after``, it makes the next read return only what changed since, or nothing;
- ``none``: only complete listings are possible.
"""

LOCATION_FIELD = "_location"
"""A connector may add this key to a native record to say where it came from (``file:line``),
so errors about the record can point there. Mappings never see it as data."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What one stream of a connector is and can do."""

    name: str
    key: str
    """Field holding the native id (``_id`` in Repzo)."""
    cursor: CursorKind
    updated_field: str | None = None
    """Field holding the last-modified time, for ``updated_at`` streams."""
    can_read: bool = True
    can_create: bool = False
    can_update: bool = False
    can_delete: bool = False
    """Deleting means disabling where the system soft-deletes (Repzo: ``disabled: true``)."""
    lookup_fields: tuple[str, ...] = ()
    """Fields the system can filter by server-side (to find a record by an external key)."""
    resumable: bool = False
    """Reads come in a stable order with a position a crashed scan can resume from."""
    assigns_ids: bool = False
    """The system gives a record syncer creates an id of its own (Repzo's ``_id``, an ERP's
    customer number), known only from its answer. Such a key is worth writing back to the
    source; a file keyed by the record's own code is not."""
    from_files: bool = False
    """Records come from files a person can fix: a record that failed is retried by reading
    the files again, not from the copy kept with its dead letter."""


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One scan of a stream, as the engine frames it."""

    updated_from: datetime | None = None
    """Lower bound of the last-modified time (the engine already applied its lookback)."""
    updated_to: datetime | None = None
    """Upper bound fixed before the scan; records changed later belong to the next scan."""
    after: str | None = None
    """Resume position (a :attr:`Page.position` of an earlier scan, or an id for ``id``
    cursors)."""
    filters: Mapping[str, Any] = field(default_factory=dict)
    """Server-side equality filters (a list value means "any of")."""
    page_size: int | None = None
    """Records per page; the connector's configured size when None."""
    known: int | None = None
    """For sources a person fills (``from_files``): how many live records the engine holds
    from this stream. A source with no records at all while the engine knows some is more
    likely cut short than emptied, and a connector that cannot tell otherwise says so."""


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A source record the connector could not even read (a broken CSV row): the engine parks
    it as a dead letter and the rest of the page goes on."""

    key: str
    """Where it is (``customers.csv:17``) or its id when it has one."""
    reason: str
    field: str | None = None
    """The column or field at fault, when one is."""
    raw: Any = None
    """What was read, as far as it could be."""
    delimited: bool = True
    """False when the source could not even tell where the record ends (an unclosed quote in
    a CSV file swallows the lines after it): such text is not counted as a record read."""


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]
    position: str | None
    """Where to resume after this page; None once the listing is complete (for ``token``
    streams, the position to pass back next time)."""
    rejected: list[RejectedRecord] = field(default_factory=list)
    total: int | None = None
    """How many records the whole listing holds, where the system says (Repzo's
    ``total_result``): a complete listing that yields fewer is short, not complete."""


WriteKind = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class WriteOp:
    """One record to write. ``ref`` is the caller's own key, echoed in the result."""

    kind: WriteKind
    record: Record
    ref: str
    native_id: str | None = None
    """Required for update and delete."""
    lookup: tuple[str, str] | None = None
    """(field, value) that finds this record in the target, e.g. ``("integration_meta.id",
    "demo_C-00042")``: lets a create whose outcome is unknown be retried without duplicating."""


WriteOutcome = Literal["created", "updated", "deleted", "failed"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    ref: str
    outcome: WriteOutcome
    native_id: str | None = None
    record: Record | None = None
    """The record as the target stored it (with its stamps), when it says."""
    error: RemoteError | None = None
    """Why it failed, for ``failed``: a skippable error the engine dead-letters."""


class PartialWrite(Exception):
    """A batch write that a failure ended part way (a retry budget spent, a stop asked for),
    with the results of the writes that finished before it. The engine records those, since
    the target holds them, then goes on with ``cause`` as if the write had raised it."""

    def __init__(self, cause: Exception, results: Sequence[WriteResult]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.results = list(results)


async def write_each(
    write_one: Callable[[WriteOp], Awaitable[WriteResult]],
    ops: Sequence[WriteOp],
    limit: int,
) -> list[WriteResult]:
    """``write_one`` for every op, at most ``limit`` at once, results in the order of ``ops``:
    the way a connector whose system takes one record per request writes a batch.

    ``write_one`` returns per-record refusals as failed results and raises what ends the run.
    Then no further write starts, the ones in flight finish (each was sent, so each may have
    been applied; their answers say), and :class:`PartialWrite` carries the finished ones."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    gate = asyncio.Semaphore(limit)
    results: list[WriteResult | None] = [None] * len(ops)
    stopped: list[Exception] = []

    async def run(index: int, op: WriteOp) -> None:
        async with gate:
            if stopped:
                return
            try:
                results[index] = await write_one(op)
            except Exception as error:  # noqa: BLE001 - handed on below, after the others
                stopped.append(error)

    await asyncio.gather(*(run(index, op) for index, op in enumerate(ops)))
    done = [result for result in results if result is not None]
    if stopped:
        raise PartialWrite(stopped[0], done)
    return done


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str
    """One sentence: what was checked and what came of it."""


@runtime_checkable
class Connector(Protocol):
    """What the engine calls. Fatal and retry-budget errors are raised; per-record refusals
    come back as failed :class:`WriteResult` entries."""

    type_name: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]
    name: str

    def streams(self) -> Mapping[str, StreamInfo]: ...

    async def check(self) -> CheckResult:
        """Verify the credentials with one cheap call; fail fast, without long retries."""
        ...

    async def server_time(self) -> datetime:
        """The system's own clock, for fixing a scan's upper bound."""
        ...

    def read(self, stream: str, request: ReadRequest) -> AsyncIterator[Page]: ...

    async def get(self, stream: str, native_id: str) -> Record | None: ...

    async def lookup(self, stream: str, field: str, values: Sequence[str]) -> list[Record]:
        """Records whose ``field`` equals one of ``values`` (a server-side filter)."""
        ...

    async def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Write a batch. A failure that ends the run after some writes went through is raised
        as :class:`PartialWrite` with their results (:func:`write_each` does that), so the
        engine records what the target holds."""
        ...

    async def aclose(self) -> None: ...


# -- abilities a connector may have ------------------------------------------------------
# The engine asks ``isinstance(connector, Flushable)`` and the like; a connector has an
# ability by defining its method, with no base class to inherit.


@runtime_checkable
class Flushable(Protocol):
    """Acknowledges writes before the system shows them (the CSV connector journals batches
    and rewrites the file later): the engine calls :meth:`flush` at the end of every run that
    wrote to ``stream``."""

    async def flush(self, stream: str) -> None: ...


@runtime_checkable
class KeyWriteBack(Protocol):
    """Can store another system's key on one of its records without that counting as a change
    of the record (Repzo's ``update-integration-meta``)."""

    async def annotate(self, stream: str, native_id: str, values: Mapping[str, object]) -> None: ...


@runtime_checkable
class Describable(Protocol):
    """Streams are open-ended (any file name of a CSV folder): :meth:`info` describes one that
    :meth:`Connector.streams` does not list."""

    def info(self, stream: str) -> StreamInfo: ...


@runtime_checkable
class UsesFindings(Protocol):
    """Takes what a probe of the system learnt (the page size it really serves), kept in the
    state store, so that every run uses it."""

    def use_findings(self, findings: Mapping[str, object]) -> None: ...


@runtime_checkable
class ObservesRuns(Protocol):
    """Keeps a record of the runs that touch it (Repzo's integration command and action logs):
    returns the observer of one run, or None when it keeps none of this run."""

    def run_observer(self, run: RunDescription) -> RunObserver | None: ...


@runtime_checkable
class NamesStreams(Protocol):
    """A connector type (the class) that knows what its streams are called without connecting
    (Repzo's come from its registry), so the configuration check can refuse an unknown one."""

    @classmethod
    def stream_names(cls) -> frozenset[str]: ...


@runtime_checkable
class ChecksMappings(Protocol):
    """A connector type (the class) that can point out likely mistakes in a mapping file of one
    of its streams (paths the system's own types lack), for ``syncer check`` to show."""

    @classmethod
    def mapping_notes(cls, stream: str, mapping_file: Path) -> list[str]: ...


def find_stream(streams: Mapping[str, StreamInfo], name: str, connector: str) -> StreamInfo:
    """The stream called ``name``, or a KeyError that suggests close names."""
    try:
        return streams[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(streams), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"connector {connector!r} has no stream {name!r}{hint}") from None


def parse_instant(value: Any) -> datetime | None:
    """A source's last-modified value as aware UTC (ISO text, ms epoch or datetime), or None
    when it names no instant; shared by the engine's cursors and connectors that bound a scan
    themselves."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None  # no instant (1e999, NaN): the record carries no usable stamp
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)
