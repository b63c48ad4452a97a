"""Which flows a reconciliation takes: those that carry documents, which end up in the books."""

from __future__ import annotations

from syncer.canonical.entities import DOCUMENTS
from syncer.config.models import FlowConfig
from syncer.engine.context import EngineContext
from syncer.errors import ConfigError, ConfigIssue

DOCUMENT_ENTITIES = tuple(sorted(DOCUMENTS))
"""The canonical entities a reconciliation compares: documents, which end up in the books."""


class NotADocumentFlow(ConfigError):
    """The flow carries something other than documents: there is nothing to reconcile."""


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
