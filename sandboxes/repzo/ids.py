"""``_id`` values shaped like MongoDB ObjectIds: 24 lowercase hex digits, creation seconds first.

Real ObjectIds only roughly follow creation order (several machines, a per-second counter). The
sandbox makes them strictly increasing instead: an engine that pages append-only documents by
``_id`` (fullinvoices, payments) must be testable without ids arriving out of order by accident.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_MACHINE_BITS = 40
_COUNTER_BITS = 24
_TAIL_BITS = _MACHINE_BITS + _COUNTER_BITS


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and OBJECT_ID.fullmatch(value) is not None


class ObjectIdFactory:
    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._lock = threading.Lock()
        # Like a real ObjectId, the middle five bytes differ per process; the low three count.
        self._machine = int.from_bytes(os.urandom(5), "big")
        self._last = 0

    def observe(self, existing: str) -> None:
        """Make every later id sort after ``existing`` (ids loaded from a file or seeded as is)."""
        if is_object_id(existing):
            with self._lock:
                self._last = max(self._last, int(existing, 16))

    def new(self) -> str:
        return self.new_many(1)[0]

    def new_many(self, count: int) -> list[str]:
        seconds = (self._now_ms() // 1000) & 0xFFFFFFFF
        with self._lock:
            value = max((seconds << _TAIL_BITS) | (self._machine << _COUNTER_BITS), self._last + 1)
            ids = [f"{value + offset:024x}" for offset in range(count)]
            self._last = value + count - 1
        return ids
