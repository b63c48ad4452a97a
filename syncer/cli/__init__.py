"""The ``syncer`` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from syncer import __version__
from syncer.cli import check, cursors, db, demo, mapping, repzo, review, sandbox, status, sync
from syncer.cli import reconcile as reconciling
from syncer.cli.common import LogOverrides
from syncer.logs import LogFormat, configure_logging

app = typer.Typer(
    name="syncer",
    help="Keep Repzo and the systems beside it (ERPs, accounting, CSV drops) in sync, both ways.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("check")(check.check)
app.command("status")(status.status)
app.command("sync")(sync.sync)
app.command("reconcile")(reconciling.reconcile)
app.command("demo")(demo.demo)
app.add_typer(cursors.app, name="cursor")
app.add_typer(db.app, name="db")
app.add_typer(mapping.app, name="mapping")
app.add_typer(review.dead_letters, name="dead-letters")
app.add_typer(review.conflicts, name="conflicts")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(repzo.app, name="repzo")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"syncer {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR (overrides the config)."),
    ] = None,
    log_format: Annotated[
        LogFormat | None,
        typer.Option("--log-format", help="auto, json or console (overrides the config)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Exit codes: 0 ok, 1 finished with dead letters, 2 bad config or usage, 3 a system
    could not be reached, 70 a bug in syncer."""
    if log_level is not None and log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter("expected DEBUG, INFO, WARNING or ERROR", param_hint="--log-level")
    LogOverrides.level = log_level.upper() if log_level else None
    LogOverrides.format = log_format
    configure_logging(level=LogOverrides.level or "INFO", fmt=log_format or "auto")


def main() -> None:
    app()


__all__ = ["app", "main"]
