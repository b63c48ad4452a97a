"""The outbox of Repzo integration logs: written in the same transaction as the run's state,
delivered afterwards, in order per ``sync_id``, with backoff. A Repzo outage delays logs; it
never fails a sync and never loses a log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from syncer.logs import get_logger
from syncer.remote.errors import RemoteError, SkippableRemoteError
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
    parked: int = 0
    """Entries Repzo refused (a 4xx): kept with the reason, never retried, never blocking."""
    waiting: int = 0
    """Entries left for later (a failure earlier in the same log, or not due yet)."""


async def deliver(store: StateStore, senders: Mapping[str, Send]) -> Delivery:
    """Send what is due. Per log (``sync_id``), entries go in order and stop at the first that
    fails, so Repzo never sees a final status before the start of the same run.

    Only the first open entry of each log is a candidate, and only when it is due, so logs
    waiting for a retry (or any number of them) never starve newer ones."""
    report = Delivery()
    connectors = list(senders)
    for _ in range(MAX_ROUNDS):
        now = utcnow()
        with store.session() as session:
            heads = list(session.scalars(_due_heads(connectors, now).limit(BATCH)))
        if not heads:
            break
        for entry in heads:
            await _send(store, senders[entry.connector], entry, report)
    with store.session() as session:
        report.waiting = int(
            session.scalar(
                select(func.count())
                .select_from(OutboxEntry)
                .where(_open(OutboxEntry), OutboxEntry.connector.in_(connectors))
            )
            or 0
        )
    return report


MAX_ROUNDS = 20
"""Each round sends the next entry of every log; a run's log has a handful of entries."""


def _open(entry: type[OutboxEntry] | Any) -> Any:
    return and_(entry.delivered_at.is_(None), entry.parked_at.is_(None))


def _due_heads(connectors: list[str], now: Any) -> Select[OutboxEntry]:
    earlier = aliased(OutboxEntry)
    has_earlier_open = (
        select(earlier.id)
        .where(earlier.sync_id == OutboxEntry.sync_id, earlier.id < OutboxEntry.id, _open(earlier))
        .exists()
    )
    return (
        select(OutboxEntry)
        .where(
            _open(OutboxEntry),
            OutboxEntry.connector.in_(connectors),
            or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= now),
            ~has_earlier_open,
        )
        .order_by(OutboxEntry.id)
    )


async def _send(store: StateStore, send: Send, entry: OutboxEntry, report: Delivery) -> None:
    try:
        await send(entry.kind, entry.payload)
    except SkippableRemoteError as error:
        # Repzo refused this document itself: retrying cannot help, and keeping it at the head
        # would hold back the rest of its log.
        report.parked += 1
        _settle(store, entry.id, error=error.message, park=True)
        log.warning(
            "Repzo refused an integration log; it is parked in the outbox with the reason",
            sync_id=entry.sync_id,
            kind=entry.kind,
            status=error.status,
            error=error.message,
        )
    except RemoteError as error:
        report.failed += 1
        _settle(store, entry.id, error=error.message)
        log.warning(
            "integration log not delivered; it stays in the outbox",
            sync_id=entry.sync_id,
            kind=entry.kind,
            error=error.message,
        )
    else:
        report.sent += 1
        _settle(store, entry.id)


def _settle(
    store: StateStore, entry_id: int, *, error: str | None = None, park: bool = False
) -> None:
    with store.session() as session:
        entry = session.get(OutboxEntry, entry_id)
        if entry is None:
            return
        entry.attempts += 1
        if error is None:
            entry.delivered_at = utcnow()
        elif park:
            entry.last_error = error
            entry.parked_at = utcnow()
        else:
            entry.last_error = error
            entry.next_attempt_at = utcnow() + BACKOFF[min(entry.attempts, len(BACKOFF)) - 1]


def pending_count(store: StateStore) -> int:
    """Logs written but not delivered yet (parked ones excluded)."""
    with store.session() as session:
        count = session.scalar(
            select(func.count()).select_from(OutboxEntry).where(_open(OutboxEntry))
        )
    return int(count or 0)
