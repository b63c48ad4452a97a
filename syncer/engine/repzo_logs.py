"""Repzo integration logs of a run: a command log per flow run, an action log per document
pushed to another system on Repzo's behalf. Written through the outbox: a Repzo outage delays
them, never fails or loses them (Repzo's own SDK swallows such errors; we keep and retry)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from connectors.repzo.logs import ActionLog, AppIdentity, CommandLog
from syncer.engine import outbox
from syncer.logs import get_logger
from syncer.remote.errors import RemoteError
from syncer.remote.retry import RetryPolicy

if TYPE_CHECKING:
    from syncer.config.models import FlowConfig
    from syncer.engine.context import EngineContext
    from syncer.engine.runner import FlowRun
    from syncer.state.models import Run

log = get_logger(__name__)

LOG_RETRY = RetryPolicy(max_attempts=2, initial_wait=0.5, max_total_wait=3.0)
"""A log is never worth holding a sync up for: fail fast, the outbox retries later."""
DOCUMENT_ACTIONS = {
    "invoice": "create_invoice",
    "payment": "create_payment",
    "credit_note": "create_return_invoice",
}


class _Items(Protocol):
    def __iter__(self) -> Any: ...


class RunLogs:
    """The logs of one run, or nothing at all when the flow does not touch Repzo."""

    def __init__(
        self, context: EngineContext, flow: FlowConfig, run_id: str, connector: str | None
    ) -> None:
        self.context = context
        self.flow = flow
        self.connector = connector
        self.sync_id: str | None = run_id if connector else None
        self.command: CommandLog | None = None

    @classmethod
    def for_flow(cls, context: EngineContext, flow: FlowConfig, run_id: str) -> RunLogs:
        """The Repzo side of the flow keeps the logs (the target when both are Repzo). A log
        belongs to an integration app: without ``integration_app`` nothing is written (a log
        with no app is one Repzo shows nowhere), and the run says so once."""
        for name in (flow.target.connector, flow.source.connector):
            settings = context.config.connectors[name]
            if settings.type != "repzo" or not getattr(settings, "write_logs", True):
                continue
            if not getattr(settings, "integration_app", None):
                log.warning(
                    "Repzo integration logs are not written: set "
                    f"connectors.{name}.integration_app to the _id of the integration app "
                    "they belong to, or write_logs: false to silence this",
                    connector=name,
                )
                continue
            return cls(context, flow, run_id, name)
        return cls(context, flow, run_id, None)

    async def _identity(self) -> AppIdentity:
        assert self.connector is not None
        cache: dict[str, AppIdentity] = self.context.__dict__.setdefault("_app_identities", {})
        if self.connector in cache:
            return cache[self.connector]
        settings = self.context.config.connectors[self.connector]
        namespace = getattr(settings, "namespace", None)
        identity = AppIdentity(company_namespace=(namespace,) if namespace else ())
        app_id = getattr(settings, "integration_app", None)
        if app_id:
            connector = self.context.connector(self.connector)
            try:
                app = await connector.client.integration_app(app_id)  # type: ignore[attr-defined]
                identity = AppIdentity.from_app(
                    app or {}, app_id=app_id, namespace=identity.company_namespace
                )
            except RemoteError as error:
                log.warning(
                    "could not read the integration app; logs carry its id only",
                    error=error.message,
                )
                identity = AppIdentity(app_id=app_id, company_namespace=identity.company_namespace)
        cache[self.connector] = identity
        return identity

    def _enqueue(self, kind: str, sync_id: str, document: dict[str, Any]) -> None:
        assert self.connector is not None
        with self.context.store.session() as session:
            outbox.enqueue(session, self.connector, kind, sync_id, document)

    async def started(self) -> None:
        if self.connector is None or self.sync_id is None:
            return
        self.command = CommandLog(
            await self._identity(), self.flow.name, sync_id=self.sync_id, trigger="syncer"
        )
        self.command.set_status("processing")
        source, target = self.flow.source, self.flow.target
        self.command.add_detail(
            f"syncing {source.connector}.{source.stream} -> {target.connector}.{target.stream}"
        )
        self._enqueue("command", self.sync_id, self.command.document())
        await self.deliver()

    async def finished(
        self, status: str, counts: dict[str, int], error: str | None, failed: list[dict[str, Any]]
    ) -> None:
        if self.command is None or self.sync_id is None:
            return
        self.command.body = counts
        summary = ", ".join(f"{name} {value}" for name, value in counts.items())
        if status == "failed":
            self.command.add_detail(f"failed: {error}")
            self.command.set_status("fail", {"message": error})
        elif status == "stopped":
            self.command.add_detail(f"stopped before the end ({summary}); the next run goes on")
            self.command.set_status("skipped")
        else:
            self.command.add_detail(f"done: {summary}")
            # As Repzo's integrations do: success, with the records that failed listed.
            self.command.set_status("success", failed or None)
        self._enqueue("command", self.sync_id, self.command.document())
        await self.deliver()

    async def interrupted(self, runs: Sequence[Run]) -> None:
        """Close in Repzo the command logs of runs whose process died (kill -9, a power cut):
        left ``processing`` they would read as runs still going, and a run that died before
        its first log would have none. Queued behind whatever of theirs still waits."""
        if self.connector is None:
            return
        for run in runs:
            if not run.sync_id:
                continue
            command = CommandLog(
                await self._identity(),
                self.flow.name,
                sync_id=run.sync_id,
                trigger="syncer",
                start_time=int(run.started_at.timestamp() * 1000),
            )
            command.add_detail(
                "interrupted: the process ended without finishing this run; the next run "
                f"({self.sync_id}) went on from its last checkpoint"
            )
            command.set_status("fail", {"message": "interrupted"})
            self._enqueue("command", run.sync_id, command.document())

    async def documents(self, items: _Items, run: FlowRun) -> None:
        """An action log per document created in another system from Repzo."""
        if self.connector is None or self.connector != self.flow.source.connector:
            return
        action = DOCUMENT_ACTIONS.get(run.entity)
        if action is None:
            return
        identity = None
        for item in items:
            result = getattr(item, "result", None)
            if result is None or result.outcome not in ("created", "failed"):
                continue
            identity = identity or await self._identity()
            number = item.values.get("number") or item.native_id
            entry = ActionLog(identity, action, sync_id=f"{self.sync_id}:{item.native_id}")
            entry.add_detail(f"{run.entity} {number} -> {self.flow.target.connector}")
            if result.outcome == "created":
                entry.add_detail(f"{self.flow.target.connector} created it as {result.native_id}")
                entry.set_status("success")
            else:
                message = result.error.message if result.error else "refused"
                entry.add_detail(f"{self.flow.target.connector} refused it: {message}")
                entry.set_status("fail", {"message": message})
            entry.body = {"_id": item.native_id, "number": number, "target_id": result.native_id}
            self._enqueue("action", entry.sync_id, entry.document())

    async def deliver(self) -> None:
        if self.connector is None:
            return
        connector = self.context.connector(self.connector)
        client = connector.client  # type: ignore[attr-defined]

        async def send(kind: str, document: dict[str, Any]) -> Any:
            return await client.save_log(kind, document, retry=LOG_RETRY)

        try:
            await outbox.deliver(self.context.store, {self.connector: send})
        except RemoteError as error:  # never let logging fail a sync
            log.warning("integration logs wait in the outbox", error=error.message)
