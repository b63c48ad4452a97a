"""``syncer check``: validate the configuration and say what it would do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from ruamel.yaml import YAML

from syncer.cli.common import ConfigOption, consoles, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE, state_url
from syncer.config.dump import dump_config
from syncer.config.models import ConnectorSettings, SyncerConfig
from syncer.connector import CheckResult, ChecksMappings, Connector
from syncer.engine.context import write_back_rule
from syncer.exit_codes import ExitCode
from syncer.mapping.binding import FlowMappings, bind_flows
from syncer.plugins import can_connect, connector_types, create_connector
from syncer.schedules import describe, next_run

if TYPE_CHECKING:
    from syncer.state.migrate import SchemaState


@handles_errors
def check(
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    show_config: Annotated[
        bool,
        typer.Option("--show-config", help="Print the effective configuration (secrets masked)."),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Only validate; do not contact the connected systems."),
    ] = False,
) -> None:
    """Validate the configuration, show the connectors, flows and state store it describes,
    and check that each connected system answers and accepts its credentials.

    Nothing is created or changed. Exit code 2 when the configuration is invalid, 3 when a
    system or the state store cannot be reached or refuses the credentials.
    """
    out = consoles.out()
    config = load(config_path)
    out.print(f"Configuration {config_path} is valid.")
    if show_config:
        out.print()
        YAML(typ="safe", pure=True).dump(dump_config(config), out.file)
    out.print()
    results = {} if offline else asyncio.run(_check_connectors(config))
    out.print(_connectors_table(config, results))
    for name, settings in config.connectors.items():
        transport = getattr(settings, "transport_notes", None)
        for note in [*(transport() if callable(transport) else []), *settings.notes()]:
            out.print(f"note: connector {name}: {note}", markup=False, soft_wrap=True)
    out.print()
    out.print(_flows_table(config))
    # Bound once for both kinds of note: binding compiles every mapping the flows use.
    bindings = bind_flows(config)
    for line in asyncio.run(_flow_notes(config, bindings)):
        out.print(line, markup=False, soft_wrap=True)
    for line in _mapping_notes(config, bindings):
        out.print(f"note: {line}", markup=False, soft_wrap=True)
    out.print()
    url = state_url.parse(config.state.url)
    if url.sqlite_file is not None and not url.sqlite_file.exists():
        # Said without loading SQLAlchemy: nothing to open.
        shown = state_url.display(config.state.url)
        out.print(f"State store: {shown} (not created yet; the first run creates it)")
    else:
        from syncer.state import inspect_store

        info = inspect_store(config.state.url)
        out.print(f"State store: {info.display_url} ({_schema_text(info.schema)})")
    failed = {name: r.message for name, r in results.items() if r is not None and not r.ok}
    for name, message in failed.items():
        consoles.err().print(f"error: connector {name}: {message}", markup=False, soft_wrap=True)
    if failed:
        raise typer.Exit(int(ExitCode.UNREACHABLE))


async def _check_connectors(config: SyncerConfig) -> dict[str, CheckResult | None]:
    """Each connector's own check, concurrently; None where the type has none yet."""

    async def one(name: str) -> CheckResult | None:
        if not can_connect(name, config):
            return None
        connector = create_connector(name, config)
        try:
            return await connector.check()
        finally:
            await connector.aclose()

    names = list(config.connectors)
    return dict(zip(names, await asyncio.gather(*(one(name) for name in names)), strict=True))


def _connectors_table(config: SyncerConfig, results: dict[str, CheckResult | None]) -> Table:
    table = Table(title="Connectors", title_justify="left")
    for column in ("name", "type", "endpoint", "check"):
        table.add_column(column)
    for name, settings in config.connectors.items():
        result = results.get(name)
        if not results:
            verdict = "not checked (--offline)"
        elif result is None:
            verdict = "no connection check for this type yet"
        else:
            verdict = ("ok: " if result.ok else "FAILED: ") + result.message
        table.add_row(name, settings.type, _endpoint(settings), verdict)
    if not config.connectors:
        table.add_row("(none)", "", "", "")
    return table


def _endpoint(settings: ConnectorSettings) -> str:
    for attribute in ("base_url", "path"):
        value = getattr(settings, attribute, None)
        if value is not None:
            return str(value)
    return ""


def _flows_table(config: SyncerConfig) -> Table:
    table = Table(title="Flows", title_justify="left")
    for column in ("name", "source -> target", "mode", "schedule", "next run (UTC)", "enabled"):
        table.add_column(column)
    now = datetime.now(UTC)
    for flow in config.flows:
        upcoming = next_run(flow.schedule, now) if flow.enabled else None
        table.add_row(
            flow.name,
            f"{flow.source.connector}.{flow.source.stream} -> "
            f"{flow.target.connector}.{flow.target.stream}",
            flow.mode,
            describe(flow.schedule),
            upcoming.strftime("%Y-%m-%d %H:%M:%S") if upcoming else "-",
            "yes" if flow.enabled else "no",
        )
    if not config.flows:
        table.add_row("(none)", "", "", "", "", "")
    return table


async def _flow_notes(config: SyncerConfig, bindings: dict[str, FlowMappings]) -> list[str]:
    """Per flow, whether it writes keys back to its source and why, and which source records
    it takes when a filter says (nothing is contacted)."""
    built: dict[str, Connector] = {}

    def connector(name: str) -> Connector:
        if name not in built:
            built[name] = create_connector(name, config)
        return built[name]

    try:
        notes = []
        for flow in config.flows:
            if flow.name not in bindings:
                continue
            binding = bindings[flow.name]
            rule = write_back_rule(config, flow, binding, connector)
            notes.append(f"{flow.name}: {rule.describe(flow)}")
            only = binding.source.filter
            filters = [
                f"{text} ({where})"
                for text, where in (
                    (flow.filter, "its filter"),
                    (only.text if only else None, f"{Path(binding.source.source).name}'s filter"),
                )
                if text
            ]
            if filters:
                notes.append(
                    f"{flow.name}: takes only the {flow.source.connector}."
                    f"{flow.source.stream} records for which {' and '.join(filters)}"
                )
        return notes
    finally:
        for instance in built.values():
            await instance.aclose()


def _mapping_notes(config: SyncerConfig, bindings: dict[str, FlowMappings]) -> list[str]:
    """Per mapping a flow uses, the native paths its connector's published types lack (where
    the connector type can tell, as Repzo's can from its SDK)."""
    notes: list[str] = []
    seen: set[tuple[str, str]] = set()
    for flow in config.flows:
        binding = bindings.get(flow.name)
        if binding is None:
            continue
        for end, mapping in ((flow.source, binding.source), (flow.target, binding.target)):
            kind = connector_types().get(config.connectors[end.connector].type)
            if (
                kind is None
                or not issubclass(kind, ChecksMappings)
                or (mapping.source, end.stream) in seen
            ):
                continue
            seen.add((mapping.source, end.stream))
            notes += [
                f"mapping {mapping.source}: {text}"
                for text in kind.mapping_notes(end.stream, Path(mapping.source))
            ]
    return notes


def _schema_text(schema: SchemaState | None) -> str:
    if schema is None:
        return "unknown schema"
    if schema.up_to_date:
        return f"schema {schema.current}, up to date"
    if not schema.known:
        return f"schema {schema.current}, written by a newer syncer"
    return f"schema {schema.current or 'empty'}, needs {schema.head}: run `syncer db upgrade`"
