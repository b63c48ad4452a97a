"""What a run tells those who watch it: the ``RunObserver`` protocol and its events.

The engine reports a run's life (started, each page committed with its counts, each record
that failed, finished) to observers and knows nothing of what they do with it. Repzo's
integration command and action logs are one observer, provided by the Repzo connector; metrics
and progress bars are others. An observer's trouble never fails a sync: it keeps what it
cannot deliver and tries again (the Repzo logs go through the state store's outbox)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from syncer.config.models import FlowConfig
    from syncer.state.store import StateStore


@dataclass(frozen=True, slots=True)
class RunDescription:
    """A run about to start, as a connector sees it when asked for an observer."""

    run_id: str
    flow: FlowConfig
    entity: str
    """The canonical entity the flow carries (``invoice``, ``customer``)."""
    connector: str
    """The name (in the configuration) of the connector asked."""
    role: Literal["source", "target"]
    store: StateStore
    """Where an observer keeps what it could not deliver yet."""


@dataclass(frozen=True, slots=True)
class InterruptedRun:
    """An earlier run of the flow whose process died; this run closes it once its observers
    have recorded that."""

    run_id: str
    sync_id: str | None
    started_at: datetime


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """One record a page wrote to the target, or tried to."""

    key: str
    """The source's id of the record."""
    number: str
    """Its document number where it has one (``INV-1017``), else its key."""
    outcome: str
    """``created``, ``updated``, ``deleted``, ``unchanged`` or ``failed``."""
    target_id: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """A record the run parked as a dead letter."""

    key: str
    reason: str
    field: str | None


@runtime_checkable
class RunObserver(Protocol):
    sync_id: str | None
    """The id of the observer's own record of the run (Repzo's ``sync_id``), stored with the
    run so that a later run can close it if this one's process dies; None if it keeps none."""

    async def run_started(self, interrupted: Sequence[InterruptedRun]) -> None: ...

    async def page_committed(
        self, counts: Mapping[str, int], records: Sequence[RecordOutcome]
    ) -> None:
        """A batch of records is durable in the target and in the state store."""
        ...

    async def record_failed(self, failed: FailedRecord) -> None: ...

    async def run_finished(self, status: str, counts: Mapping[str, int], error: str | None) -> None:
        """``status`` is the run's: succeeded, partial, failed or stopped."""
        ...


class Observers:
    """Several observers as one, called in order."""

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        self.observers = list(observers)

    @property
    def sync_id(self) -> str | None:
        return next((o.sync_id for o in self.observers if o.sync_id is not None), None)

    async def run_started(self, interrupted: Sequence[InterruptedRun]) -> None:
        for observer in self.observers:
            await observer.run_started(interrupted)

    async def page_committed(
        self, counts: Mapping[str, int], records: Sequence[RecordOutcome]
    ) -> None:
        for observer in self.observers:
            await observer.page_committed(counts, records)

    async def record_failed(self, failed: FailedRecord) -> None:
        for observer in self.observers:
            await observer.record_failed(failed)

    async def run_finished(self, status: str, counts: Mapping[str, int], error: str | None) -> None:
        for observer in self.observers:
            await observer.run_finished(status, counts, error)
