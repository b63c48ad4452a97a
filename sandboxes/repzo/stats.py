"""What the sandbox saw: requests by method, resource and status, and what they changed.

Tests assert on these, e.g. that a resync of unchanged data made no write request, or that
writing external ids back went through update-integration-meta and fired no change event.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RequestCount:
    method: str
    resource: str
    """Registry name, ``update-integration-meta``, or ``(unknown)`` for a path that 404s."""
    status: int
    count: int


@dataclass(frozen=True)
class Stats:
    requests: tuple[RequestCount, ...] = ()
    change_events: dict[str, int] = field(default_factory=dict)
    """Per resource, the writes that changed a document (create, update, delete, sub-action):
    what would fire Repzo's webhooks. A PUT that changed nothing still counts; see noop_writes."""
    noop_writes: dict[str, int] = field(default_factory=dict)
    """Per resource, the updates that changed nothing but ``updatedAt``."""
    meta_updates: dict[str, int] = field(default_factory=dict)
    """Per resource, update-integration-meta calls (they change no updatedAt, fire nothing)."""
    sub_actions: dict[str, int] = field(default_factory=dict)
    """Per ``resource/action``, calls of a registry sub-action."""
    faults: dict[str, int] = field(default_factory=dict)
    """Per fault kind (latency, 429, 5xx, drop, truncate), how many were injected."""
    mutations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per resource, the ids mutate-while-paging changed, in order."""
    documents: dict[str, int] = field(default_factory=dict)
    """Documents stored per resource at the time of the snapshot."""

    def count(
        self, method: str | None = None, resource: str | None = None, status: int | None = None
    ) -> int:
        return sum(
            row.count
            for row in self.requests
            if (method is None or row.method == method.upper())
            and (resource is None or row.resource == resource)
            and (status is None or row.status == status)
        )

    def writes(self, resource: str | None = None) -> int:
        """Write requests (POST, PUT, PATCH, DELETE) received, whatever their outcome."""
        return sum(
            row.count
            for row in self.requests
            if row.method in WRITE_METHODS and (resource is None or row.resource == resource)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": [row.__dict__ for row in self.requests],
            "total_requests": self.count(),
            "total_writes": self.writes(),
            "change_events": self.change_events,
            "noop_writes": self.noop_writes,
            "meta_updates": self.meta_updates,
            "sub_actions": self.sub_actions,
            "faults": self.faults,
            "mutations": {name: list(ids) for name, ids in self.mutations.items()},
            "documents": self.documents,
        }


class StatsRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[tuple[str, str, int]] = Counter()
            self._changes: Counter[str] = Counter()
            self._noops: Counter[str] = Counter()
            self._meta: Counter[str] = Counter()
            self._actions: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._mutations: dict[str, list[str]] = {}

    def request(self, method: str, resource: str, status: int) -> None:
        with self._lock:
            self._requests[(method, resource, status)] += 1

    def change(self, resource: str, *, noop: bool = False) -> None:
        with self._lock:
            self._changes[resource] += 1
            if noop:
                self._noops[resource] += 1

    def meta_update(self, resource: str) -> None:
        with self._lock:
            self._meta[resource] += 1

    def sub_action(self, resource: str, action: str) -> None:
        with self._lock:
            self._actions[f"{resource}/{action}"] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def mutated(self, resource: str, ids: list[str]) -> None:
        with self._lock:
            self._mutations.setdefault(resource, []).extend(ids)

    def snapshot(self, documents: dict[str, int]) -> Stats:
        with self._lock:
            return Stats(
                requests=tuple(
                    RequestCount(method, resource, status, count)
                    for (method, resource, status), count in sorted(self._requests.items())
                ),
                change_events=dict(self._changes),
                noop_writes=dict(self._noops),
                meta_updates=dict(self._meta),
                sub_actions=dict(self._actions),
                faults=dict(self._faults),
                mutations={name: tuple(ids) for name, ids in self._mutations.items()},
                documents=documents,
            )
