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
    waiting for a retry (or any number of them) never starve newer ones.

    Once Repzo accepts a log, the outage the waiting ones failed in is over: they go at once,
    oldest first, rather than up to an hour later when their backoff ends. The first of them
    that fails again ends that for this call (Repzo is failing again, or that log fails on its
    own), so a log that keeps failing costs one request a call, not one per waiting log. No
    entry is tried twice in one call."""
    report = Delivery()
    connectors = list(senders)
    tried: set[int] = set()
    accepted: set[str] = set()
    await _rounds(store, senders, connectors, report, tried, accepted, early=False)
    if accepted:
        await _rounds(store, senders, sorted(accepted), report, tried, set(), early=True)
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


async def _rounds(
    store: StateStore,
    senders: Mapping[str, Send],
    connectors: list[str],
    report: Delivery,
    tried: set[int],
    accepted: set[str],
    *,
    early: bool,
) -> None:
    """Send the heads of the logs, round after round (the next entry of a log becomes its head
    once the one before is delivered): those due, or with ``early``, those still waiting out
    their backoff too, until one fails. Adds the connectors that accepted a log to
    ``accepted`` and every entry sent to ``tried``."""
    for _ in range(MAX_ROUNDS):
        now = utcnow()
        with store.session() as session:
            heads = list(
                session.scalars(_due_heads(connectors, None if early else now, tried).limit(BATCH))
            )
        if not heads:
            return
        for entry in heads:
            tried.add(entry.id)
            sent = await _send(store, senders[entry.connector], entry, report)
            if sent:
                accepted.add(entry.connector)
            elif early:
                return


def _open(entry: type[OutboxEntry] | Any) -> Any:
    return and_(entry.delivered_at.is_(None), entry.parked_at.is_(None))


def _due_heads(connectors: list[str], now: Any, tried: set[int]) -> Select[OutboxEntry]:
    """The first open entry of each log, oldest first: due at ``now``, or any when ``now`` is
    None; never one of ``tried``."""
    earlier = aliased(OutboxEntry)
    has_earlier_open = (
        select(earlier.id)
        .where(earlier.sync_id == OutboxEntry.sync_id, earlier.id < OutboxEntry.id, _open(earlier))
        .exists()
    )
    query = select(OutboxEntry).where(
        _open(OutboxEntry), OutboxEntry.connector.in_(connectors), ~has_earlier_open
    )
    if now is not None:
        query = query.where(
            or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= now)
        )
    if tried:
        query = query.where(OutboxEntry.id.not_in(sorted(tried)))
    return query.order_by(OutboxEntry.id)


async def _send(store: StateStore, send: Send, entry: OutboxEntry, report: Delivery) -> bool:
    """Send one entry; False when it failed and waits for a retry (a refusal is parked: Repzo
    answered, and the entry is settled)."""
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
        return False
    else:
        report.sent += 1
        _settle(store, entry.id)
    return True


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
