"""The ``syncer`` command line.

Commands are imported when they run, or when a help page lists them, never when ``syncer``
starts: ``syncer --version`` imports none of them, and each command pays only for its own
imports (the state store, the HTTP client, the engine). Besides the core commands below, any
installed package may add commands through the ``syncer.commands`` entry-point group, in its
``pyproject.toml``::

    [project.entry-points."syncer.commands"]
    mycommand = "mypackage.cli:app"

The object named is either a ``typer.Typer``, which becomes a command group
(``syncer mycommand ...``), or a function, which becomes a command, exactly as if the core had
registered it with ``add_typer`` or ``command``. repzo-sync registers its own this way: the
sandboxes' ``syncer demo`` and ``syncer sandbox`` and the Repzo connector's ``syncer repzo``, so
the core never imports either package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Annotated, Any, Literal

import typer
from typer import _click as click  # Click, as typer vendors it since 0.29
from typer.core import TyperGroup

from syncer import __version__

COMMANDS_GROUP = "syncer.commands"
"""The entry-point group through which installed packages add commands."""

CORE_COMMANDS = {
    "check": "syncer.cli.check:check",
    "status": "syncer.cli.status:status",
    "sync": "syncer.cli.sync:sync",
    "reconcile": "syncer.cli.reconcile:reconcile",
    "cursor": "syncer.cli.cursors:app",
    "db": "syncer.cli.db:app",
    "mapping": "syncer.cli.mapping:app",
    "dead-letters": "syncer.cli.review:dead_letters",
    "conflicts": "syncer.cli.review:conflicts",
}
"""The commands of syncer itself, by name: ``module:attribute``, as entry points are written."""

HELP_ORDER = (
    "check",
    "status",
    "sync",
    "reconcile",
    "demo",
    "cursor",
    "db",
    "mapping",
    "dead-letters",
    "conflicts",
    "sandbox",
    "repzo",
)
"""The order ``syncer --help`` lists commands in when they are installed (only names: nothing is
imported for it); any other command follows, by name."""

LogFormat = Literal["auto", "json", "console"]
"""``syncer.logs.LogFormat``, spelled out here so that starting ``syncer`` does not import the
logging stack (structlog, rich); a test keeps the two equal."""


@cache
def command_targets() -> dict[str, EntryPoint]:
    """Every command ``syncer`` has, core first, then the installed ``syncer.commands`` entry
    points (a name the core already has is the core's). Nothing is imported."""
    targets = {
        name: EntryPoint(name=name, value=value, group=COMMANDS_GROUP)
        for name, value in CORE_COMMANDS.items()
    }
    for ep in entry_points(group=COMMANDS_GROUP):
        targets.setdefault(ep.name, ep)
    rank = {name: index for index, name in enumerate(HELP_ORDER)}
    return dict(sorted(targets.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def _click_command(name: str, target: object, group: TyperGroup) -> click.Command:
    """What ``app.add_typer(target, name=name)`` (a Typer) or ``app.command(name)(target)`` (a
    function) would have made of it, with the root's settings."""
    holder = typer.Typer(
        rich_markup_mode=group.rich_markup_mode,
        suggest_commands=group.suggest_commands,
        add_completion=False,
    )
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    elif callable(target):
        holder.command(name)(target)
    else:
        raise TypeError(f"expected a typer.Typer or a function, got {type(target).__name__}")
    return typer.main.get_group(holder).commands[name]


def _broken(name: str, ep: EntryPoint, exc: Exception, group: TyperGroup) -> click.Command:
    """Stands for a plugin's command that could not be loaded: the other commands still work,
    the help says what is wrong, and running it says so too (exit 2, as for a connector that
    cannot be loaded)."""
    reason = f"{ep.value} could not be loaded: {type(exc).__name__}: {exc}"

    def fail() -> None:
        typer.echo(f"error: command {name!r} ({reason})", err=True)
        raise typer.Exit(2)

    fail.__doc__ = f"Unavailable: {reason}"
    return _click_command(name, fail, group)


class _Commands(MutableMapping[str, click.Command]):
    """A group's commands by name, each imported and built the first time it is looked up."""

    def __init__(
        self,
        targets: Callable[[], dict[str, EntryPoint]],
        build: Callable[[str, EntryPoint], click.Command],
    ) -> None:
        self._targets = targets
        self._build = build
        self._added: dict[str, click.Command] = {}
        self._built: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name in self._added:
            return self._added[name]
        if name not in self._built:
            target = self._targets()[name]  # KeyError: no such command
            self._built[name] = self._build(name, target)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._added[name] = command

    def __delitem__(self, name: str) -> None:
        del self._added[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._targets()
        yield from (name for name in self._added if name not in self._targets())

    def __len__(self) -> int:
        return sum(1 for _ in self)


class SyncerGroup(TyperGroup):
    """The root group: its commands come from :func:`command_targets`, built on first use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        commands = _Commands(command_targets, self._load)
        commands.update(self.commands)  # any registered on the app itself, as usual
        self.commands = commands

    def _load(self, name: str, ep: EntryPoint) -> click.Command:
        if name in CORE_COMMANDS:
            return _click_command(name, ep.load(), self)  # a bug in syncer if it fails
        try:
            return _click_command(name, ep.load(), self)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take syncer down
            return _broken(name, ep, exc, self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # names only: listing imports nothing


app = typer.Typer(
    name="syncer",
    cls=SyncerGroup,
    help="Keep Repzo and the systems beside it (ERPs, accounting, CSV drops) in sync, both ways.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    # Imported here, when a command runs: `syncer --version` and `--help` do without them.
    from syncer.cli.common import LogOverrides
    from syncer.logs import configure_logging

    LogOverrides.level = log_level.upper() if log_level else None
    LogOverrides.format = log_format
    configure_logging(level=LogOverrides.level or "INFO", fmt=log_format or "auto")


def main() -> None:
    app()


__all__ = ["COMMANDS_GROUP", "app", "main"]
