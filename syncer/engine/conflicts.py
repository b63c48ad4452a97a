"""Deciding what to do when both sides of a two-way pair changed (invariant 4).

Pure functions of the two sides' current values, their last-synced snapshots and the pair's
policy: which fields the source writes, which the target keeps, and which nobody can decide
(those go to the review list). No wall-clock races: a side "changed" a field when its value
differs from what was last synced there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncer.config.models import ConflictSettings
from syncer.state.base import utcnow
from syncer.state.models import Conflict

DEFAULT = ConflictSettings()


@dataclass(slots=True)
class Decision:
    write: set[str] = field(default_factory=set)
    """Fields the source changed that go to the target."""
    kept: set[str] = field(default_factory=set)
    """Fields both changed where the target's value stands (it goes back to the source later)."""
    undecided: set[str] = field(default_factory=set)
    """Fields both changed that the policy cannot settle: for a person to decide."""
    reasons: dict[str, str] = field(default_factory=dict)
    """Field -> why it went the way it did, for the log."""


def decide(
    *,
    source: str,
    target: str,
    source_now: Mapping[str, Any],
    source_synced: Mapping[str, Any] | None,
    target_now: Mapping[str, Any],
    target_synced: Mapping[str, Any] | None,
    fields: Iterable[str],
    settings: ConflictSettings | None,
    source_time: datetime | None = None,
    target_time: datetime | None = None,
    target_unknown: bool = False,
) -> Decision:
    """Per field: who changed it since the last sync, and who wins when both did.

    ``target_unknown``: the target record is linked but what was last synced to it was never
    recorded (a run stopped between linking it and committing). A difference there may be an
    edit made on the target since, which the source's older value must not overwrite, or a
    value the source gave the record (the code an ERP assigns), which must go through. So the
    policy decides such a field where it can (its owner, the preferred side, the newer side)
    and the source's value goes through where it cannot; nothing waits for review on a guess."""
    policy = settings or DEFAULT
    decision = Decision()
    for name in fields:
        mine, theirs = source_now.get(name), target_now.get(name)
        source_changed = source_synced is None or mine != source_synced.get(name)
        target_changed = target_synced is not None and theirs != target_synced.get(name)
        if not source_changed or mine == theirs:
            continue
        if target_synced is None and target_unknown:
            winner, reason = _winner(policy, name, source, target, source_time, target_time)
            if winner == target:
                decision.kept.add(name)
                decision.reasons[name] = (
                    f"{reason}; what was last synced was never recorded, so the target's "
                    "value may be an edit made since"
                )
            else:
                decision.write.add(name)
            continue
        if not target_changed:
            decision.write.add(name)
            continue
        winner, reason = _winner(policy, name, source, target, source_time, target_time)
        decision.reasons[name] = reason
        if winner == source:
            decision.write.add(name)
        elif winner == target:
            decision.kept.add(name)
        else:
            decision.undecided.add(name)
    return decision


def _winner(
    policy: ConflictSettings,
    name: str,
    source: str,
    target: str,
    source_time: datetime | None,
    target_time: datetime | None,
) -> tuple[str | None, str]:
    if policy.policy == "ownership":
        owner = policy.owners.get(name)
        if owner is None:
            return None, f"both sides changed {name} and no owner is configured for it"
        return owner, f"{owner} owns {name}"
    if policy.policy == "prefer":
        return policy.prefer, f"the pair prefers {policy.prefer}"
    if source_time is None or target_time is None:
        return None, "newest wins, but a side has no last-modified time"
    gap = source_time - target_time
    if abs(gap) <= policy.clock_skew:
        return None, (
            f"both changed within {policy.clock_skew} of each other (clock_skew), too close to call"
        )
    newer = source if gap > timedelta(0) else target
    return newer, f"{newer} changed it last"


def record(
    session: Session,
    *,
    flow: str,
    entity: str,
    canonical_id: str,
    source: str,
    target: str,
    values: Mapping[str, Mapping[str, Any]],
    reason: str,
    kind: str = "fields",
) -> Conflict:
    """Open a review-list entry, or refresh the open one of the same record and kind."""
    existing = session.scalars(
        select(Conflict).where(
            Conflict.entity == entity,
            Conflict.canonical_id == canonical_id,
            Conflict.status == "open",
            Conflict.kind == kind,
        )
    ).first()
    if existing is None:
        existing = Conflict(
            flow=flow,
            entity=entity,
            canonical_id=canonical_id,
            source=source,
            target=target,
            status="open",
            kind=kind,
            detected_at=utcnow(),
        )
        session.add(existing)
    existing.fields = {name: dict(sides) for name, sides in values.items()}
    existing.reason = reason
    return existing


def open_fields(session: Session, entity: str, canonical_id: str) -> set[str]:
    """Fields of a record waiting for a person: no side overwrites them meanwhile."""
    rows = session.scalars(
        select(Conflict.fields).where(
            Conflict.entity == entity,
            Conflict.canonical_id == canonical_id,
            Conflict.status == "open",
            Conflict.kind == "fields",
        )
    )
    return {name for fields in rows for name in fields}
