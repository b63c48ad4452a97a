"""The outbox of Repzo integration logs: written in the same transaction as the run's state,
delivered afterwards, in order per ``sync_id``, with backoff. A Repzo outage delays logs; it
never fails a sync and never loses a log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncer.logs import get_logger
from syncer.remote.errors import RemoteError
from syncer.state.base import utcnow
from syncer.state.models import OutboxEntry
from syncer.state.store import StateStore

log = get_logger(__name__)

BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
BATCH = 200

Send = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""(kind, document) -> saved; raises RemoteError when the log could not be saved."""


def enqueue(
    session: Session, connector: str, kind: str, sync_id: str, document: dict[str, Any]
) -> None:
    session.add(
        OutboxEntry(connector=connector, kind=kind, sync_id=sync_id, payload=document, attempts=0)
    )


@dataclass(slots=True)
class Delivery:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    """Entries left for later (a failure earlier in the same log, or not due yet)."""


async def deliver(store: StateStore, senders: Mapping[str, Send]) -> Delivery:
    """Send what is due. Per log (``sync_id``), entries go in order and stop at the first that
    fails, so Repzo never sees a final status before the start of the same run."""
    report = Delivery()
    now = utcnow()
    with store.session() as session:
        pending = list(
            session.scalars(
                select(OutboxEntry)
                .where(OutboxEntry.delivered_at.is_(None), OutboxEntry.connector.in_(list(senders)))
                .order_by(OutboxEntry.id)
                .limit(BATCH)
            )
        )
    blocked: set[str] = set()
    for entry in pending:
        if entry.sync_id in blocked:
            report.waiting += 1
            continue
        if entry.next_attempt_at is not None and entry.next_attempt_at > now:
            blocked.add(entry.sync_id)
            report.waiting += 1
            continue
        try:
            await senders[entry.connector](entry.kind, entry.payload)
        except RemoteError as error:
            blocked.add(entry.sync_id)
            report.failed += 1
            _record_failure(store, entry.id, error.message)
            log.warning(
                "integration log not delivered; it stays in the outbox",
                sync_id=entry.sync_id,
                kind=entry.kind,
                error=error.message,
            )
            continue
        with store.session() as session:
            stored = session.get(OutboxEntry, entry.id)
            if stored is not None:
                stored.delivered_at = utcnow()
                stored.attempts += 1
        report.sent += 1
    return report


def _record_failure(store: StateStore, entry_id: int, reason: str) -> None:
    with store.session() as session:
        entry = session.get(OutboxEntry, entry_id)
        if entry is None:
            return
        entry.attempts += 1
        entry.last_error = reason
        entry.next_attempt_at = utcnow() + BACKOFF[min(entry.attempts, len(BACKOFF)) - 1]


def pending_count(store: StateStore) -> int:
    """Logs written but not delivered yet."""
    with store.session() as session:
        count = session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.delivered_at.is_(None))
        )
    return int(count or 0)
