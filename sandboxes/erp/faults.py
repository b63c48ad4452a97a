"""Writes the ERP applies but whose answer the client never gets: what leaves a client unsure
whether its write happened, the case a client must never settle by posting again blindly.

- **Held:** writes to an entity are applied, then their answers wait until released (or the stub
  stops). A client killed meanwhile leaves records the ERP has and the client never heard of,
  deterministically: nothing it could commit after the answer has happened yet.
- **Dropped:** the next N writes to an entity are applied, then their connection is closed without
  an answer, as a cut network or a proxy timing out would.

Only successful writes (POST, PATCH, DELETE answered 2xx) are affected; reads never are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

Fate = Literal["answer", "drop"]


@dataclass(frozen=True)
class FaultState:
    holding: tuple[str, ...]
    """Entities whose write answers are being held."""
    held: int
    """Answers waiting right now."""
    dropping: dict[str, int]
    """Entity -> answers still to drop."""


class AnswerFaults:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holding: set[str] = set()
        self._held = 0
        self._dropping: dict[str, int] = {}

    def hold(self, entity: str) -> None:
        with self._changed:
            self._holding.add(entity)

    def drop(self, entity: str, count: int = 1) -> None:
        with self._changed:
            self._dropping[entity] = self._dropping.get(entity, 0) + count

    def release(self) -> None:
        """Send every held answer and stop holding or dropping anything."""
        with self._changed:
            self._holding.clear()
            self._dropping.clear()
            self._changed.notify_all()

    def state(self) -> FaultState:
        with self._changed:
            return FaultState(
                tuple(sorted(self._holding)),
                self._held,
                {name: left for name, left in self._dropping.items() if left},
            )

    def after_write(self, entity: str) -> Fate:
        """Called once a write to ``entity`` is applied, before it is answered; blocks while
        that entity's answers are held."""
        with self._changed:
            left = self._dropping.get(entity, 0)
            if left:
                self._dropping[entity] = left - 1
                return "drop"
            if entity in self._holding:
                self._held += 1
                try:
                    self._changed.wait_for(lambda: entity not in self._holding)
                finally:
                    self._held -= 1
            return "answer"
