"""What ``syncer status`` reports: per flow, its cursor, its last run and its dead letters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from syncer.config.models import SyncerConfig
from syncer.schedules import describe
from syncer.state import status_queries as stored
from syncer.state.models import Cursor, Run
from syncer.state.status_queries import OutboxStatus
from syncer.state.store import StateStore


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    read: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    failed: int
    deleted: int
    error: str | None
    kind: str = "sync"
    """``sync``, or ``retry`` for a run of ``syncer dead-letters retry``."""


@dataclass(frozen=True, slots=True)
class FlowStatus:
    name: str
    in_config: bool
    """False for a flow the store remembers but the configuration no longer has."""
    source: str = ""
    target: str = ""
    enabled: bool = False
    schedule: str = ""
    cursor: str | None = None
    cursor_updated_at: datetime | None = None
    last_run: RunSummary | None = None
    dead_letters: int = 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    store: str
    store_exists: bool
    flows: list[FlowStatus] = field(default_factory=list)
    runs_recorded: int = 0
    outbox: OutboxStatus = field(default_factory=OutboxStatus)

    @property
    def store_empty(self) -> bool:
        return self.runs_recorded == 0 and all(
            f.cursor is None and not f.dead_letters for f in self.flows
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["store_empty"] = self.store_empty
        return data


def collect_status(config: SyncerConfig, store: StateStore | None, store_url: str) -> StatusReport:
    """Build the report; ``store`` is None when the store does not exist yet."""
    configured = {
        flow.name: FlowStatus(
            name=flow.name,
            in_config=True,
            source=f"{flow.source.connector}.{flow.source.stream}",
            target=f"{flow.target.connector}.{flow.target.stream}",
            enabled=flow.enabled,
            schedule=describe(flow.schedule),
        )
        for flow in config.flows
    }
    if store is None:
        return StatusReport(store_url, store_exists=False, flows=list(configured.values()))

    with store.session() as session:
        cursors = stored.cursors_by_flow(session)
        dead = stored.pending_dead_letters_by_flow(session)
        run_count = stored.run_count(session)
        remembered = set(cursors) | set(dead) | stored.flows_with_runs(session)
        names = list(configured) + sorted(remembered - set(configured))
        flows = []
        for name in names:
            base = configured.get(name, FlowStatus(name=name, in_config=False))
            last = stored.last_run(session, name)
            cursor = cursors.get(name)
            flows.append(
                replace(
                    base,
                    cursor=_cursor_text(cursor),
                    cursor_updated_at=cursor.updated_at if cursor else None,
                    last_run=_summary(last) if last else None,
                    dead_letters=dead.get(name, 0),
                )
            )
        outbox = stored.outbox_status(session)
    return StatusReport(
        store.display_url, store_exists=True, flows=flows, runs_recorded=run_count, outbox=outbox
    )


def _cursor_text(cursor: Cursor | None) -> str | None:
    if cursor is None or cursor.value is None:
        return None
    return f"{cursor.value} ({cursor.tiebreak_id})" if cursor.tiebreak_id else cursor.value


def _summary(run: Run) -> RunSummary:
    return RunSummary(
        id=run.id,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        read=run.read,
        created=run.created,
        updated=run.updated,
        unchanged=run.unchanged,
        skipped=run.skipped,
        failed=run.failed,
        deleted=run.deleted,
        error=run.error,
        kind=run.kind,
    )
