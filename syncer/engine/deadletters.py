"""Dead letters: records that could not be synced, kept with their reason and payload, retried
with backoff until they succeed or a person drops them (invariant 5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncer.state.base import utcnow
from syncer.state.models import DeadLetter

BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
"""Wait before retry number n (the last step repeats): soon for a reference that is about to
arrive, rarely for a record that needs a person."""


def next_attempt(attempts: int, now: datetime) -> datetime:
    return now + BACKOFF[min(attempts, len(BACKOFF)) - 1]


@dataclass(frozen=True, slots=True)
class Failure:
    """A record that failed in a run, before it is stored."""

    record_key: str
    reason: str
    kind: str
    """``mapping``, ``reference``, ``validation``, ``remote`` or ``read``."""
    payload: dict[str, Any] | None = None
    field: str | None = None
    status_code: int | None = None


def park(
    session: Session,
    flow: str,
    connector: str,
    stream: str,
    failure: Failure,
    run_id: str,
    *,
    reference_wait: timedelta | None = None,
) -> DeadLetter:
    """Store a failure, or count one more attempt on the dead letter it already is.

    A record waiting for a record it refers to is retried on the usual backoff for
    ``reference_wait``; after that its reason says it gave up waiting, and it is retried at
    the slowest step only (the missing record may still come, but nothing suggests soon)."""
    now = utcnow()
    letter = session.scalars(
        select(DeadLetter).where(
            DeadLetter.flow == flow, DeadLetter.record_key == failure.record_key
        )
    ).one_or_none()
    if letter is None:
        letter = DeadLetter(
            flow=flow,
            connector=connector,
            stream=stream,
            record_key=failure.record_key,
            attempts=0,
            first_failed_at=now,
        )
        session.add(letter)
    if letter.status == "pending":
        letter.attempts = (letter.attempts or 0) + 1
    else:  # synced or dropped since: a new failure, and a new wait
        letter.attempts = 1
        letter.first_failed_at = now
    letter.status = "pending"
    letter.reason = failure.reason
    waited = now - (letter.first_failed_at or now)
    gave_up = (
        failure.kind == "reference"
        and reference_wait is not None
        and letter.attempts > 1
        and waited >= reference_wait
    )
    if gave_up:
        letter.reason = f"gave up waiting after {_duration(waited)}: {failure.reason}"
    letter.error_kind = failure.kind
    letter.field = failure.field
    letter.status_code = failure.status_code
    letter.payload = failure.payload if failure.payload is not None else letter.payload
    letter.last_failed_at = now
    if failure.kind == "refused":
        letter.next_attempt_at = None  # the same record is refused again: a new version may not
    elif gave_up:
        letter.next_attempt_at = now + BACKOFF[-1]
    else:
        letter.next_attempt_at = next_attempt(letter.attempts, now)
    letter.resolved_at = None
    letter.run_id = run_id
    return letter


def _duration(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return (
        f"{hours // 24}d {hours % 24}h"
        if hours >= 24
        else f"{hours}h {int(span.total_seconds() // 60) % 60}m"
    )


def any_pending(session: Session, flow: str) -> bool:
    found = session.scalar(
        select(DeadLetter.id)
        .where(DeadLetter.flow == flow, DeadLetter.status == "pending")
        .limit(1)
    )
    return found is not None


def resolve(session: Session, flow: str, record_keys: Sequence[str]) -> int:
    """Mark dead letters of records that have now synced as resolved; returns how many."""
    if not record_keys:
        return 0
    letters = session.scalars(
        select(DeadLetter).where(
            DeadLetter.flow == flow,
            DeadLetter.status == "pending",
            DeadLetter.record_key.in_(list(record_keys)),
        )
    ).all()
    now = utcnow()
    for letter in letters:
        letter.status = "resolved"
        letter.resolved_at = now
    return len(letters)


def resolve_reread(
    session: Session, flow: str, still_unreadable: set[str], only: set[str] | None = None
) -> int:
    """After reading the source's files again: rows that could not be read before and read
    fine now (their location is not among ``still_unreadable``) are resolved; the records they
    hold went through like any other. ``only``: just these letters (a partial re-read)."""
    query = select(DeadLetter).where(
        DeadLetter.flow == flow,
        DeadLetter.status == "pending",
        DeadLetter.error_kind == "read",
    )
    if only is not None:
        query = query.where(DeadLetter.record_key.in_(list(only)))
    letters = session.scalars(query).all()
    now = utcnow()
    resolved = 0
    for letter in letters:
        if letter.record_key not in still_unreadable:
            letter.status = "resolved"
            letter.resolved_at = now
            resolved += 1
    return resolved


def postpone(session: Session, flow: str, record_keys: set[str]) -> None:
    """Count one more attempt on letters whose record could not be found to retry."""
    if not record_keys:
        return
    now = utcnow()
    for letter in session.scalars(
        select(DeadLetter).where(
            DeadLetter.flow == flow,
            DeadLetter.status == "pending",
            DeadLetter.record_key.in_(list(record_keys)),
        )
    ):
        letter.attempts = (letter.attempts or 0) + 1
        letter.last_failed_at = now
        letter.next_attempt_at = next_attempt(letter.attempts, now)


def count_resolved(session: Session, flow: str, record_keys: set[str]) -> int:
    return len(
        session.scalars(
            select(DeadLetter.id).where(
                DeadLetter.flow == flow,
                DeadLetter.status == "resolved",
                DeadLetter.record_key.in_(list(record_keys)),
            )
        ).all()
    )


def due(
    session: Session,
    flow: str,
    now: datetime,
    limit: int = 500,
    *,
    include_read: bool = False,
    everything: bool = False,
) -> list[DeadLetter]:
    """Pending dead letters whose next attempt is due, or all of them (``everything``: a
    person asked, after changing a mapping, say). Rows that could not be read have no payload
    worth retrying: they come back only where the source is read again (``include_read``, for
    files). Refused records have no next attempt: only a new version of them, or a person,
    brings them back."""
    query = select(DeadLetter).where(DeadLetter.flow == flow, DeadLetter.status == "pending")
    if not everything:
        query = query.where(DeadLetter.next_attempt_at <= now)
    if not include_read:
        query = query.where(DeadLetter.error_kind != "read")
    ordered = query.order_by(DeadLetter.next_attempt_at, DeadLetter.id)
    return list(session.scalars(ordered.limit(limit)))
