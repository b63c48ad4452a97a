"""``syncer repzo``: questions for the Repzo API itself."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from connectors.repzo.connector import RepzoConnector
from connectors.repzo.probe import PER_PAGE_CAP, ProbeReport
from connectors.repzo.probe import probe as probe_api
from syncer.cli.common import ConfigOption, consoles, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE
from syncer.config.models import SyncerConfig
from syncer.errors import ConfigError, ConfigIssue
from syncer.exit_codes import ExitCode
from syncer.logs import redact
from syncer.plugins import create_connector
from syncer.state import open_store
from syncer.state.findings import endpoint_of, save_findings
from syncer.validation import unknown_name

app = typer.Typer(help="Questions for the Repzo API itself.", no_args_is_help=True)


@app.command("probe")
@handles_errors
def probe(
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    connector: Annotated[
        str | None,
        typer.Option(
            "--connector",
            help="The Repzo connector to probe; needed when the configuration has several.",
            show_default=False,
        ),
    ] = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Also probe writes: create one client named 'syncer probe <time>', set an "
            "integration_meta key on it, and disable it again.",
        ),
    ] = False,
) -> None:
    """Ask a Repzo API what no document settles (the page size it serves, whether updatedAt
    bounds are inclusive, what it does with a parameter it does not know...), show the findings
    with their evidence, and store them for the connector to use.

    Read-only unless --write. Exit codes: 0 ok, 2 bad configuration or usage, 3 Repzo could not
    be reached or refused the API key (or the probe client could not be disabled).
    """
    config = load(config_path)
    name = _repzo_connector(config, connector, config_path)
    settings = config.connectors[name]
    endpoint = endpoint_of(settings)
    out = consoles.out()
    # The store is opened first: a store that cannot take the findings should fail the command
    # before anything is asked of Repzo, let alone written to it.
    store = open_store(config.state.url)
    try:
        mode = "reads and one throwaway client" if write else "read-only"
        out.print(f"Probing Repzo connector {name} at {endpoint} ({mode}).", markup=False)
        report = asyncio.run(_probe(config, name, write=write))
        save_findings(store, name, endpoint, report.findings)
        shown_store = store.display_url
    finally:
        store.close()
    out.print(_table(report))
    out.print(
        f"Stored {len(report.findings)} findings for connector {name} in {shown_store}.",
        markup=False,
        soft_wrap=True,
    )
    cap = report.finding(PER_PAGE_CAP).value
    page_size = getattr(settings, "page_size", None)
    if isinstance(cap, int) and isinstance(page_size, int) and cap < page_size:
        out.print(
            f"List requests of {name} ask for at most {cap} records a page from now on "
            f"(page_size: {page_size}).",
            markup=False,
            soft_wrap=True,
        )
    elif isinstance(cap, int):
        out.print(
            f"Repzo serves {cap} records a page; page_size ({page_size}) is within it.",
            markup=False,
            soft_wrap=True,
        )
    else:
        out.print(
            f"No page-size cap is stored: list requests of {name} ask for page_size "
            f"({page_size}) records.",
            markup=False,
            soft_wrap=True,
        )
    if report.record is None:
        out.print(
            "Read-only: nothing was created or changed in Repzo. --write also probes "
            "update-integration-meta on one throwaway client, left disabled.",
            markup=False,
            soft_wrap=True,
        )
        return
    out.print(redact(report.record.describe()), markup=False, soft_wrap=True)
    if report.record.problem is not None and not report.record.disabled:
        consoles.err().print(
            f"error: {redact(report.record.describe())}", markup=False, soft_wrap=True
        )
        raise typer.Exit(int(ExitCode.UNREACHABLE))


async def _probe(config: SyncerConfig, name: str, *, write: bool) -> ProbeReport:
    # Built as the engine builds it, so the requests carry the connector's own retries,
    # error table and timeouts.
    instance: object = create_connector(name, config)
    if not isinstance(instance, RepzoConnector):  # pragma: no cover - the type is checked first
        raise TypeError(f"connector {name} is not a RepzoConnector")
    try:
        return await probe_api(instance.client, write=write)
    finally:
        await instance.aclose()


def _repzo_connector(config: SyncerConfig, given: str | None, config_path: str) -> str:
    repzo = [name for name, settings in config.connectors.items() if settings.type == "repzo"]
    if given is not None:
        if given not in config.connectors:
            raise typer.BadParameter(
                unknown_name("connector", given, config.connectors), param_hint="--connector"
            )
        kind = config.connectors[given].type
        if kind != "repzo":
            others = f"; the Repzo connectors are: {', '.join(repzo)}" if repzo else ""
            raise typer.BadParameter(
                f"connector {given!r} is of type {kind}, not repzo{others}",
                param_hint="--connector",
            )
        return given
    if not repzo:
        raise ConfigError(
            [ConfigIssue(config_path, None, "connectors", "no connector has type: repzo")]
        )
    if len(repzo) > 1:
        raise typer.BadParameter(
            f"the configuration has {len(repzo)} Repzo connectors ({', '.join(repzo)}); name one",
            param_hint="--connector",
        )
    return repzo[0]


def _table(report: ProbeReport) -> Table:
    table = Table(title="Repzo findings", title_justify="left")
    table.add_column("fact", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("evidence")
    for finding in report.findings:
        # Text cells: evidence quotes query strings and bodies, whose brackets are not markup.
        table.add_row(Text(finding.fact), Text(finding.shown()), Text(redact(finding.evidence)))
    return table
