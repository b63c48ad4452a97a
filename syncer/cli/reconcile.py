"""``syncer reconcile``: prove that the documents in the target are the ones the source holds."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from syncer.cli.common import ConfigOption, consoles, echo_json, handles_errors, load
from syncer.cli.cursors import parse_time
from syncer.config import DEFAULT_CONFIG_FILE, SyncerConfig
from syncer.config.models import FlowConfig
from syncer.engine.context import EngineContext, require_flow
from syncer.engine.reconcile import Difference, Report, Value, shown
from syncer.engine.reconcile import reconcile as run_reconcile
from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode
from syncer.state import StateStore, inspect_store, open_store

TABLE_WIDTH = 80
"""The table fits a classic terminal, and a report pasted into an e-mail."""

SHORT_VALUE = 12
"""Values up to this long (amounts, dates, codes) are never folded."""

SHOWN_VALUE = {"present": {True: "present", False: "missing"}}
"""How the table says a document is or is not on a side."""


class NothingSynced(SyncerError):
    """There is no state store: no id map to find counterparts and references through."""

    exit_code = ExitCode.BAD_CONFIG


@handles_errors
def reconcile(
    flow_name: Annotated[
        str, typer.Argument(metavar="FLOW", help="A document flow (invoices, payments...).")
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Documents last changed at or after this (a date, or ISO 8601 with an "
            "offset); default 30 days before --until.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Documents last changed before this; default the source's clock now, less "
            "the flow's safety margin.",
        ),
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Compare a document flow's documents in the source and the target, field by field, and
    list every difference. It only reads: nothing is written anywhere, and it runs beside a
    live sync. Exit code 0 when everything matches, 1 when anything differs or is missing, 3
    when a system cannot be reached."""
    config = load(config_path)
    flow = require_flow(config, flow_name, config_path)
    window = (_moment(since, "--since"), _moment(until, "--until"))
    if window[0] is not None and window[1] is not None and window[0] >= window[1]:
        raise typer.BadParameter("must be after --since", param_hint="--until")
    store = _open(config)
    try:
        report = asyncio.run(_reconcile(config, store, flow, *window))
    finally:
        store.close()
    if as_json:
        echo_json(report.as_dict())
    else:
        show(report)
    # 1 is the code of "finished, but something needs a person", as dead letters are for a sync.
    raise typer.Exit(int(ExitCode.OK if report.clean else ExitCode.DEAD_LETTERS))


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except typer.BadParameter as error:
        raise typer.BadParameter(error.message, param_hint=option) from None


def _open(config: SyncerConfig) -> StateStore:
    """The state store as it is: never created or upgraded here, since reconciling writes
    nothing."""
    info = inspect_store(config.state.url)
    if not info.exists:
        raise NothingSynced(
            f"the state store {info.display_url} does not exist: nothing has been synced yet, "
            "so there is no id map to find documents and their customers through; run "
            "`syncer sync` first"
        )
    return open_store(config.state.url, auto_upgrade=False)


async def _reconcile(
    config: SyncerConfig,
    store: StateStore,
    flow: FlowConfig,
    since: datetime | None,
    until: datetime | None,
) -> Report:
    context = EngineContext(config, store)
    try:
        return await run_reconcile(context, flow, since, until)
    finally:
        await context.aclose()


def show(report: Report) -> None:
    out = consoles.out()
    out.print(
        f"{report.flow}: {report.source} -> {report.target}, documents last changed from "
        f"{report.window.since.isoformat()} to {report.window.until.isoformat()}",
        markup=False,
        soft_wrap=True,
    )
    if report.differences:
        out.print(_table(report.differences, min(TABLE_WIDTH, out.width)))
    _show_not_comparable(report)
    if report.undated:
        out.print(
            f"{report.undated} source records name no time, so belong to no window: not checked.",
            markup=False,
            soft_wrap=True,
        )
    out.print(
        f"{report.checked} document{'' if report.checked == 1 else 's'} checked: "
        f"{report.count('equal')} equal, "
        f"{report.count('different')} different, {report.count('missing_in_target')} missing "
        f"in target, {report.count('missing_in_source')} missing in source, "
        f"{report.count('not_comparable')} not comparable.",
        markup=False,
    )


def _show_not_comparable(report: Report) -> None:
    """Why each document could not be compared: a sentence each, below the table, since a
    reason (the sums of a document that does not add up) would not fit a cell."""
    out = consoles.out()
    for document in report.documents:
        if document.status != "not_comparable":
            continue
        side = report.target if document.side == "target" else report.source
        native = document.native_of_side
        where = f"{side} {native}" if native else side
        out.print(
            f"{document.number}: not comparable ({where}): {document.reason}",
            markup=False,
            soft_wrap=True,
        )


def _table(rows: list[Difference], width: int) -> Table:
    """The differences, in ``width`` columns where they fit. A document number is what a
    person searches for and a field what they look at: neither is ever cut or folded, nor is
    a short value (an amount, a date, a code); a table that cannot fit grows instead."""
    cells = [
        (row.number, row.field, _cell(row, row.source), _cell(row, row.target)) for row in rows
    ]
    table = Table(width=width, title="Differences", title_justify="left")
    for index, name in enumerate(("document", "field", "source", "target")):
        longest = max(len(cell[index]) for cell in cells)
        if index < 2:
            table.add_column(name, no_wrap=True, min_width=longest)
        else:
            table.add_column(name, overflow="fold", min_width=min(longest, SHORT_VALUE))
    for cell in cells:
        table.add_row(*cell)
    return table


def _cell(row: Difference, value: Value) -> str:
    labels = SHOWN_VALUE.get(row.field)
    if labels is not None and isinstance(value, bool):
        return labels[value]
    text = shown(value)
    if text is None:
        return "-"
    if isinstance(text, bool):
        return "true" if text else "false"
    return str(text)
