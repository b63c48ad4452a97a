"""Mutate-while-paging: someone edits records while the engine is in the middle of a scan.

Armed for a resource, it remembers which ids list requests have returned; when the Nth list
request for that resource arrives, it picks K documents (among those already returned, those not
returned yet, or half of each), or exactly the ones named, for the service to edit before that
page is served. This is the case where a cursor that is taken from the wrong place skips records.

An edit can also carry field values (what the user typed), let time pass first (two edits of one
scan at two instants), and be stamped earlier than the moment it appears in listings: a database
commit that lands late carries the ``updatedAt`` of the moment its transaction began, and a
cursor without a safety margin has already moved past it by the time anyone can read it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Among = Literal["returned", "pending", "both"]


class PagingMutation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: str
    on_request: int = Field(2, ge=1)
    """Fire when this list request for the resource (1-based, counted from arming) arrives."""
    count: int = Field(1, ge=1)
    """How many documents to touch (when ``ids`` does not name them)."""
    among: Among = "returned"
    seed: int = 0
    ids: tuple[str, ...] = ()
    """Exactly these documents, instead of ``count`` chosen among ``among``."""
    changes: dict[str, Any] = Field(default_factory=dict)
    """Field values the edit writes (dotted paths set as Mongo's ``$set`` does); without any,
    the edit only moves ``updatedAt``."""
    advance_ms: int = Field(0, ge=0)
    """Move the sandbox clock forward this much first: the edit happens that much later than
    whatever came before it, even on a frozen clock."""
    late_ms: int = Field(0, ge=0)
    """Stamp ``updatedAt`` this many ms before the moment the edit becomes visible: a commit
    that lands late, stamped when its transaction began."""


@dataclass(frozen=True)
class Edit:
    """What the service applies before serving a list request."""

    ids: list[str]
    changes: dict[str, Any]
    advance_ms: int
    late_ms: int


@dataclass
class _Armed:
    spec: PagingMutation
    seen: int = 0
    returned: set[str] = field(default_factory=set)


class PagingMutator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def arm(self, spec: PagingMutation) -> None:
        with self._lock:
            self._armed.append(_Armed(spec))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[PagingMutation]:
        with self._lock:
            return [armed.spec for armed in self._armed]

    def before_list(self, resource: str, all_ids: Callable[[], list[str]]) -> list[Edit]:
        """Edits to apply before serving this list request, in the order they were armed;
        usually none."""
        with self._lock:
            edits: list[Edit] = []
            for armed in list(self._armed):
                if armed.spec.resource != resource:
                    continue
                armed.seen += 1
                if armed.seen == armed.spec.on_request:
                    self._armed.remove(armed)
                    spec = armed.spec
                    chosen = list(spec.ids) if spec.ids else _choose(armed, all_ids())
                    edits.append(Edit(chosen, dict(spec.changes), spec.advance_ms, spec.late_ms))
            return edits

    def after_list(self, resource: str, ids: list[str]) -> None:
        with self._lock:
            for armed in self._armed:
                if armed.spec.resource == resource:
                    armed.returned.update(ids)


def _choose(armed: _Armed, all_ids: list[str]) -> list[str]:
    rng = random.Random(armed.spec.seed)
    returned = sorted(armed.returned)
    pending = [doc_id for doc_id in all_ids if doc_id not in armed.returned]
    wanted = armed.spec.count
    if armed.spec.among == "returned":
        return _sample(rng, returned, wanted)
    if armed.spec.among == "pending":
        return _sample(rng, pending, wanted)
    first = _sample(rng, returned, (wanted + 1) // 2)
    return first + _sample(rng, pending, wanted - len(first))


def _sample(rng: random.Random, population: list[str], wanted: int) -> list[str]:
    return rng.sample(population, min(wanted, len(population)))
