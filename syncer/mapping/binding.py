"""Which mapping each side of each flow uses, checked when the configuration loads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncer import plugins
from syncer.config.models import ConnectorSettings, FlowConfig, StreamRef, SyncerConfig
from syncer.connector import KeyWriteBack, NamesStreams
from syncer.errors import ConfigError, ConfigIssue
from syncer.mapping.catalog import MappingCatalog
from syncer.mapping.mapping import CompiledMapping, MappingContext, RefResolver
from syncer.validation import unknown_name
from syncer.yamlsource import YamlDocument, format_path


@dataclass(frozen=True, slots=True)
class FlowMappings:
    source: CompiledMapping
    target: CompiledMapping

    @property
    def fields(self) -> frozenset[str]:
        """Canonical fields the flow carries: read by the source and written by the target
        (or checked by one of its ``refuse`` rules, so a record that comes to need refusing is
        refused then). Change detection and echo suppression hash exactly these."""
        refused = {refusal.field for refusal in self.target.refusals}
        return self.source.read_fields & (self.target.write_fields | refused)


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
    (so they are reported with the rest of the configuration), else raised. A configuration
    the loader checked has them compiled already, and they are not compiled again."""
    remembered = config._bindings
    if doc is None and remembered is not None and remembered[0] == _compiled_for(config):
        found: dict[str, FlowMappings] = remembered[1]
        return found
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
        if flow.write_back:
            _check_write_back(config, index, flow.source.connector, source, issue)
        bound[flow.name] = FlowMappings(source, target)
    issues = list(dict.fromkeys(issues))  # two flows sharing a broken file report it once
    if issues and doc is not None:
        doc.issues.extend(issues)
    elif issues:
        raise ConfigError(issues)
    return bound


def remember_bindings(config: SyncerConfig, bindings: dict[str, FlowMappings]) -> None:
    """Keep ``bindings`` with ``config`` for :func:`bind_flows` (the loader's, once checked)."""
    config._bindings = (_compiled_for(config), bindings)


def _compiled_for(config: SyncerConfig) -> tuple[int, ...]:
    # The same flows and connectors objects: a copy of the configuration with other flows or
    # connectors (a test, the demo) compiles its own.
    return id(config.connectors), id(config.flows), *(id(flow) for flow in config.flows)


def settle_streams(
    config: SyncerConfig, bindings: Mapping[str, FlowMappings], doc: YamlDocument | None = None
) -> SyncerConfig:
    """Give each connector whose streams are laid out by its settings (a CSV file's key
    column) what its mappings say, where the settings leave it open. Where both say something
    different, that is a problem naming both places: one source of truth per stream."""
    connectors = dict(config.connectors)
    issues: list[ConfigIssue] = []
    for flow in config.flows:
        binding = bindings.get(flow.name)
        if binding is None:
            continue
        for ref, mapping in ((flow.source, binding.source), (flow.target, binding.target)):
            settings = connectors[ref.connector]
            adopt = getattr(settings, "adopt_mapping", None)
            if adopt is None:
                continue
            cursor = mapping.cursor.text if mapping.cursor is not None else None
            settings, conflicts = adopt(ref.stream, key=mapping.key.text, cursor=cursor)
            connectors[ref.connector] = settings
            for conflict in conflicts:
                where = ("connectors", ref.connector, "streams", ref.stream, conflict.setting)
                mapping_line = _line_of_key(mapping.source, conflict.mapping_key)
                message = (
                    f"is {conflict.value!r}, but the mapping {mapping.source}"
                    f"{f':{mapping_line}' if mapping_line else ''} says {conflict.mapping_key}: "
                    f"{conflict.mapping_value!r}; remove one of them (the mapping's is used when "
                    "the connector does not set its own) or make them agree"
                )
                issues.append(
                    doc.issue(where, message)
                    if doc is not None
                    else ConfigIssue(
                        config.source or "configuration", None, format_path(where), message
                    )
                )
    if issues and doc is not None:
        doc.issues.extend(dict.fromkeys(issues))
    elif issues:
        raise ConfigError(list(dict.fromkeys(issues)))
    return config.model_copy(update={"connectors": connectors})


def check_template_settings(
    config: SyncerConfig, bindings: Mapping[str, FlowMappings], doc: YamlDocument
) -> None:
    """A template a flow writes (``integration_meta.id: "{namespace}_{code}"``) that needs a
    connector setting left unset would write records without the key that finds them again
    after a lost state store: that is a load-time error naming the setting."""
    reported: set[tuple[str, str]] = set()
    for index, flow in enumerate(config.flows):
        binding = bindings.get(flow.name)
        if binding is None:
            continue
        sides = [(flow.target.connector, binding.target)]
        if flow.write_back or _pair_exists(config, flow):
            sides.append((flow.source.connector, binding.source))
        for connector, mapping in sides:
            settings = config.connectors[connector]
            unset = {
                name
                for name in type(settings).model_fields
                if getattr(settings, name) in (None, "")
            }
            for template in mapping.templates():
                for name in sorted(template.names & unset):
                    if (connector, name) in reported:
                        continue
                    reported.add((connector, name))
                    doc.issues.append(
                        doc.issue(
                            ("connectors", connector, name),
                            f"required by flow {flow.name!r} (flows[{index}]): {mapping.source} "
                            f"writes {template.text!r}, which needs {name}; without it records "
                            "are written with no key to find them by",
                        )
                    )


def _pair_exists(config: SyncerConfig, flow: FlowConfig) -> bool:
    return any(
        other.name != flow.name
        and (other.source.connector, other.source.stream)
        == (flow.target.connector, flow.target.stream)
        and (other.target.connector, other.target.stream)
        == (flow.source.connector, flow.source.stream)
        for other in config.flows
    )


def _line_of_key(path: str, key: str) -> int | None:
    """Line of a top-level key in a mapping file, to point at it in a message."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, start=1):
        if line.startswith(f"{key}:"):
            return number
    return None


def _check_write_back(
    config: SyncerConfig, index: int, connector: str, source: CompiledMapping, issue: Any
) -> None:
    """``write_back: true`` needs a source that can store keys and a mapping that names one."""
    kind = config.connectors[connector].type
    if not issubclass(plugins.connector_types()[kind], KeyWriteBack):
        issue(
            ("flows", index, "write_back"),
            f"write_back is true, but {connector} ({kind}) cannot store another system's key "
            "on a record; remove it",
        )
    elif not source.identity:
        issue(
            ("flows", index, "write_back"),
            f"write_back is true, but {source.source} names no identity key to write back; add "
            "identity: to the mapping, or remove write_back",
        )


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
    connector_type = plugins.connector_types()[kind]
    unknown = _unknown_stream(connector_type, ref)
    if unknown is not None:
        issue((*where, "stream"), unknown)
        return None
    path = _named(config, catalog, ref.mapping) if ref.mapping else catalog.find(kind, ref.stream)
    if path is None:
        looked = ", ".join(str(d / kind) for d in catalog.directories)
        close = " or ".join(
            f"{name!r} ({kind}/{name}.yaml)" for name in catalog.close_streams(kind, ref.stream)
        )
        issue(
            where,
            f"no mapping for {kind} stream {ref.stream!r}: write {kind}/{ref.stream}.yaml in a "
            f"mappings directory, or set mapping: to a file (looked in {looked})"
            + (f"; did you mean {close}?" if close else ""),
        )
        return None
    if not path.is_file():
        issue(
            (*where, "mapping"),
            f"mapping file {path} not found (a relative name is looked up next to the "
            "configuration, then in the `mappings:` directories and the shipped ones)",
        )
        return None
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


def _named(config: SyncerConfig, catalog: MappingCatalog, name: Path) -> Path:
    """The file a flow's ``mapping:`` names: a path next to the configuration, or else a file
    of the mappings directories (``repzo/fullinvoices.returns.yaml`` is shipped)."""
    beside = config.resolve(name)
    if beside.is_file() or name.is_absolute():
        return beside
    for directory in catalog.directories:
        if (directory / name).is_file():
            return directory / name
    return beside


def _unknown_stream(connector_type: object, ref: StreamRef) -> str | None:
    """Why ``ref.stream`` is not a stream of its connector, when the connector type can tell
    without connecting (Repzo's streams come from its registry) through ``stream_names()``.
    Others, such as CSV, where any file name is a stream, are never refused here."""
    if not isinstance(connector_type, type) or not issubclass(connector_type, NamesStreams):
        return None
    known = frozenset(connector_type.stream_names())
    if ref.stream in known:
        return None
    return unknown_name("stream", ref.stream, known, of=f"connector {ref.connector}")
