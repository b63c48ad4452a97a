"""The sandbox's clock: real time shifted by an offset, or frozen at one instant.

Every timestamp the sandbox writes (``createdAt``, ``updatedAt``, the ``Date`` header, the
seconds inside new ``_id`` values) comes from here, so a test can make thousands of records share
one ``updatedAt`` or jump a day ahead without sleeping.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate


@dataclass(frozen=True)
class ClockState:
    now_ms: int
    offset_ms: int
    frozen: bool


class SandboxClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ms = 0
        self._frozen_ms: int | None = None

    def now_ms(self) -> int:
        with self._lock:
            if self._frozen_ms is not None:
                return self._frozen_ms
            return time.time_ns() // 1_000_000 + self._offset_ms

    def freeze(self, at_ms: int | None = None) -> None:
        """Stop the clock at ``at_ms`` (ms epoch), or at the current instant."""
        now = self.now_ms() if at_ms is None else at_ms
        with self._lock:
            self._frozen_ms = now

    def unfreeze(self) -> None:
        """Let time run again from where it stands now (the offset absorbs any jump)."""
        with self._lock:
            if self._frozen_ms is not None:
                self._offset_ms = self._frozen_ms - time.time_ns() // 1_000_000
                self._frozen_ms = None

    def set_offset(self, offset_ms: int) -> None:
        """Run at real time plus ``offset_ms``; unfreezes."""
        with self._lock:
            self._frozen_ms = None
            self._offset_ms = offset_ms

    def advance(self, delta_ms: int) -> None:
        with self._lock:
            if self._frozen_ms is not None:
                self._frozen_ms += delta_ms
            else:
                self._offset_ms += delta_ms

    def reset(self) -> None:
        self.set_offset(0)

    def state(self) -> ClockState:
        now = self.now_ms()
        with self._lock:
            return ClockState(
                now_ms=now, offset_ms=self._offset_ms, frozen=self._frozen_ms is not None
            )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ms(epoch_ms: int) -> str:
    """Repzo's timestamp form: ISO 8601 UTC with milliseconds, ``2026-11-29T21:04:45.704Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_time_ms(value: object) -> int | None:
    """ms epoch from an int/float (already ms) or an ISO 8601 string; None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def http_date(epoch_ms: int) -> str:
    return formatdate(epoch_ms / 1000, usegmt=True)
