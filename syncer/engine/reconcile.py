"""Reconciling a document flow: is what the target holds what the source holds?

The proof an accountant asks for. For one document flow (invoices, credit notes, payments,
refunds) and a time window, every source document is read exactly as a sync reads it (the
same connector, paging and retries, the same mapping, references resolved through the id map),
its counterpart is found in the target as a sync finds it (the id map, else the document
number through the target's identity lookup), both are put in canonical form and compared
field by field.

It only reads. Nothing is written to either system or to the state store (no run, no cursor,
no id-map row, no lease), so it can run beside a live sync.

The comparison itself is pure (:func:`compared_fields`, :func:`compare`); :class:`Reconciler`
does the reading.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel

from syncer.canonical import ENTITIES
from syncer.canonical.entities import DOCUMENTS
from syncer.config.models import FlowConfig, StreamRef
from syncer.connector import Connector, ReadRequest, Record, StreamInfo, parse_instant
from syncer.engine import idmap
from syncer.engine.context import EngineContext
from syncer.engine.filters import source_filters, takes
from syncer.engine.idmap import Resolver
from syncer.errors import ConfigError, ConfigIssue, RecordError, SyncerError
from syncer.exit_codes import ExitCode
from syncer.mapping.errors import MappingError
from syncer.mapping.mapping import CanonicalRecord, CompiledMapping, FieldRule, MappingContext
from syncer.mapping.paths import MISSING, dig
from syncer.remote.budget import run_scope

DOCUMENT_ENTITIES = tuple(sorted(DOCUMENTS))
"""The canonical entities a reconciliation compares: documents, which end up in the books."""

HEADER_FIELDS = (
    "number",
    "customer",
    "issue_date",
    "paid_on",
    "currency",
    "subtotal",
    "discount_total",
    "tax_total",
    "total",
    "amount",
)
"""What an accountant checks on a document's header, in the order shown; an entity compares
the ones its canonical model has. The number too: a document linked through the id map may
have been renumbered since."""

LINES = "lines"
LINE_FIELDS = ("quantity", "unit_price", "discount", "tax_amount", "total", "tax_included")
"""What is compared on each line, in order."""

UNIT = Decimal("0.001")
"""Amounts compare at the documents' resolution (Repzo's x1000 integers, 3-place ERP
decimals), rounded half up as accountants round."""

Status = Literal["equal", "different", "missing_in_target", "missing_in_source", "not_comparable"]
Side = Literal["source", "target"]

DEFAULT_DAYS = 30
"""The window when none is given: the last 30 days."""


class NotADocumentFlow(ConfigError):
    """The flow carries something other than documents: there is nothing to reconcile."""


class EmptyWindow(SyncerError):
    """``--since`` is not before ``--until``: no document can be in the window."""

    exit_code = ExitCode.BAD_CONFIG


# -- the window --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """``[since, until)`` of the documents' last-modified (or cursor) time."""

    since: datetime
    until: datetime

    def holds(self, moment: datetime) -> bool:
        return self.since <= moment < self.until


def record_time(record: Record, info: StreamInfo, mapping: CompiledMapping) -> datetime | None:
    """When a native record last changed: the stream's last-modified field, else the value
    the mapping reads as its cursor (Repzo invoices are paged by ``_id`` but still carry
    ``updatedAt``). None when the record names no instant."""
    if info.updated_field:
        moment = parse_instant(record.get(info.updated_field))
        if moment is not None:
            return moment
    if mapping.cursor is None:
        return None
    value = mapping.cursor.get(record)
    return None if value is MISSING else parse_instant(value)


def window_request(info: StreamInfo, window: Window) -> ReadRequest:
    """The read that covers the window, bounded server-side as far as the stream allows; the
    window itself is applied to what comes back (:meth:`Window.holds`), since servers differ on
    whether a bound is inclusive."""
    if info.cursor == "updated_at":
        return ReadRequest(updated_from=window.since, updated_to=window.until)
    if info.cursor == "id":
        # Ids grow with creation time: a document last changed before ``until`` was created
        # before it. Nothing bounds it from below (an old document may have changed since).
        return ReadRequest(updated_to=window.until)
    return ReadRequest()


# -- which records are the flow's ----------------------------------------------------------------


# -- what is compared --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComparedFields:
    """The canonical fields both mappings of a flow read, of those a reconciliation checks."""

    header: tuple[str, ...]
    lines: tuple[str, ...] | None
    """Line fields compared, or None when one side carries no lines."""

    def as_dict(self) -> dict[str, Any]:
        return {"header": list(self.header), "lines": list(self.lines or ())}


def compared_fields(
    model: type[BaseModel], source: CompiledMapping, target: CompiledMapping
) -> ComparedFields:
    """Only what both sides read is compared: a field one side does not carry is not a
    difference, it is simply not known there."""
    both = source.read_fields & target.read_fields
    header = tuple(name for name in HEADER_FIELDS if name in model.model_fields and name in both)
    if LINES not in both or LINES not in model.model_fields:
        return ComparedFields(header, None)
    read_by_both = _line_fields(source) & _line_fields(target)
    return ComparedFields(header, tuple(name for name in LINE_FIELDS if name in read_by_both))


def _line_fields(mapping: CompiledMapping) -> set[str]:
    rule = _rule(mapping, LINES)
    if rule is None or rule.each is None:
        return set()
    return {sub.name for sub in rule.each if sub.reads}


def _rule(mapping: CompiledMapping, name: str) -> FieldRule | None:
    return next((rule for rule in mapping.rules if rule.name == name and rule.reads), None)


# -- comparing ---------------------------------------------------------------------------------


Value = Decimal | date | datetime | str | bool | int | None


def normal(value: Any) -> Value:
    """A canonical value as it is compared: amounts at :data:`UNIT`, the rest as it is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | float | int):
        return Decimal(str(value)).quantize(UNIT, rounding=ROUND_HALF_UP)
    if isinstance(value, date | datetime | str) or value is None:
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class Difference:
    number: str
    field: str
    """A canonical field (``total``), a line's (``lines[0].unit_price``), ``lines`` for the
    number of lines, or ``present`` for a document one side does not have (True/False)."""
    source: Value
    target: Value


def compare(
    number: str,
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    fields: ComparedFields,
    show_ref: Callable[[str, str], str] | None = None,
    references: Mapping[str, str] | None = None,
) -> list[Difference]:
    """Where two canonical versions of one document differ.

    A field the source leaves empty is not compared: the target may fill in a default (an
    ERP's home currency) for what the source did not say. ``show_ref(entity, canonical id)``
    shows a reference field (``references``: field -> entity) as a person knows it, the
    customer's code rather than a canonical id. Lines compare in order; when their numbers
    differ only the count is reported, since every line after a missing one would differ too."""
    found = [
        _as_known(difference, show_ref, (references or {}).get(difference.field))
        for difference in _differ(number, "", source, target, fields.header)
    ]
    if fields.lines is None:
        return found
    ours, theirs = source.get(LINES) or [], target.get(LINES) or []
    if len(ours) != len(theirs):
        return [*found, Difference(number, LINES, len(ours), len(theirs))]
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        found.extend(_differ(number, f"{LINES}[{index}].", mine, other, fields.lines))
    return found


def _as_known(
    difference: Difference, show_ref: Callable[[str, str], str] | None, entity: str | None
) -> Difference:
    if show_ref is None or entity is None:
        return difference
    source, target = difference.source, difference.target
    return Difference(
        difference.number,
        difference.field,
        show_ref(entity, source) if isinstance(source, str) else source,
        show_ref(entity, target) if isinstance(target, str) else target,
    )


def _differ(
    number: str,
    prefix: str,
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    names: Iterable[str],
) -> list[Difference]:
    found = []
    for name in names:
        ours = normal(source.get(name))
        if ours is None:
            continue
        theirs = normal(target.get(name))
        if ours != theirs:
            found.append(Difference(number, prefix + name, ours, theirs))
    return found


def shown(value: Value) -> str | bool | int | None:
    """A compared value as JSON shows it: amounts as exact text (``"5.800"``), dates ISO."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


# -- the report --------------------------------------------------------------------------------


@dataclass(slots=True)
class DocumentResult:
    number: str
    status: Status
    source_id: str | None = None
    target_id: str | None = None
    differences: list[Difference] = field(default_factory=list)
    reason: str | None = None
    """Why it is not comparable."""
    side: Side | None = None
    """The side it could not be read or mapped on, when not comparable."""

    @property
    def native_of_side(self) -> str | None:
        """The native id on the side it could not be compared on."""
        return self.target_id if self.side == "target" else self.source_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "source_id": self.source_id,
            "target_id": self.target_id,
            "reason": self.reason,
            "side": self.side,
        }


@dataclass(slots=True)
class Report:
    flow: str
    source: str
    target: str
    window: Window
    fields: ComparedFields
    documents: list[DocumentResult] = field(default_factory=list)
    undated: int = 0
    """Source records that name no time, so belong to no window: not checked."""

    def count(self, status: Status) -> int:
        return sum(1 for document in self.documents if document.status == status)

    @property
    def checked(self) -> int:
        return len(self.documents)

    @property
    def clean(self) -> bool:
        """Every document checked is on both sides and the same."""
        return all(document.status == "equal" for document in self.documents)

    @property
    def differences(self) -> list[Difference]:
        return [found for document in self.documents for found in document.differences]

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "source": self.source,
            "target": self.target,
            "since": self.window.since.isoformat(),
            "until": self.window.until.isoformat(),
            "checked": self.checked,
            "equal": self.count("equal"),
            "different": self.count("different"),
            "missing_in_target": self.count("missing_in_target"),
            "missing_in_source": self.count("missing_in_source"),
            "not_comparable": self.count("not_comparable"),
            "undated": self.undated,
            "fields": self.fields.as_dict(),
            "differences": [
                {
                    "number": found.number,
                    "field": found.field,
                    "source": shown(found.source),
                    "target": shown(found.target),
                }
                for found in self.differences
            ],
            "documents": [document.as_dict() for document in self.documents],
        }


# -- the entry point ---------------------------------------------------------------------------


async def reconcile(
    context: EngineContext,
    flow: FlowConfig,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Reconcile ``flow`` over ``[since, until)``. ``until`` defaults to the source's own
    clock less the flow's safety margin (a document being saved this second is left to the
    next reconciliation, as to the next scan), ``since`` to :data:`DEFAULT_DAYS` before it."""
    document_flow(context, flow)  # refused before anything is contacted
    with run_scope():
        if until is None:
            now = await context.connector(flow.source.connector).server_time()
            until = now - flow.cursor.safety_margin
        if since is None:
            since = until - timedelta(days=DEFAULT_DAYS)
        if since >= until:
            raise EmptyWindow(
                f"the window is empty: since {since.isoformat()} is not before until "
                f"{until.isoformat()}"
            )
        return await Reconciler(context, flow, Window(since, until)).run()


# -- reading -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Side:
    """One system of the flow, with what reading and mapping its records takes."""

    name: str
    stream: str
    connector: Connector
    info: StreamInfo
    mapping: CompiledMapping
    refs: Resolver
    context: MappingContext

    @property
    def label(self) -> str:
        return f"{self.name}.{self.stream}"


@dataclass(slots=True)
class _Read:
    """A native record mapped to canonical form, or why it could not be."""

    native: Record
    native_id: str
    canonical: CanonicalRecord | None
    problem: str | None = None

    @property
    def values(self) -> dict[str, Any]:
        return self.canonical.values if self.canonical is not None else {}


def document_flow(context: EngineContext, flow: FlowConfig) -> str:
    """The flow's entity, refused unless it is a document."""
    entity = context.binding(flow.name).source.entity
    if entity not in DOCUMENT_ENTITIES:
        raise NotADocumentFlow(
            [
                ConfigIssue(
                    context.config.source or "configuration",
                    None,
                    "flows",
                    f"flow {flow.name!r} carries {entity} records; reconcile compares documents "
                    f"({', '.join(DOCUMENT_ENTITIES)})",
                )
            ]
        )
    return entity


class Reconciler:
    """Reconciles one document flow over one window. Create a fresh one per reconciliation."""

    def __init__(self, context: EngineContext, flow: FlowConfig, window: Window) -> None:
        self.context = context
        self.flow = flow
        self.window = window
        self.entity = document_flow(context, flow)
        self.model = ENTITIES[self.entity]
        binding = context.binding(flow.name)
        self.source = self._side(flow.source, binding.source)
        self.target = self._side(flow.target, binding.target)
        self.fields = compared_fields(self.model, binding.source, binding.target)
        self.filters = source_filters(flow, binding.source)
        self.report = Report(flow.name, self.source.label, self.target.label, window, self.fields)
        self._seen_sources: set[str] = set()
        """Source documents of the window, by native id."""
        self._matched_targets: set[str] = set()
        """Target documents already compared with a source document, by native id."""

    def _side(self, ref: StreamRef, mapping: CompiledMapping) -> _Side:
        # Built as a flow run builds its sides (FlowRun.__init__): the same connectors, stream
        # descriptions, id-map resolvers and template variables.
        context = self.context
        refs = Resolver(context.store.session, ref.connector, context.entity_streams(ref.connector))
        return _Side(
            ref.connector,
            ref.stream,
            context.connector(ref.connector),
            context.stream_info(ref.connector, ref.stream),
            mapping,
            refs,
            MappingContext(context.variables(ref.connector), refs),
        )

    async def run(self) -> Report:
        """Read both sides and compare; call it inside a :func:`run_scope` (as
        :func:`reconcile` does) so retries share one budget per system, as in a flow run."""
        async for records in self._window_pages(self.source):
            await self._source_page(records)
        async for records in self._window_pages(self.target):
            await self._target_page(records)
        return self.report

    async def _window_pages(self, side: _Side) -> AsyncIterator[list[Record]]:
        """The side's records of the window, page by page, each record once."""
        pages = side.connector.read(side.stream, window_request(side.info, self.window))
        try:
            async for page in pages:
                kept: list[Record] = []
                for record in page.records:
                    moment = record_time(record, side.info, side.mapping)
                    if moment is None:
                        if side is self.source:
                            self.report.undated += 1
                    elif self.window.holds(moment):
                        kept.append(record)
                yield last_of_each(kept, side.mapping)
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()

    # -- the source's documents ----------------------------------------------------------------

    async def _source_page(self, records: list[Record]) -> None:
        records, refused = self._filtered(records)
        reads = [*self._map(self.source, records), *refused]
        self._seen_sources.update(read.native_id for read in reads)
        found = await self._counterparts(reads)
        matches = [record for records in found.values() for record in records]
        by_target = {read.native_id: read for read in self._map(self.target, matches)}
        for read in reads:
            candidates = [
                by_target[native]
                for record in found.get(read.native_id, [])
                if (native := _native_id(self.target.mapping, record)) in by_target
            ]
            self.report.documents.append(self._judge(read, candidates))

    def _filtered(self, records: list[Record]) -> tuple[list[Record], list[_Read]]:
        """The records the flow carries, and those its filters fail on (a sync dead-letters
        them: they cannot be compared). The others are not this flow's documents at all."""
        kept: list[Record] = []
        refused: list[_Read] = []
        for record in records:
            wanted, problem = takes(self.filters, record)
            if problem is not None:
                native = _native_id(self.source.mapping, record) or "?"
                refused.append(_Read(record, native, None, problem))
            elif wanted:
                kept.append(record)
        return kept, refused

    async def _counterparts(self, reads: list[_Read]) -> dict[str, list[Record]]:
        """Source native id -> its target records, found as a sync finds them: through the id
        map, else (not linked, or linked to a record the target no longer has) by the
        target's identity key, the document number."""
        with self.context.store.session() as session:
            source_rows = idmap.by_native(
                session,
                self.entity,
                self.source.name,
                self.source.stream,
                [read.native_id for read in reads],
            )
            canonical = {native: row.canonical_id for native, row in source_rows.items()}
            target_rows = idmap.by_canonical(
                session, self.entity, self.target.name, self.target.stream, canonical.values()
            )
        linked = {
            native: target_rows[canonical_id].native_id
            for native, canonical_id in canonical.items()
            if canonical_id in target_rows
        }
        fetched = await self._fetch(self.target, list(linked.values()))
        found = {
            native: [fetched[target_id]]
            for native, target_id in linked.items()
            if target_id in fetched
        }
        unlinked = [
            read for read in reads if read.canonical is not None and read.native_id not in found
        ]
        found.update(await self._by_identity(unlinked, canonical))
        return found

    async def _by_identity(
        self, reads: list[_Read], canonical: Mapping[str, str]
    ) -> dict[str, list[Record]]:
        """Source native id -> the target records its identity key finds (as a sync looks a
        document up before creating it)."""
        wanted: dict[str, dict[str, list[str]]] = {}
        for read in reads:
            key = self.target.mapping.lookup(
                read.values, self.target.context, canonical.get(read.native_id)
            )
            if key is not None:
                path, value = key
                wanted.setdefault(path, {}).setdefault(value, []).append(read.native_id)
        found: dict[str, list[Record]] = {}
        for path, by_value in wanted.items():
            records = await self.target.connector.lookup(self.target.stream, path, list(by_value))
            for record in records:
                value = dig(record, path)
                for native in by_value.get(str(value), []):
                    found.setdefault(native, []).append(record)
        return found

    def _judge(self, read: _Read, counterparts: list[_Read]) -> DocumentResult:
        number = self._number(self.source, read)
        result = DocumentResult(number, "equal", source_id=read.native_id)
        if read.canonical is None:
            return _not_comparable(result, "source", read.problem)
        if not counterparts:
            result.status = "missing_in_target"
            result.differences = [Difference(number, "present", True, False)]
            return result
        self._matched_targets.update(other.native_id for other in counterparts)
        if len(counterparts) > 1:
            ids = ", ".join(other.native_id for other in counterparts)
            return _not_comparable(
                result,
                "target",
                f"{len(counterparts)} documents ({ids}) carry this one's key; syncer cannot "
                "tell which one to compare",
            )
        [other] = counterparts
        result.target_id = other.native_id
        if other.canonical is None:
            return _not_comparable(result, "target", other.problem)
        result.differences = compare(
            number,
            read.values,
            other.values,
            self.fields,
            self._show_ref,
            self.model.references,
        )
        if result.differences:
            result.status = "different"
        return result

    # -- the target's documents ----------------------------------------------------------------

    async def _target_page(self, records: list[Record]) -> None:
        """Target documents of the window that the id map links to this flow's source but
        whose source document cannot be read any more: missing in the source. Those whose
        source document is only outside the window are left to that window."""
        natives = {
            native: record
            for record in records
            if (native := _native_id(self.target.mapping, record)) is not None
            and native not in self._matched_targets
        }
        if not natives:
            return
        with self.context.store.session() as session:
            target_rows = idmap.by_native(
                session, self.entity, self.target.name, self.target.stream, natives
            )
            source_rows = idmap.by_canonical(
                session,
                self.entity,
                self.source.name,
                self.source.stream,
                [row.canonical_id for row in target_rows.values()],
            )
        sources = {
            native: source_rows[row.canonical_id].native_id
            for native, row in target_rows.items()
            if row.canonical_id in source_rows
            and source_rows[row.canonical_id].native_id not in self._seen_sources
        }
        if not sources:
            return
        still_there = await self._fetch(self.source, list(sources.values()))
        gone = [natives[native] for native, source in sources.items() if source not in still_there]
        for read in self._map(self.target, gone):
            number = self._number(self.target, read)
            self.report.documents.append(
                DocumentResult(
                    number,
                    "missing_in_source",
                    source_id=sources[read.native_id],
                    target_id=read.native_id,
                    differences=[Difference(number, "present", False, True)],
                )
            )

    # -- shared --------------------------------------------------------------------------------

    def _map(self, side: _Side, records: Sequence[Record]) -> list[_Read]:
        """Native -> canonical as a sync maps (references through the id map, one query per
        page); a record that cannot be mapped says why instead."""
        side.refs.prefetch_native(
            pair for record in records for pair in side.mapping.references(record)
        )
        reads = []
        for record in records:
            native_id = _native_id(side.mapping, record)
            if native_id is None:
                problem = f"the record has no {side.mapping.key.text}"
                reads.append(_Read(record, f"(no {side.mapping.key.text})", None, problem))
                continue
            try:
                reads.append(_Read(record, native_id, side.mapping.read(record, side.context)))
            except RecordError as error:
                reads.append(_Read(record, native_id, None, _reason(error)))
        return reads

    async def _fetch(self, side: _Side, natives: list[str]) -> dict[str, Record]:
        """Records of a side by native id: one filtered listing where the system can filter
        by its key, else one read each."""
        if not natives:
            return {}
        key = side.mapping.key.text
        if key in side.info.lookup_fields:
            records = await side.connector.lookup(side.stream, key, natives)
        else:
            records = [
                record
                for native in natives
                if (record := await side.connector.get(side.stream, native)) is not None
            ]
        return {
            native: record
            for record in records
            if (native := _native_id(side.mapping, record)) is not None
        }

    def _number(self, side: _Side, read: _Read) -> str:
        """The document's number as people know it; for one that could not be mapped, what
        its number field holds, else its native id."""
        name = self.model.natural_key
        if name is None:
            return read.native_id
        value = read.values.get(name)
        if value in (None, "") and (rule := _rule(side.mapping, name)) is not None:
            try:
                value = rule.read(read.native, side.context)
            except (RecordError, ValueError, TypeError, ArithmeticError):
                value = None
        return str(value) if value not in (None, "", MISSING) else read.native_id

    def _show_ref(self, entity: str, canonical_id: str) -> str:
        """A reference as the target knows it (the ERP's customer code), else as the source
        does, else the canonical id."""
        for side in (self.target, self.source):
            native = side.refs.to_native(entity, canonical_id)
            if native:
                return native
        return canonical_id


def _not_comparable(result: DocumentResult, side: Side, reason: str | None) -> DocumentResult:
    result.status, result.side, result.reason = "not_comparable", side, reason
    return result


def last_of_each(records: Sequence[Record], mapping: CompiledMapping) -> list[Record]:
    """One record per native id, the last one read (as a sync keeps it)."""
    kept: dict[str, Record] = {}
    unnamed: list[Record] = []
    for record in records:
        native = _native_id(mapping, record)
        if native is None:
            unnamed.append(record)
        else:
            kept.pop(native, None)
            kept[native] = record
    return [*kept.values(), *unnamed]


def _native_id(mapping: CompiledMapping, record: Record) -> str | None:
    try:
        return mapping.native_id(record)
    except MappingError:
        return None


def _reason(error: RecordError) -> str:
    return f"{error.field}: {error.reason}" if error.field else error.reason
