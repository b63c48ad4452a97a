"""The engine's entry points: run flows now, retry dead letters, resolve conflicts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from syncer.config.models import SyncerConfig
from syncer.engine import idmap
from syncer.engine.context import EngineContext, require_flow
from syncer.engine.runner import FlowRun
from syncer.engine.tally import RunResult
from syncer.observe import RunObserver
from syncer.state.store import StateStore


class Engine:
    """One configuration and its state store; close it with :meth:`aclose`."""

    def __init__(
        self, config: SyncerConfig, store: StateStore, observers: Sequence[RunObserver] = ()
    ) -> None:
        self.config = config
        self.store = store
        self.context = EngineContext(config, store)
        self.observers = list(observers)
        """Told what every run does, besides what the connectors observe themselves."""

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.context.aclose()

    def flow_run(
        self,
        name: str,
        stop: asyncio.Event | None = None,
        *,
        full: bool = False,
        allow_mass_delete: bool = False,
    ) -> FlowRun:
        flow = require_flow(self.config, name, self.config.source or "configuration")
        return FlowRun(
            self.context,
            flow,
            stop=stop,
            full=full,
            allow_mass_delete=allow_mass_delete,
            observers=self.observers,
        )

    async def retry_dead_letters(self, name: str) -> RunResult:
        """Run every pending dead letter of the flow through it again now, whatever their
        backoff says, as a run of its own under the flow's lease."""
        flow = require_flow(self.config, name, self.config.source or "configuration")
        run = FlowRun(self.context, flow, job="retry", observers=self.observers)
        return await run.execute()

    async def sync(
        self,
        names: Sequence[str],
        stop: asyncio.Event | None = None,
        *,
        full: bool = False,
        allow_mass_delete: bool = False,
    ) -> list[RunResult]:
        """Run the named flows once each, dependencies first (taxes before products, customers
        before invoices). A flow that fails does not stop the others. ``full`` reads each
        source whole whatever its cursor says; ``allow_mass_delete`` lets mirror mode disable
        more than its ``max_delete`` in this run."""
        for name in names:
            require_flow(self.config, name, self.config.source or "configuration")
        results = []
        for name in self.context.order(list(names)):
            if stop is not None and stop.is_set():
                break
            run = self.flow_run(name, stop, full=full, allow_mass_delete=allow_mass_delete)
            results.append(await run.execute())
        return results + await self._settle_pairs(results, stop)

    async def _settle_pairs(
        self, results: list[RunResult], stop: asyncio.Event | None
    ) -> list[RunResult]:
        """The first half of a pair ran before the second wrote to its source: it reads back
        what the second half wrote (see :mod:`syncer.engine.settle`), so that one
        ``syncer sync`` leaves the pair settled. Nothing to read back, nothing runs."""
        done = {result.flow: index for index, result in enumerate(results)}
        settled = []
        for result in results:
            if stop is not None and stop.is_set():
                break
            flow = self.config.flow(result.flow)
            pair = self.context.pair_of(flow)
            if (
                pair is None
                or result.status in ("failed", "busy")
                or done.get(pair.reverse, -1) < done[result.flow]
            ):
                continue
            with self.store.session() as session:
                pending = idmap.any_written_by(
                    session,
                    self.context.binding(flow.name).source.entity,
                    flow.source.connector,
                    flow.source.stream,
                    pair.reverse,
                )
            if pending:
                run = FlowRun(
                    self.context, flow, stop=stop, job="read_back", observers=self.observers
                )
                settled.append(await run.execute())
        return settled
