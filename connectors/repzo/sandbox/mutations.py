"""Mutate-while-paging: someone edits records while the engine is in the middle of a scan.

Armed for a resource, it remembers which ids list requests have returned; when the Nth list
request for that resource arrives, it picks K documents (among those already returned, those not
returned yet, or half of each) for the service to touch before that page is served. This is the
case where a cursor that is taken from the wrong place skips records.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Among = Literal["returned", "pending", "both"]


class PagingMutation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: str
    on_request: int = Field(2, ge=1)
    """Fire when this list request for the resource (1-based, counted from arming) arrives."""
    count: int = Field(1, ge=1)
    """How many documents to touch."""
    among: Among = "returned"
    seed: int = 0


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

    def before_list(self, resource: str, all_ids: Callable[[], list[str]]) -> list[str]:
        """Ids to touch before serving this list request; usually none."""
        with self._lock:
            chosen: list[str] = []
            for armed in list(self._armed):
                if armed.spec.resource != resource:
                    continue
                armed.seen += 1
                if armed.seen == armed.spec.on_request:
                    self._armed.remove(armed)
                    chosen.extend(_choose(armed, all_ids()))
            return chosen

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
