"""How ``syncer`` finds its commands: the core's own, imported only when used, and those that
installed packages add through the ``syncer.commands`` entry points (the sandboxes' ``demo`` and
``sandbox``, the Repzo connector's ``repzo``)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import get_args

import typer

import syncer.cli
from syncer import logs
from syncer.cli import COMMANDS_GROUP, app

plugin_group = typer.Typer(help="A group added by a plugin.", no_args_is_help=True)


@plugin_group.command("hello")
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


def plugin_command(times: int = 1) -> None:
    """A single command added by a plugin."""
    typer.echo("ran " * times)


def _with_plugins(monkeypatch, **values: str) -> None:
    targets = dict(syncer.cli.command_targets())
    targets.update(
        {
            name: EntryPoint(name=name, value=value, group=COMMANDS_GROUP)
            for name, value in values.items()
        }
    )
    monkeypatch.setattr(syncer.cli, "command_targets", lambda: targets)


def test_the_shipped_commands_are_entry_points():
    shipped = {ep.name: ep.value for ep in entry_points(group=COMMANDS_GROUP)}
    assert shipped == {
        "demo": "sandboxes.cli.demo:demo",
        "sandbox": "sandboxes.cli.sandbox:app",
        "repzo": "connectors.repzo.cli:app",
    }


def test_help_lists_core_and_plugged_in_commands_in_the_documented_order(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    rows = [result.output.index(f"│ {name} ") for name in syncer.cli.HELP_ORDER]
    assert rows == sorted(rows)


def test_a_plugin_group_and_a_plugin_command(runner, monkeypatch):
    _with_plugins(
        monkeypatch,
        greet="tests.test_cli_commands:plugin_group",
        once="tests.test_cli_commands:plugin_command",
    )
    assert runner.invoke(app, ["greet", "hello", "--name", "you"]).stdout == "hello you\n"
    assert runner.invoke(app, ["once", "--times", "2"]).stdout == "ran ran \n"
    listing = runner.invoke(app, ["--help"]).output
    assert "A group added by a plugin." in listing and "A single command added by" in listing
    # Plugged-in commands come after the documented ones.
    assert listing.index("repzo ") < listing.index("greet ") < listing.index("once ")


def test_a_plugin_that_cannot_be_loaded_leaves_the_others_working(runner, monkeypatch):
    _with_plugins(monkeypatch, broken="no_such_package.cli:app")
    listing = runner.invoke(app, ["--help"])
    assert listing.exit_code == 0
    assert "Unavailable: no_such_package.cli:app could not be loaded" in listing.output
    result = runner.invoke(app, ["broken"])
    assert result.exit_code == 2
    assert "ModuleNotFoundError" in result.stderr
    assert runner.invoke(app, ["--version"]).exit_code == 0


def test_a_plugin_cannot_replace_a_core_command(monkeypatch):
    fake = [EntryPoint(name="check", value="tests.test_cli_commands:plugin_command", group="x")]
    monkeypatch.setattr(syncer.cli, "entry_points", lambda group: fake)
    syncer.cli.command_targets.cache_clear()
    try:
        assert syncer.cli.command_targets()["check"].value == "syncer.cli.check:check"
    finally:
        syncer.cli.command_targets.cache_clear()


def test_the_log_formats_offered_are_the_ones_logging_knows():
    assert get_args(syncer.cli.LogFormat) == get_args(logs.LogFormat)


HEAVY = ("sqlalchemy", "alembic", "httpx", "structlog", "rich", "pydantic", "ruamel")
"""What ``syncer --version`` must not import; the packages of the connectors and the
sandboxes, and every command module, neither."""


def test_version_imports_no_command_and_nothing_heavy():
    probe = (
        "import sys\n"
        "from syncer.cli import main\n"
        "sys.argv = ['syncer', '--version']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        f"    {(*HEAVY, 'connectors', 'sandboxes')!r} or m.startswith('syncer.cli.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]", result.stdout
