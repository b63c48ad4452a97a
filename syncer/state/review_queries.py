"""What the records waiting for a person look like in the state store: dead letters and
conflicts, as ``syncer dead-letters``, ``syncer conflicts`` and the summary of ``syncer sync``
list them. Read only; each takes the caller's session and returns rows (usable after it
closes: the store's sessions do not expire them)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncer.state.models import Conflict, DeadLetter, IdMapEntry


def dead_letters(
    session: Session, *, flow: str | None = None, everything: bool = False
) -> list[DeadLetter]:
    """Dead letters in the order they were parked: the pending ones, or with ``everything``
    the resolved and dropped ones too; only ``flow``'s when given."""
    query = select(DeadLetter).order_by(DeadLetter.id)
    if not everything:
        query = query.where(DeadLetter.status == "pending")
    if flow:
        query = query.where(DeadLetter.flow == flow)
    return list(session.scalars(query))


def run_dead_letters(session: Session, run_id: str, first: int) -> tuple[int, list[DeadLetter]]:
    """How many dead letters the run ``run_id`` left, and the ``first`` of them."""
    mine = DeadLetter.run_id == run_id
    total = session.scalar(select(func.count()).select_from(DeadLetter).where(mine))
    rows = session.scalars(select(DeadLetter).where(mine).order_by(DeadLetter.id).limit(first))
    return int(total or 0), list(rows)


def conflicts(session: Session, *, everything: bool = False) -> list[Conflict]:
    """Conflicts in the order they were found: the open ones, or with ``everything`` the
    resolved ones too."""
    query = select(Conflict).order_by(Conflict.id)
    if not everything:
        query = query.where(Conflict.status == "open")
    return list(session.scalars(query))


def natives_of(session: Session, canonical_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    """(canonical id, connector) -> the record's native id there, for every side the id map
    links ``canonical_ids`` to."""
    rows = session.scalars(
        select(IdMapEntry).where(IdMapEntry.canonical_id.in_(list(canonical_ids)))
    )
    return {(row.canonical_id, row.connector): row.native_id for row in rows}
