"""``syncer check``: validate the configuration and say what it would do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from ruamel.yaml import YAML

from syncer.cli.common import ConfigOption, consoles, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE
from syncer.config.dump import dump_config
from syncer.config.models import ConnectorSettings, SyncerConfig
from syncer.schedules import describe, next_run
from syncer.state import inspect_store
from syncer.state.migrate import SchemaState


@handles_errors
def check(
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    show_config: Annotated[
        bool,
        typer.Option("--show-config", help="Print the effective configuration (secrets masked)."),
    ] = False,
) -> None:
    """Validate the configuration and show the connectors, flows and state store it describes.

    Nothing is created or changed. Exit code 2 when the configuration is invalid, 3 when the
    state store cannot be reached.
    """
    out = consoles.out()
    config = load(config_path)
    out.print(f"Configuration {config_path} is valid.")
    if show_config:
        out.print()
        YAML(typ="safe", pure=True).dump(dump_config(config), out.file)
    out.print()
    out.print(_connectors_table(config))
    out.print()
    out.print(_flows_table(config))
    out.print()
    info = inspect_store(config.state.url)
    if not info.exists:
        out.print(f"State store: {info.display_url} (not created yet; the first run creates it)")
    else:
        out.print(f"State store: {info.display_url} ({_schema_text(info.schema)})")


def _connectors_table(config: SyncerConfig) -> Table:
    table = Table(title="Connectors", title_justify="left")
    for column in ("name", "type", "endpoint"):
        table.add_column(column)
    for name, settings in config.connectors.items():
        table.add_row(name, settings.type, _endpoint(settings))
    if not config.connectors:
        table.add_row("(none)", "", "")
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


def _schema_text(schema: SchemaState | None) -> str:
    if schema is None:
        return "unknown schema"
    if schema.up_to_date:
        return f"schema {schema.current}, up to date"
    if not schema.known:
        return f"schema {schema.current}, written by a newer syncer"
    return f"schema {schema.current or 'empty'}, needs {schema.head}: run `syncer db upgrade`"
