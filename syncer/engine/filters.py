"""Which source records a flow takes: its own ``filter`` and its source mapping's.

One source stream may feed several flows (a Repzo invoice's sale lines go to the ERP's
invoices, its return lines to its credit notes), so a sync and a reconciliation must agree on
which records are the flow's; both ask here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from syncer.config.models import FILTER_NAMES, FlowConfig
from syncer.mapping.expressions import Expression, ExpressionError
from syncer.mapping.mapping import CompiledMapping


@dataclass(frozen=True, slots=True)
class SourceFilter:
    where: str
    """How a dead letter names it: "the flow's filter", "the filter of <file>"."""
    only: Expression


def source_filters(flow: FlowConfig, mapping: CompiledMapping) -> tuple[SourceFilter, ...]:
    found = []
    if flow.filter:
        found.append(SourceFilter("the flow's filter", Expression(flow.filter, FILTER_NAMES)))
    if mapping.filter is not None:
        found.append(SourceFilter(f"the filter of {mapping.source}", mapping.filter))
    return tuple(found)


def takes(filters: Sequence[SourceFilter], record: dict[str, Any]) -> tuple[bool, str | None]:
    """(the record is the flow's, why a filter could not tell). A record a filter fails on
    (a field of the wrong type) is not taken, and the reason says which filter and why."""
    for source_filter in filters:
        try:
            if not source_filter.only({"record": record}):
                return False, None
        except ExpressionError as error:
            return False, f"{source_filter.where} {error.problem}"
    return True, None
