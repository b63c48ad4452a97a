"""The values a batch of records passes from stage to stage.

    map:    native record            -> Mapped (canonical values, the id-map row if known)
    match:  Mapped (changed ones)    -> Matched (canonical id reserved, counterpart found)
    decide: Matched                  -> Write | Settled | Parked
    write:  Write                    -> Written (the target's answer)
    commit: Settled | Written | Parked -> id map, snapshots, dead letters, cursor, together

Each stage returns new values instead of filling in fields of a shared one, so what a stage
may rely on is in its input's type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from syncer.connector import LOCATION_FIELD, Record, WriteOp, WriteResult
from syncer.engine.deadletters import Failure
from syncer.engine.links import Link
from syncer.mapping.mapping import CanonicalRecord


@dataclass(slots=True)
class Mapped:
    """A source record mapped to canonical values."""

    native: Record
    key: str
    """The record's id in the source."""
    canonical: CanonicalRecord
    snap: dict[str, Any]
    """The flow's fields of the canonical values, as snapshots keep them."""
    row: Link | None
    """The record's id-map row; None the first time it is seen."""

    @property
    def values(self) -> dict[str, Any]:
        return self.canonical.values

    @property
    def described(self) -> str:
        """The record as a person finds it: its key, and its place in a file if it has one."""
        location = self.native.get(LOCATION_FIELD)
        return f"{self.key} ({location})" if location else self.key


@dataclass(frozen=True, slots=True)
class Matched:
    """A changed record with its canonical id, and its counterpart in the target where one is
    known (linked in the id map, or found by its identity key)."""

    record: Mapped
    row: Link
    target_row: Link | None
    found: str | None
    """The target's key of the record found by the identity lookup (not linked yet)."""
    lookup: tuple[str, str] | None
    """(path, value) the target record is found by before it is created."""

    @property
    def key(self) -> str:
        return self.record.key

    @property
    def canonical_id(self) -> str:
        return self.row.canonical_id

    @property
    def existing(self) -> str | None:
        """The target's key of the counterpart, if there is one."""
        return self.target_row.native_id if self.target_row is not None else self.found


@dataclass(frozen=True, slots=True)
class Write:
    """A record to write to the target."""

    match: Matched
    op: WriteOp
    fields: frozenset[str]
    """The fields written (none for a delete)."""
    undecided: frozenset[str] = frozenset()
    """Fields held back for a person to decide (conflicts)."""


@dataclass(frozen=True, slots=True)
class Settled:
    """A record with nothing to write: already there, linked to what the target had, or
    skipped (a deletion of a record that never arrived)."""

    match: Matched
    outcome: Literal["unchanged", "linked", "skipped"]
    undecided: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Parked:
    """A record that becomes a dead letter."""

    match: Matched
    failure: Failure


Decision = Write | Settled | Parked


@dataclass(frozen=True, slots=True)
class Written:
    """A write and the target's answer (None when the target never answered for it)."""

    write: Write
    result: WriteResult | None

    @property
    def match(self) -> Matched:
        return self.write.match


Outcome = Settled | Written | Parked
"""What the commit stage records, one per changed record."""
