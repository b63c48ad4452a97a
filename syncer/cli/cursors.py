"""``syncer cursor``: move a flow's cursor on purpose, to read a window again."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from syncer.cli.common import ConfigOption, consoles, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE
from syncer.engine import cursor, leases
from syncer.engine.context import require_flow, stream_info
from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode
from syncer.plugins import create_connector
from syncer.state import open_store

app = typer.Typer(
    help="Where flows read from: set it back to read a window again.", no_args_is_help=True
)


class CursorError(SyncerError):
    """The cursor cannot be set as asked."""

    exit_code = ExitCode.BAD_CONFIG


class FlowRunning(SyncerError):
    """The flow runs in another process; its cursor is left alone."""

    exit_code = ExitCode.UNREACHABLE


def parse_time(text: str) -> datetime:
    """``2026-11-30`` (midnight UTC) or an ISO 8601 time with an offset (``...T08:00+03:00``)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"expected a date such as 2026-11-30 or a time such as 2026-11-30T08:00:00+03:00, "
            f"got {text!r}",
            param_hint="--to",
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"the time {text!r} has no offset; add one, such as Z or +03:00", param_hint="--to"
        )
    return moment.astimezone(UTC)


@app.command("reset")
@handles_errors
def reset(
    flow_name: Annotated[str, typer.Argument(metavar="FLOW", help="The flow whose cursor moves.")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Read again from this time (a date, or ISO 8601 with an offset); without it, "
            "the next run reads the whole source.",
        ),
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
) -> None:
    """Set a flow's cursor back, so its next run reads that window again.

    Records that did not change cost nothing when read again: they are recognised and not
    written. The flow must not be running (its lease is taken for the change)."""
    config = load(config_path)
    flow = require_flow(config, flow_name, config_path)
    moment = parse_time(to) if to is not None else None
    if moment is not None:
        instance = create_connector(flow.source.connector, config)
        try:
            info = stream_info(instance, flow.source.stream)
        finally:
            asyncio.run(instance.aclose())
        if info.cursor != "updated_at":
            raise CursorError(
                f"{flow.source.connector}.{flow.source.stream} is not read by a last-modified "
                "time, so --to has nothing to set; run `syncer cursor reset "
                f"{flow.name}` without it to read the whole source again"
            )
    store = open_store(config.state.url)
    try:
        held = leases.acquire(
            store, leases.lease_name(flow), leases.new_holder(), leases.DEFAULT_TTL
        )
        try:
            with store.session() as session:
                leases.renew(session, held)
                cursor.move(session, flow.name, flow.source.connector, flow.source.stream, moment)
        finally:
            leases.release(store, held)
    except leases.LeaseBusy as busy:
        raise FlowRunning(
            f"{flow.name} is running now: {busy.message}; try again when it ends"
        ) from None
    finally:
        store.close()
    out = consoles.out()
    if moment is None:
        out.print(f"{flow.name}: the cursor is cleared; the next run reads the whole source.")
    else:
        out.print(f"{flow.name}: the next run reads what changed since {moment.isoformat()}.")
