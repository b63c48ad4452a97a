"""The window a reconciliation checks: ``[since, until)`` of the documents' last-modified (or
cursor) time, by default the last :data:`DEFAULT_DAYS` days up to the source's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syncer.config.models import FlowConfig
from syncer.engine.context import EngineContext
from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode

DEFAULT_DAYS = 30
"""The window when none is given: the last 30 days."""


class EmptyWindow(SyncerError):
    """``--since`` is not before ``--until``: no document can be in the window."""

    exit_code = ExitCode.BAD_CONFIG


@dataclass(frozen=True, slots=True)
class Window:
    """``[since, until)`` of the documents' last-modified (or cursor) time."""

    since: datetime
    until: datetime

    def holds(self, moment: datetime) -> bool:
        return self.since <= moment < self.until


async def window_of(
    context: EngineContext,
    flow: FlowConfig,
    since: datetime | None,
    until: datetime | None,
) -> Window:
    """``[since, until)`` as given, ``until`` defaulting to the source's own clock less the
    flow's safety margin (a document being saved this second is left to the next
    reconciliation, as to the next scan), ``since`` to :data:`DEFAULT_DAYS` before it. Asks
    the source for its clock, so call it inside the reconciliation's :func:`run_scope`."""
    if until is None:
        now = await context.connector(flow.source.connector).server_time()
        until = now - flow.cursor.safety_margin
    if since is None:
        since = until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise EmptyWindow(
            f"the window is empty: since {since.isoformat()} is not before until "
            f"{until.isoformat()}"
        )
    return Window(since, until)
