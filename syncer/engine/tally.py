"""What a run counts as it goes, and what it reports when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from syncer.logs import get_logger
from syncer.mapping.mapping import Rounded

log = get_logger(__name__)

ROUNDING_SHOWN = 3
"""Rounded values a run's summary names (it counts them all)."""


@dataclass(slots=True)
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    deleted: int = 0
    conflicts: int = 0
    echoes: int = 0
    """Unchanged records that were the engine's own writes read back (part of ``unchanged``)."""
    rounded: int = 0
    """Values a write rounded to what the target keeps (0.0004 to Repzo's thousandths)."""

    def as_body(self) -> dict[str, int]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "deleted": self.deleted,
            "conflicts": self.conflicts,
            "rounded": self.rounded,
        }

    def outcome(self, outcome: str) -> None:
        """Count one record by what became of it in the target."""
        if outcome == "created":
            self.created += 1
        elif outcome == "updated":
            self.updated += 1
        elif outcome == "deleted":
            self.deleted += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:  # unchanged, or linked to what the target already had
            self.unchanged += 1


@dataclass(slots=True)
class Tally:
    """The counts of one run and the values its writes rounded."""

    counts: Counts = field(default_factory=Counts)
    rounding: list[str] = field(default_factory=list)
    """The first few values a write rounded (``lines[0].discount 0.0005 -> 0.001``)."""
    letters: bool = True
    """The flow may have pending dead letters (it had some when the run began, or the run
    parked one): only then does a commit look for the letters its records resolve."""

    def rounded(self, rounded: Rounded) -> None:
        self.counts.rounded += 1
        if len(self.rounding) < ROUNDING_SHOWN:
            self.rounding.append(f"{rounded.field} {rounded.given} -> {rounded.written}")
        log.warning(
            "a value was rounded to what the target keeps",
            field=rounded.field,
            given=str(rounded.given),
            written=str(rounded.written),
        )


@dataclass(slots=True)
class RunResult:
    run_id: str
    flow: str
    status: str
    """``succeeded``, ``partial`` (dead letters), ``failed``, ``stopped``, or ``busy`` (another
    process holds the flow's lease; nothing was done)."""
    counts: Counts
    error: str | None = None
    error_exit: int | None = None
    """The exit code the error maps to (3: a system could not be reached)."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    read_back: bool = False
    """The pass that only read back what the other half of the pair wrote."""
    rounding: list[str] = field(default_factory=list)
    """The first few values a write rounded (``lines[0].discount 0.0005 -> 0.001``)."""
    retried: int = 0
    """Dead letters that went through in this run."""

    @property
    def label(self) -> str:
        """The flow's name as a summary shows this run."""
        return f"{self.flow} (read back)" if self.read_back else self.flow
