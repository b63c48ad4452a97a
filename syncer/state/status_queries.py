"""What ``syncer status`` reads from the state store: cursors, runs, pending dead letters and
the Repzo integration logs not delivered. Read only; each takes the caller's session, so one
report reads one snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncer.state.models import Cursor, DeadLetter, OutboxEntry, Run


def cursors_by_flow(session: Session) -> dict[str, Cursor]:
    """Every flow's cursor, by flow name."""
    return {row.flow: row for row in session.scalars(select(Cursor))}


def pending_dead_letters_by_flow(session: Session) -> dict[str, int]:
    """How many pending dead letters each flow has (flows without any are left out)."""
    pending = (
        select(DeadLetter.flow, func.count())
        .where(DeadLetter.status == "pending")
        .group_by(DeadLetter.flow)
    )
    return {flow: count for flow, count in session.execute(pending)}


def run_count(session: Session) -> int:
    """How many runs the store has recorded, of every flow."""
    return session.scalar(select(func.count()).select_from(Run)) or 0


def flows_with_runs(session: Session) -> set[str]:
    """The flows the store has recorded a run of."""
    return set(session.scalars(select(Run.flow).distinct()))


def last_run(session: Session, flow: str) -> Run | None:
    """The flow's most recently started run."""
    return session.scalars(
        select(Run).where(Run.flow == flow).order_by(Run.started_at.desc()).limit(1)
    ).first()


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """Repzo integration logs not delivered: waiting for a retry, or parked because Repzo
    refused them (kept for a person to read, never retried)."""

    waiting: int = 0
    parked: int = 0
    last_refusal: str | None = None
    """Repzo's message for the most recently parked log."""


def outbox_status(session: Session) -> OutboxStatus:
    """The outbox as a person is shown it: logs waiting, logs parked, the latest refusal."""
    undelivered = OutboxEntry.delivered_at.is_(None)
    waiting = session.scalar(
        select(func.count()).where(undelivered, OutboxEntry.parked_at.is_(None))
    )
    parked = session.scalar(
        select(func.count()).where(undelivered, OutboxEntry.parked_at.is_not(None))
    )
    last = session.scalars(
        select(OutboxEntry.last_error)
        .where(OutboxEntry.parked_at.is_not(None))
        .order_by(OutboxEntry.parked_at.desc())
        .limit(1)
    ).first()
    return OutboxStatus(waiting=int(waiting or 0), parked=int(parked or 0), last_refusal=last)
