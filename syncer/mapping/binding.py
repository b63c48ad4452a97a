"""Which mapping each side of each flow uses, checked when the configuration loads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncer import plugins
from syncer.config.models import ConnectorSettings, StreamRef, SyncerConfig
from syncer.errors import ConfigError, ConfigIssue
from syncer.mapping.catalog import MappingCatalog
from syncer.mapping.mapping import CompiledMapping, MappingContext, RefResolver
from syncer.yamlsource import YamlDocument, format_path


@dataclass(frozen=True, slots=True)
class FlowMappings:
    source: CompiledMapping
    target: CompiledMapping

    @property
    def fields(self) -> frozenset[str]:
        """Canonical fields the flow carries: read by the source and written by the target.
        Change detection and echo suppression hash exactly these."""
        return self.source.read_fields & self.target.write_fields


def template_variables(settings: ConnectorSettings) -> dict[str, Any]:
    """Connector settings a mapping template may use (``{namespace}``): plain text and numbers
    only, so a secret (a SecretStr) can never end up in a record."""
    values = {name: getattr(settings, name) for name in type(settings).model_fields}
    return {
        name: value
        for name, value in values.items()
        if isinstance(value, str | int) and not isinstance(value, bool)
    }


def context_for(settings: ConnectorSettings, refs: RefResolver | None = None) -> MappingContext:
    variables = template_variables(settings)
    return MappingContext(variables=variables) if refs is None else MappingContext(variables, refs)


def catalog_for(config: SyncerConfig) -> MappingCatalog:
    return MappingCatalog([config.resolve(path) for path in config.mappings])


def bind_flows(
    config: SyncerConfig, doc: YamlDocument | None = None, catalog: MappingCatalog | None = None
) -> dict[str, FlowMappings]:
    """Load and check the mappings of every flow. Problems are added to ``doc`` when given
    (so they are reported with the rest of the configuration), else raised."""
    catalog = catalog or catalog_for(config)
    issues: list[ConfigIssue] = []
    bound: dict[str, FlowMappings] = {}

    def issue(path: tuple[str | int, ...], message: str) -> None:
        if doc is not None:
            issues.append(doc.issue(path, message))
        else:
            issues.append(
                ConfigIssue(config.source or "configuration", None, format_path(path), message)
            )

    for index, flow in enumerate(config.flows):
        sides: dict[str, CompiledMapping] = {}
        for side in ("source", "target"):
            ref: StreamRef = getattr(flow, side)
            where = ("flows", index, side)
            mapping = _side(config, catalog, ref, where, issue, issues)
            if mapping is not None:
                sides[side] = mapping
        if len(sides) != 2:
            continue
        source, target = sides["source"], sides["target"]
        if source.entity != target.entity:
            issue(
                ("flows", index, "target"),
                f"the source maps {source.entity} records but the target maps {target.entity}; "
                "a flow carries one entity",
            )
            continue
        if source.missing_required:
            issue(
                ("flows", index, "source"),
                f"{source.source} cannot be read from: it does not read the required "
                f"{source.entity} field(s) {', '.join(sorted(source.missing_required))}",
            )
            continue
        bound[flow.name] = FlowMappings(source, target)
    issues = list(dict.fromkeys(issues))  # two flows sharing a broken file report it once
    if issues and doc is not None:
        doc.issues.extend(issues)
    elif issues:
        raise ConfigError(issues)
    return bound


def _side(
    config: SyncerConfig,
    catalog: MappingCatalog,
    ref: StreamRef,
    where: tuple[str | int, ...],
    issue: Any,
    issues: list[ConfigIssue],
) -> CompiledMapping | None:
    settings = config.connectors.get(ref.connector)
    if settings is None:
        return None  # reported by the configuration checks already
    kind = settings.type
    path = config.resolve(ref.mapping) if ref.mapping else catalog.find(kind, ref.stream)
    if path is None:
        looked = ", ".join(str(d / kind) for d in catalog.directories)
        issue(
            where,
            f"no mapping for {kind} stream {ref.stream!r}: write {kind}/{ref.stream}.yaml in a "
            f"mappings directory, or set mapping: to a file (looked in {looked})",
        )
        return None
    if not path.is_file():
        issue((*where, "mapping"), f"mapping file {path} not found")
        return None
    connector_type = plugins.connector_types()[kind]
    loaded = catalog.load(path, set(connector_type.settings_model.model_fields))
    issues.extend(loaded.issues)
    mapping = loaded.mapping
    if mapping is None:
        return None
    if (mapping.connector, mapping.stream) != (kind, ref.stream):
        issue(
            where,
            f"{path} maps {mapping.connector} stream {mapping.stream!r}, not {kind} stream "
            f"{ref.stream!r}",
        )
        return None
    return mapping
