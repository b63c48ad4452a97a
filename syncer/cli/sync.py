"""``syncer sync``: run flows once, now."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.table import Table

from syncer.cli.common import ConfigOption, consoles, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE, SyncerConfig
from syncer.engine.engine import Engine
from syncer.engine.tally import RunResult
from syncer.errors import ConfigError, ConfigIssue
from syncer.exit_codes import ExitCode
from syncer.state import StateStore, open_store, review_queries


@handles_errors
def sync(
    flows: Annotated[
        list[str] | None, typer.Argument(metavar="[FLOW]...", help="Flows to run.")
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    run_all: Annotated[
        bool, typer.Option("--all", help="Every enabled flow, dependencies first.")
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Read each source whole, whatever its cursor says (nothing unchanged is "
            "written again); the cursor then moves on as usual.",
        ),
    ] = False,
    allow_mass_delete: Annotated[
        bool,
        typer.Option(
            "--allow-mass-delete",
            help="Let mirror mode disable more than its mirror.max_delete, or everything when "
            "the source is empty, in this run.",
        ),
    ] = False,
) -> None:
    """Run flows once, now, and show what moved. Exit code 1 when records became dead letters,
    3 when a system could not be reached or a source looks broken. Ctrl-C or SIGTERM finishes
    the page in hand and stops."""
    config = load(config_path)
    if run_all:
        names = [flow.name for flow in config.flows if flow.enabled]
    elif flows:
        names = list(flows)
    else:
        raise ConfigError([ConfigIssue(config_path, None, "", "name a flow to run, or use --all")])
    store = open_store(config.state.url)
    try:
        results = asyncio.run(
            _run(config, store, names, full=full, allow_mass_delete=allow_mass_delete)
        )
        letters = new_dead_letters(store, results)
    finally:
        store.close()
    show(results)
    show_dead_letters(letters)
    raise typer.Exit(int(exit_code(results)))


async def _run(
    config: SyncerConfig,
    store: StateStore,
    names: list[str],
    *,
    full: bool = False,
    allow_mass_delete: bool = False,
) -> list[RunResult]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            # A second request: the person will not wait for the page in hand. Every commit
            # is atomic, so the state store holds the last checkpoint as it is.
            consoles.err().print("stopping at once, as asked again", markup=False)
            os._exit(128 + signum)
        consoles.err().print(
            "stopping: finishing the page in hand (send the signal again to exit at once)",
            markup=False,
        )
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    async with Engine(config, store) as engine:
        return await engine.sync(names, stop, full=full, allow_mass_delete=allow_mass_delete)


def exit_code(results: list[RunResult]) -> ExitCode:
    failed = [r for r in results if r.status == "failed"]
    if failed:
        return ExitCode(max(r.error_exit or int(ExitCode.UNREACHABLE) for r in failed))
    if any(r.counts.failed for r in results):
        return ExitCode.DEAD_LETTERS
    return ExitCode.OK


def show(results: list[RunResult]) -> None:
    out = consoles.out()
    table = Table(title="Sync", title_justify="left")
    columns = (
        "flow",
        "status",
        "read",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "failed",
        "deleted",
        "conflicts",
        "time",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("flow", "status") else "right")
    for result in results:
        c = result.counts
        seconds = (
            (result.finished_at - result.started_at).total_seconds()
            if result.finished_at and result.started_at
            else 0.0
        )
        table.add_row(
            result.label,
            result.status,
            *(
                str(v)
                for v in (
                    c.read,
                    c.created,
                    c.updated,
                    c.unchanged,
                    c.skipped,
                    c.failed,
                    c.deleted,
                    c.conflicts,
                )
            ),
            f"{seconds:.1f}s",
        )
    out.print(table)
    for result in results:
        if result.error:
            # A busy flow is not an error: another process is doing the work right now.
            kind = "note" if result.status == "busy" else "error"
            consoles.err().print(
                f"{kind}: {result.flow}: {result.error}", markup=False, soft_wrap=True
            )
    for result in results:
        if result.counts.rounded:
            plural = "s were" if result.counts.rounded != 1 else " was"
            out.print(
                f"note: {result.label}: {result.counts.rounded} value{plural} rounded to what "
                f"the target keeps ({'; '.join(result.rounding)}); `exact: true` on a mapping "
                "field refuses such records instead",
                markup=False,
                soft_wrap=True,
            )
    if any(r.counts.failed for r in results):
        out.print("Some records became dead letters: `syncer dead-letters list` shows why.")


SHOWN_PER_FLOW = 5


@dataclass(frozen=True, slots=True)
class NewDeadLetters:
    flow: str
    total: int
    first: list[tuple[str, str | None, str]]
    """(record key, field, reason) of the first few."""


def new_dead_letters(store: StateStore, results: list[RunResult]) -> list[NewDeadLetters]:
    """The dead letters each run left, so the summary can say which records and why without
    a second command."""
    found: list[NewDeadLetters] = []
    with store.session() as session:
        for result in results:
            if not result.counts.failed:
                continue
            total, rows = review_queries.run_dead_letters(session, result.run_id, SHOWN_PER_FLOW)
            first = [(row.record_key, row.field, row.reason) for row in rows]
            if first:
                found.append(NewDeadLetters(result.flow, total, first))
    return found


def show_dead_letters(letters: list[NewDeadLetters]) -> None:
    err = consoles.err()
    for group in letters:
        plural = "s" if group.total != 1 else ""
        err.print(
            f"{group.flow}: {group.total} record{plural} became "
            + ("dead letters:" if plural else "a dead letter:"),
            markup=False,
            soft_wrap=True,
        )
        for key, field, reason in group.first:
            where = f" ({field})" if field else ""
            err.print(f"  {key}{where}: {reason}", markup=False, soft_wrap=True)
        if group.total > len(group.first):
            err.print(
                f"  ... and {group.total - len(group.first)} more: "
                f"`syncer dead-letters list --flow {group.flow}`",
                markup=False,
                soft_wrap=True,
            )
