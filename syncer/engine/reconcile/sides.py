"""One system of a reconciled flow: its connector, stream and mapping, and its records in
canonical form, mapped as a sync maps them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from syncer.connector import Record
from syncer.engine.binding import Side
from syncer.engine.reconcile.fields import reading_rule
from syncer.errors import RecordError
from syncer.mapping.mapping import CanonicalRecord
from syncer.mapping.paths import MISSING


@dataclass(slots=True)
class Read:
    """A native record mapped to canonical form, or why it could not be."""

    native: Record
    native_id: str
    canonical: CanonicalRecord | None
    problem: str | None = None

    @property
    def values(self) -> dict[str, Any]:
        return self.canonical.values if self.canonical is not None else {}


def mapped(side: Side, records: Sequence[Record]) -> list[Read]:
    """Native -> canonical as a sync maps (references through the id map, one query per
    page); a record that cannot be mapped says why instead."""
    side.refs.prefetch_native(
        pair for record in records for pair in side.mapping.references(record)
    )
    reads = []
    for record in records:
        native_id = side.mapping.native_id_or_none(record)
        if native_id is None:
            problem = f"the record has no {side.mapping.key.text}"
            reads.append(Read(record, f"(no {side.mapping.key.text})", None, problem))
            continue
        try:
            reads.append(Read(record, native_id, side.mapping.read(record, side.context)))
        except RecordError as error:
            reads.append(Read(record, native_id, None, _reason(error)))
    return reads


def document_number(side: Side, natural_key: str | None, read: Read) -> str:
    """The document's number (its ``natural_key`` field) as people know it; for one that
    could not be mapped, what its number field holds, else its native id."""
    if natural_key is None:
        return read.native_id
    value = read.values.get(natural_key)
    if value in (None, "") and (rule := reading_rule(side.mapping, natural_key)) is not None:
        try:
            value = rule.read(read.native, side.context)
        except (RecordError, ValueError, TypeError, ArithmeticError):
            value = None
    return str(value) if value not in (None, "", MISSING) else read.native_id


def _reason(error: RecordError) -> str:
    return f"{error.field}: {error.reason}" if error.field else error.reason
