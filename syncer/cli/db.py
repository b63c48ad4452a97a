"""``syncer db``: the state store's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from syncer.cli.common import ConfigOption, consoles, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE
from syncer.state import downgrade_store, inspect_store, upgrade_store

app = typer.Typer(
    help="Manage the state store's schema (Alembic migrations).", no_args_is_help=True
)


@app.command("upgrade")
@handles_errors
def upgrade(
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations the store is missing (creates an SQLite store if needed).

    On PostgreSQL, stop the daemons first: they refuse to run on a store that is behind.
    """
    out = consoles.out()
    config = load(config_path)
    before, after = upgrade_store(config.state.url, revision)
    shown = inspect_store(config.state.url).display_url
    if before == after:
        out.print(f"State store {shown} is already at revision {after}; nothing to do.")
    else:
        out.print(f"State store {shown} upgraded from {before or 'an empty database'} to {after}.")


@app.command("downgrade")
@handles_errors
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Revision to go back to; 'base' drops every table.")
    ],
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: a downgrade can delete state.")
    ] = False,
) -> None:
    """Revert migrations, to run an older syncer on this store. Data in dropped tables is lost."""
    out = consoles.out()
    config = load(config_path)
    if not yes:
        raise typer.BadParameter(
            "a downgrade may delete cursors, the id map and dead letters; add --yes to confirm",
            param_hint="--yes",
        )
    before, after = downgrade_store(config.state.url, revision)
    out.print(f"State store downgraded from {before} to {after or 'an empty database'}.")


@app.command("current")
@handles_errors
def current(config_path: ConfigOption = DEFAULT_CONFIG_FILE) -> None:
    """Show the store's schema revision and whether it needs an upgrade."""
    out = consoles.out()
    config = load(config_path)
    info = inspect_store(config.state.url)
    if info.schema is None:
        out.print(f"State store {info.display_url} does not exist yet.")
        return
    schema = info.schema
    if schema.up_to_date:
        state = "up to date"
    elif not schema.known:
        state = "written by a newer syncer: upgrade syncer"
    else:
        state = f"behind {schema.head}: run `syncer db upgrade`"
    out.print(f"State store {info.display_url}: revision {schema.current or 'none'} ({state}).")
