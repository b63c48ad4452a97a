"""Everything a run needs, built once per engine: connectors, mappings, resolvers, flow order."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from syncer import plugins
from syncer.config.models import ConflictSettings, FlowConfig, SyncerConfig
from syncer.connector import Connector, Describable, StreamInfo, UsesFindings, find_stream
from syncer.engine import writeback
from syncer.engine.writeback import WriteBack
from syncer.errors import ConfigError, ConfigIssue
from syncer.mapping.binding import FlowMappings, bind_flows, catalog_for, template_variables
from syncer.mapping.catalog import MappingCatalog
from syncer.mapping.mapping import CompiledMapping

if TYPE_CHECKING:
    from syncer.state.store import StateStore

_ENTITY = re.compile(r"^entity:\s*['\"]?([A-Za-z_]+)", re.MULTILINE)
_STREAM = re.compile(r"^stream:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Pair:
    """The two flows of a two-way sync over one entity."""

    forward: str
    reverse: str
    conflict: ConflictSettings | None


class EngineContext:
    """Connectors and mappings of one configuration, shared by every run of an engine."""

    def __init__(self, config: SyncerConfig, store: StateStore) -> None:
        self.config = config
        self.store = store
        self.catalog: MappingCatalog = catalog_for(config)
        self.bindings: dict[str, FlowMappings] = bind_flows(config)
        self._connectors: dict[str, Connector] = {}

    def connector(self, name: str) -> Connector:
        if name not in self._connectors:
            instance = plugins.create_connector(name, self.config)
            if isinstance(instance, UsesFindings):
                from syncer.state.findings import findings_for  # the store: not for `check`

                # What `syncer repzo probe` learnt about this API (the page size it serves)
                # holds for every run, not only the one after the probe.
                instance.use_findings(findings_for(self.store, name, self.config.connectors[name]))
            self._connectors[name] = instance
        return self._connectors[name]

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
        self._connectors.clear()

    def stream_info(self, connector: str, stream: str) -> StreamInfo:
        return stream_info(self.connector(connector), stream)

    def variables(self, connector: str) -> dict[str, object]:
        return template_variables(self.config.connectors[connector])

    def entity_streams(self, connector: str) -> Mapping[str, str]:
        """Entity -> the stream of this connector that holds it, from its mapping files (the
        first one wins when several map one entity)."""
        return self._entity_streams.get(self.config.connectors[connector].type, {})

    @cached_property
    def _entity_streams(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for kind in {settings.type for settings in self.config.connectors.values()}:
            streams: dict[str, str] = {}
            for path in self.catalog.files(kind):
                text = path.read_text(encoding="utf-8", errors="replace")
                entity, stream = _ENTITY.search(text), _STREAM.search(text)
                if entity and stream:
                    streams.setdefault(entity.group(1), stream.group(1))
            found[kind] = streams
        # The streams flows actually use win over other files that map the same entity.
        for flow in self.config.flows:
            binding = self.bindings.get(flow.name)
            if binding is None:
                continue
            for side, mapping in (("source", binding.source), ("target", binding.target)):
                ref = getattr(flow, side)
                found[self.config.connectors[ref.connector].type][mapping.entity] = ref.stream
        return found

    def binding(self, flow: str) -> FlowMappings:
        return self.bindings[flow]

    def who_links(self, flow: FlowConfig, entity: str) -> str:
        """Which flows would give a record of ``entity`` its counterpart between this flow's
        two systems, for a record waiting on one: the flows that sync that entity between
        them, either way (one creates it, the other links what exists), or the one to add."""
        ends = {flow.source.connector, flow.target.connector}
        found = [
            other.name
            for other in self.config.flows
            if other.name in self.bindings
            and self.bindings[other.name].source.entity == entity
            and {other.source.connector, other.target.connector} == ends
        ]
        if found:
            names = ", ".join(repr(name) for name in found)
            return f"flow {names} syncs {entity} records between {' and '.join(sorted(ends))}"
        return (
            f"no flow syncs {entity} records between {' and '.join(sorted(ends))}, so it never "
            f"will be: add a flow from {flow.source.connector} to {flow.target.connector} for "
            f"them, or drop this dead letter"
        )

    def pair_of(self, flow: FlowConfig) -> Pair | None:
        """The reverse flow over the same entity, if this flow is half of a two-way pair."""
        return pair_of(self.config, flow)

    def write_back(self, flow: FlowConfig) -> WriteBack:
        """Whether this flow writes the target's keys back to its source, and why."""
        return write_back_rule(self.config, flow, self.bindings[flow.name], self.connector)

    def order(self, names: list[str]) -> list[str]:
        """Flows ordered so that the entities a flow refers to are synced before it (taxes and
        categories before products, price lists before customers, customers before invoices)."""
        chosen = [self.config.flow(name) for name in names]
        refs: dict[str, set[str]] = {}
        for flow in chosen:
            binding = self.bindings[flow.name]
            refs[flow.name] = _references(binding.source) | _references(binding.target)
        before: dict[str, set[str]] = {flow.name: set() for flow in chosen}
        for flow in chosen:
            for other in chosen:
                if other.name == flow.name:
                    continue
                other_entity = self.bindings[other.name].source.entity
                if (
                    other_entity in refs[flow.name]
                    and other_entity != self.bindings[flow.name].source.entity
                ):
                    before[flow.name].add(other.name)
        ordered: list[str] = []
        remaining = dict(before)
        while remaining:
            ready = [
                name for name in names if name in remaining and not (remaining[name] - set(ordered))
            ]
            if not ready:  # a cycle: keep the configuration's order for what is left
                ready = [name for name in names if name in remaining]
            for name in ready:
                ordered.append(name)
                remaining.pop(name)
        return ordered


def stream_info(instance: Connector, stream: str) -> StreamInfo:
    streams = instance.streams()
    if stream in streams:
        return streams[stream]
    if isinstance(instance, Describable):  # streams are open-ended (CSV)
        return instance.info(stream)
    return find_stream(streams, stream, instance.name)


def pair_of(config: SyncerConfig, flow: FlowConfig) -> Pair | None:
    """The reverse flow over the same streams, if ``flow`` is half of a two-way pair."""
    for other in config.flows:
        if (
            other.name != flow.name
            and other.source.connector == flow.target.connector
            and other.target.connector == flow.source.connector
            and other.source.stream == flow.target.stream
            and other.target.stream == flow.source.stream
        ):
            return Pair(flow.name, other.name, flow.conflict or other.conflict)
    return None


def write_back_rule(
    config: SyncerConfig,
    flow: FlowConfig,
    binding: FlowMappings,
    connector: Callable[[str], Connector],
) -> WriteBack:
    """The flow's write-back rule (:mod:`syncer.engine.writeback`); ``connector`` gives the
    connector of a name (built without contacting anything)."""
    pair = pair_of(config, flow)
    try:
        target_info: StreamInfo | None = stream_info(
            connector(flow.target.connector), flow.target.stream
        )
    except KeyError:
        target_info = None  # a stream the target does not list yet (a file to be written)
    return writeback.decide(
        flow,
        source=connector(flow.source.connector),
        source_mapping=binding.source,
        target_info=target_info,
        pair=pair.reverse if pair else None,
    )


def _references(mapping: CompiledMapping) -> set[str]:
    found = {rule.ref for rule in mapping.rules if rule.ref}
    for rule in mapping.rules:
        found.update(sub.ref for sub in rule.each or () if sub.ref)
    return {ref for ref in found if ref}


def require_flow(config: SyncerConfig, name: str, source: str) -> FlowConfig:
    names = [flow.name for flow in config.flows]
    if name not in names:
        from syncer.validation import unknown_name

        raise ConfigError([ConfigIssue(source, None, "flows", unknown_name("flow", name, names))])
    return config.flow(name)
