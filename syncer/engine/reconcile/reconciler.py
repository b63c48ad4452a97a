"""Reconciling one document flow over one window: reading both sides and judging each
document. The entry point is :func:`reconcile`."""

from __future__ import annotations

from datetime import datetime

from syncer.canonical import ENTITIES
from syncer.config.models import FlowConfig
from syncer.connector import Record
from syncer.engine.binding import bind_side
from syncer.engine.context import EngineContext
from syncer.engine.filters import source_filters, takes
from syncer.engine.reconcile.compare import Difference, compare
from syncer.engine.reconcile.documents import document_flow
from syncer.engine.reconcile.fields import compared_fields
from syncer.engine.reconcile.listing import window_pages
from syncer.engine.reconcile.matching import counterparts, gone_from_source
from syncer.engine.reconcile.report import DocumentResult, Report, not_comparable
from syncer.engine.reconcile.sides import Read, document_number, mapped
from syncer.engine.reconcile.window import Window, window_of
from syncer.remote.budget import run_scope


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
        window = await window_of(context, flow, since, until)
        return await Reconciler(context, flow, window).run()


class Reconciler:
    """Reconciles one document flow over one window. Create a fresh one per reconciliation."""

    def __init__(self, context: EngineContext, flow: FlowConfig, window: Window) -> None:
        self.context = context
        self.flow = flow
        self.window = window
        self.entity = document_flow(context, flow)
        self.model = ENTITIES[self.entity]
        binding = context.binding(flow.name)
        self.source = bind_side(context, flow.source, binding.source)
        self.target = bind_side(context, flow.target, binding.target)
        self.fields = compared_fields(self.model, binding.source, binding.target)
        self.filters = source_filters(flow, binding.source)
        self.report = Report(flow.name, self.source.label, self.target.label, window, self.fields)
        self._seen_sources: set[str] = set()
        """Source documents of the window, by native id."""
        self._matched_targets: set[str] = set()
        """Target documents already compared with a source document, by native id."""

    async def run(self) -> Report:
        """Read both sides and compare; call it inside a :func:`run_scope` (as
        :func:`reconcile` does) so retries share one budget per system, as in a flow run."""
        async for page in window_pages(self.source, self.window):
            self.report.undated += page.undated
            await self._source_page(page.records)
        async for page in window_pages(self.target, self.window):
            await self._target_page(page.records)
        return self.report

    # -- the source's documents ----------------------------------------------------------------

    async def _source_page(self, records: list[Record]) -> None:
        records, refused = self._filtered(records)
        reads = [*mapped(self.source, records), *refused]
        self._seen_sources.update(read.native_id for read in reads)
        found = await counterparts(self.context.store, self.entity, self.source, self.target, reads)
        matches = [record for records in found.values() for record in records]
        by_target = {read.native_id: read for read in mapped(self.target, matches)}
        for read in reads:
            candidates = [
                by_target[native]
                for record in found.get(read.native_id, [])
                if (native := self.target.mapping.native_id_or_none(record)) in by_target
            ]
            self.report.documents.append(self._judge(read, candidates))

    def _filtered(self, records: list[Record]) -> tuple[list[Record], list[Read]]:
        """The records the flow carries, and those its filters fail on (a sync dead-letters
        them: they cannot be compared). The others are not this flow's documents at all."""
        kept: list[Record] = []
        refused: list[Read] = []
        for record in records:
            wanted, problem = takes(self.filters, record)
            if problem is not None:
                native = self.source.mapping.native_id_or_none(record) or "?"
                refused.append(Read(record, native, None, problem))
            elif wanted:
                kept.append(record)
        return kept, refused

    def _judge(self, read: Read, counterparts: list[Read]) -> DocumentResult:
        number = document_number(self.source, self.model.natural_key, read)
        result = DocumentResult(number, "equal", source_id=read.native_id)
        if read.canonical is None:
            return not_comparable(result, "source", read.problem)
        if not counterparts:
            result.status = "missing_in_target"
            result.differences = [Difference(number, "present", True, False)]
            return result
        self._matched_targets.update(other.native_id for other in counterparts)
        if len(counterparts) > 1:
            ids = ", ".join(other.native_id for other in counterparts)
            return not_comparable(
                result,
                "target",
                f"{len(counterparts)} documents ({ids}) carry this one's key; syncer cannot "
                "tell which one to compare",
            )
        [other] = counterparts
        result.target_id = other.native_id
        if other.canonical is None:
            return not_comparable(result, "target", other.problem)
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
        gone, sources = await gone_from_source(
            self.context.store,
            self.entity,
            self.source,
            self.target,
            records,
            self._matched_targets,
            self._seen_sources,
        )
        for read in mapped(self.target, gone):
            number = document_number(self.target, self.model.natural_key, read)
            self.report.documents.append(
                DocumentResult(
                    number,
                    "missing_in_source",
                    source_id=sources[read.native_id],
                    target_id=read.native_id,
                    differences=[Difference(number, "present", False, True)],
                )
            )

    def _show_ref(self, entity: str, canonical_id: str) -> str:
        """A reference as the target knows it (the ERP's customer code), else as the source
        does, else the canonical id."""
        for side in (self.target, self.source):
            native = side.refs.to_native(entity, canonical_id)
            if native:
                return native
        return canonical_id
