"""What every command shares: the --config option, loading, output consoles, error handling."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from typing import IO, Annotated, Any, ParamSpec, TypeVar, cast

import typer
from rich.console import Console, ConsoleRenderable, RenderableType, RenderHook
from rich.table import Table
from rich.text import Text
from typer.exceptions import TyperException

from syncer.config import CONFIG_ENV_VAR, DEFAULT_CONFIG_FILE, SyncerConfig, load_config
from syncer.errors import OutOfMemory, SyncerError
from syncer.exit_codes import ExitCode
from syncer.logs import LogFormat, configure_logging, redact, redact_value


class _RedactingStream:
    """A text stream that masks secrets in whatever is written to it: the last line of
    defence for output that bypasses :meth:`Console.print` (``yaml.dump(..., console.file)``)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _RedactRenderables(RenderHook):
    """Masks secrets before rendering, when the text is still whole: a table cell may fold a
    long secret over two lines, which no mask on the rendered output could find again."""

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [cast(ConsoleRenderable, _redacted(item)) for item in renderables]


def _redacted(item: RenderableType) -> RenderableType:
    if isinstance(item, str):
        return redact(item)
    if isinstance(item, Text):
        plain = redact(item.plain)
        if plain == item.plain:
            return item
        # The styled spans no longer line up with the masked text; the message matters more.
        return Text(plain, style=item.style, justify=item.justify, end=item.end)
    if isinstance(item, Table):
        if item.title is not None:
            item.title = _redacted(item.title)  # type: ignore[assignment]
        for column in item.columns:
            # Rich keeps a column's cells as given to add_row, rendered only when printed.
            column._cells = [_redacted(cell) for cell in column._cells]
        return item
    return item


def _console(stream: IO[str]) -> Console:
    console = Console(
        file=cast(IO[str], _RedactingStream(stream)),
        highlight=False,
        width=None if stream.isatty() else 200,
    )
    console.push_render_hook(_RedactRenderables())
    return console


class _Consoles:
    """Rich consoles made on first use, so they see the stdout/stderr of the moment (tests swap
    them). Off a terminal, lines are wide: tables piped to a file should not wrap names.

    Everything a command prints goes through these (or :func:`echo_json`), and they mask secrets:
    that is where the terminal gets its redaction, whichever message or table a command
    composes."""

    def out(self) -> Console:
        return _console(sys.stdout)

    def err(self) -> Console:
        return _console(sys.stderr)


consoles = _Consoles()


def echo_json(data: Any, default: Callable[[Any], Any] = str) -> None:
    """Print a JSON report to stdout, secrets masked as on the consoles. The data is masked
    before it is encoded: masking JSON text could cut an escape sequence in half."""
    typer.echo(json.dumps(redact_value(data), default=default, indent=2))


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
    """Load and validate the configuration, then configure logging from it. Loading registers
    the configuration's secrets with the redactor that logs and consoles share."""
    config = load_config(config_path)
    configure_logging(
        level=LogOverrides.level or config.logging.level,
        fmt=LogOverrides.format or config.logging.format,
    )
    return config


P = ParamSpec("P")
R = TypeVar("R")


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn syncer's deliberate errors into a clear message and the documented exit code.

    A user mistake never shows a traceback; anything unexpected is a bug and says so. Both go
    through the consoles, so a secret a remote system echoed into an error is masked.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, TyperException):  # usage errors: typer reports them
            raise
        except SyncerError as exc:
            consoles.err().print(f"error: {exc.message}", markup=False, soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except MemoryError:
            failure: SyncerError = OutOfMemory("running this command")
            consoles.err().print(f"error: {failure.message}", markup=False, soft_wrap=True)
            raise typer.Exit(int(failure.exit_code)) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            # Outside a run (a run reports its own): the store failed, or this is a bug.
            store = _store_failure(exc)
            if store is None:
                _report_bug()
            else:
                consoles.err().print(f"error: {store.message}", markup=False, soft_wrap=True)
            raise typer.Exit(int(store.exit_code if store else ExitCode.INTERNAL)) from None

    return wrapper


def _store_failure(error: Exception) -> SyncerError | None:
    """The state store's failure behind ``error``, if it is one. Only a command that opened the
    store can meet one, and it has loaded SQLAlchemy by then: the table is looked up here
    rather than imported by every command's start-up."""
    if "sqlalchemy" not in sys.modules:
        return None
    from syncer.state.failures import DriverError, store_failure

    return store_failure(error) if isinstance(error, DriverError) else None


def _report_bug() -> None:
    err = consoles.err()
    err.print(traceback.format_exc(), markup=False, soft_wrap=True)
    err.print(
        "error: this is a bug in syncer, not a problem with your setup; please report it "
        "with the traceback above.",
        markup=False,
    )
