"""What the stages of one run share: the flow's binding, the run's tally and its fenced
commits. Stages take it instead of reaching into a runner object."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from syncer.config.models import FlowConfig
from syncer.engine.binding import FlowBinding
from syncer.engine.lifecycle import RunLifecycle
from syncer.engine.tally import Counts, Tally


@dataclass(frozen=True, slots=True)
class RunScope:
    binding: FlowBinding
    lifecycle: RunLifecycle
    tally: Tally

    @property
    def flow(self) -> FlowConfig:
        return self.binding.flow

    @property
    def run_id(self) -> str:
        return self.lifecycle.run_id

    @property
    def counts(self) -> Counts:
        return self.tally.counts

    def fenced(self) -> AbstractContextManager[Session]:
        """A transaction that commits only while the run holds the flow's lease."""
        return self.lifecycle.fenced()

    def session(self) -> AbstractContextManager[Session]:
        """A transaction for reads (and writes that need no fence)."""
        return self.binding.store.session()
