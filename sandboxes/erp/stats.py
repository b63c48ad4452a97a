"""What the ERP stub saw: requests by method, entity and status, and what writes did.

Tests assert on these: that a second sync of unchanged data made no write, that a retried
document POST found its original (``existing``) instead of creating a duplicate, how many
faults were injected.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

WriteOutcome = Literal["created", "existing", "updated", "deactivated"]
UNKNOWN_ENTITY = "(unknown)"


@dataclass(frozen=True)
class RequestCount:
    method: str
    entity: str
    """Collection name, or ``(unknown)`` for a path that is no collection."""
    status: int
    count: int


@dataclass(frozen=True)
class ErpStats:
    requests: tuple[RequestCount, ...] = ()
    writes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per entity, accepted writes by outcome: ``created`` (201), ``existing`` (a document POST
    whose number was already there, 200), ``updated`` (PATCH), ``deactivated`` (DELETE)."""
    mutations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per entity, the keys the mutate API changed, in order."""
    records: dict[str, int] = field(default_factory=dict)
    """Records stored per entity when the snapshot was taken."""
    faults: dict[str, int] = field(default_factory=dict)
    """Per kind (latency, 429, 5xx, drop, truncate, reject), the faults injected by the plan or
    the script (``set_faults``, ``script_fault``); held and dropped answers are not counted
    here."""

    def count(
        self, method: str | None = None, entity: str | None = None, status: int | None = None
    ) -> int:
        return sum(
            row.count
            for row in self.requests
            if (method is None or row.method == method.upper())
            and (entity is None or row.entity == entity)
            and (status is None or row.status == status)
        )

    def outcome(self, outcome: WriteOutcome, entity: str | None = None) -> int:
        return sum(
            counts.get(outcome, 0)
            for name, counts in self.writes.items()
            if entity is None or name == entity
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": [row.__dict__ for row in self.requests],
            "total_requests": self.count(),
            "writes": self.writes,
            "mutations": {name: list(keys) for name, keys in self.mutations.items()},
            "records": self.records,
            "faults": self.faults,
        }


class StatsRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[tuple[str, str, int]] = Counter()
            self._writes: Counter[tuple[str, str]] = Counter()
            self._mutations: dict[str, list[str]] = {}
            self._faults: Counter[str] = Counter()

    def request(self, method: str, entity: str, status: int) -> None:
        with self._lock:
            self._requests[(method, entity, status)] += 1

    def write(self, entity: str, outcome: WriteOutcome) -> None:
        with self._lock:
            self._writes[(entity, outcome)] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def mutated(self, entity: str, keys: list[str]) -> None:
        with self._lock:
            self._mutations.setdefault(entity, []).extend(keys)

    def snapshot(self, records: dict[str, int]) -> ErpStats:
        with self._lock:
            writes: dict[str, dict[str, int]] = {}
            for (entity, outcome), count in sorted(self._writes.items()):
                writes.setdefault(entity, {})[outcome] = count
            return ErpStats(
                requests=tuple(
                    RequestCount(method, entity, status, count)
                    for (method, entity, status), count in sorted(self._requests.items())
                ),
                writes=writes,
                mutations={name: tuple(keys) for name, keys in self._mutations.items()},
                records=records,
                faults=dict(self._faults),
            )
