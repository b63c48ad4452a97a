"""A flow bound to what it runs on: its connectors, streams, compiled mappings, id-map
resolvers and mapping contexts. Every entry point that moves a flow's records (a sync, a dead
letter retry, a conflict resolved by hand, a mapping test) builds it here, the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from syncer.canonical import ENTITIES
from syncer.canonical.base import CanonicalModel
from syncer.config.models import FlowConfig, StreamRef
from syncer.connector import Connector, StreamInfo
from syncer.engine.context import EngineContext, Pair
from syncer.engine.filters import SourceFilter, source_filters
from syncer.engine.resolver import Resolver
from syncer.engine.writeback import WriteBack
from syncer.mapping.mapping import CompiledMapping, MappingContext, Rounded
from syncer.state.store import StateStore


@dataclass(frozen=True, slots=True)
class Side:
    """One end of a flow."""

    ref: StreamRef
    connector: Connector
    info: StreamInfo
    mapping: CompiledMapping
    refs: Resolver
    """Foreign keys of this system's records to canonical ids and back, through the id map."""
    context: MappingContext

    @property
    def name(self) -> str:
        """The connector's name in the configuration."""
        return self.ref.connector

    @property
    def stream(self) -> str:
        return self.ref.stream

    @property
    def label(self) -> str:
        return f"{self.ref.connector}.{self.ref.stream}"


def bind_side(
    context: EngineContext,
    ref: StreamRef,
    mapping: CompiledMapping,
    rounded: Callable[[Rounded], None] | None = None,
) -> Side:
    """One end of a flow: the connector, its stream, and the mapping context with resolvers
    over the id map."""
    refs = Resolver(context.store.session, ref.connector, context.entity_streams(ref.connector))
    return Side(
        ref,
        context.connector(ref.connector),
        context.stream_info(ref.connector, ref.stream),
        mapping,
        refs,
        MappingContext(context.variables(ref.connector), refs, rounded),
    )


@dataclass(frozen=True, slots=True)
class FlowBinding:
    flow: FlowConfig
    context: EngineContext
    source: Side
    target: Side
    fields: frozenset[str]
    """Canonical fields the flow carries (change detection and echoes hash exactly these)."""
    entity: str
    model: type[CanonicalModel]
    filters: tuple[SourceFilter, ...]
    pair: Pair | None
    """The reverse flow, when this one is half of a two-way pair."""
    write_back: WriteBack

    @classmethod
    def build(
        cls,
        context: EngineContext,
        flow: FlowConfig,
        *,
        rounded: Callable[[Rounded], None] | None = None,
    ) -> FlowBinding:
        """``rounded`` is told of every value a write to the target rounds."""
        mappings = context.binding(flow.name)
        return cls(
            flow=flow,
            context=context,
            source=bind_side(context, flow.source, mappings.source),
            target=bind_side(context, flow.target, mappings.target, rounded),
            fields=mappings.fields,
            entity=mappings.source.entity,
            model=ENTITIES[mappings.source.entity],
            filters=source_filters(flow, mappings.source),
            pair=context.pair_of(flow),
            write_back=context.write_back(flow),
        )

    @property
    def store(self) -> StateStore:
        return self.context.store

    def forget_misses(self) -> None:
        """Look references that were missing up again (before retrying dead letters)."""
        self.source.refs.forget_misses()
        self.target.refs.forget_misses()
