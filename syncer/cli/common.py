"""What every command shares: the --config option, loading, output consoles, error handling."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from typer.exceptions import TyperException

from syncer.config import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    SyncerConfig,
    load_config,
    secret_values,
)
from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode
from syncer.logs import LogFormat, configure_logging, redact


class _Consoles:
    """Rich consoles made on first use, so they see the stdout/stderr of the moment (tests swap
    them). Off a terminal, lines are wide: tables piped to a file should not wrap names."""

    def out(self) -> Console:
        return Console(highlight=False, width=None if sys.stdout.isatty() else 200)

    def err(self) -> Console:
        return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


consoles = _Consoles()

ConfigOption = Annotated[
    str,
    typer.Option(
        "--config",
        "-c",
        envvar=CONFIG_ENV_VAR,
        help=f"Configuration file (default {DEFAULT_CONFIG_FILE}; ${CONFIG_ENV_VAR} also works).",
        show_default=False,
    ),
]


class LogOverrides:
    """``--log-level`` / ``--log-format`` given on the command line win over the config file."""

    level: str | None = None
    format: LogFormat | None = None


def load(config_path: str) -> SyncerConfig:
    """Load and validate the configuration, then configure logging from it."""
    config = load_config(config_path)
    configure_logging(
        level=LogOverrides.level or config.logging.level,
        fmt=LogOverrides.format or config.logging.format,
        secrets=secret_values(config),
    )
    return config


P = ParamSpec("P")
R = TypeVar("R")


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn syncer's deliberate errors into a clear message and the documented exit code.

    A user mistake never shows a traceback; anything unexpected is a bug and says so.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, TyperException):  # usage errors: typer reports them
            raise
        except SyncerError as exc:
            consoles.err().print(f"error: {redact(exc.message)}", markup=False, soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except Exception:  # noqa: BLE001 - the last line of defence, reported as a bug
            err = consoles.err()
            err.print(redact(traceback.format_exc()), markup=False, soft_wrap=True)
            err.print(
                "error: this is a bug in syncer, not a problem with your setup; please report it "
                "with the traceback above.",
                markup=False,
            )
            raise typer.Exit(int(ExitCode.INTERNAL)) from None

    return wrapper
