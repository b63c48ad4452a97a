"""Repzo's integration logs of a run, kept as a run observer: a command log per flow run, an
action log per document pushed to another system on Repzo's behalf.

Written through the state store's outbox: a Repzo outage delays them, never fails or loses
them (Repzo's own SDK swallows such errors; we keep and retry)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.repzo.integration_logs import ActionLog, AppIdentity, CommandLog
from syncer.engine import outbox
from syncer.logs import get_logger
from syncer.observe import FailedRecord, InterruptedRun, RecordOutcome, RunDescription
from syncer.remote.errors import RemoteError
from syncer.remote.retry import RetryPolicy

if TYPE_CHECKING:
    from connectors.repzo.connector import RepzoConnector

log = get_logger(__name__)

LOG_RETRY = RetryPolicy(max_attempts=2, initial_wait=0.5, max_total_wait=3.0)
"""A log is never worth holding a sync up for: fail fast, the outbox retries later."""
DOCUMENT_ACTIONS = {
    "invoice": "create_invoice",
    "payment": "create_payment",
    "credit_note": "create_return_invoice",
}
FAILED_SHOWN = 100
"""Failed records a command log lists (it counts them all)."""


class IntegrationLogObserver:
    """The integration logs of one run, in the Repzo account of ``connector``."""

    def __init__(self, connector: RepzoConnector, run: RunDescription) -> None:
        self.connector = connector
        self.run = run
        self.sync_id: str | None = run.run_id
        self.command: CommandLog | None = None
        self.failed: list[dict[str, Any]] = []

    async def run_started(self, interrupted: Sequence[InterruptedRun]) -> None:
        identity = await self.connector.app_identity()
        assert self.sync_id is not None
        flow = self.run.flow
        self.command = CommandLog(identity, flow.name, sync_id=self.sync_id, trigger="syncer")
        self.command.set_status("processing")
        source, target = flow.source, flow.target
        self.command.add_detail(
            f"syncing {source.connector}.{source.stream} -> {target.connector}.{target.stream}"
        )
        self._enqueue("command", self.sync_id, self.command.document())
        self._interrupted(identity, interrupted)
        await self._deliver()

    def _interrupted(self, identity: AppIdentity, runs: Sequence[InterruptedRun]) -> None:
        """Close in Repzo the command logs of runs whose process died (kill -9, a power cut):
        left ``processing`` they would read as runs still going, and a run that died before
        its first log would have none. Queued behind whatever of theirs still waits."""
        for run in runs:
            if not run.sync_id:
                continue
            command = CommandLog(
                identity,
                self.run.flow.name,
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

    async def page_committed(
        self, counts: Mapping[str, int], records: Sequence[RecordOutcome]
    ) -> None:
        await self._documents(records)
        await self._deliver()

    async def record_failed(self, failed: FailedRecord) -> None:
        if len(self.failed) < FAILED_SHOWN:
            self.failed.append(
                {"record": failed.key, "field": failed.field, "error": failed.reason}
            )

    async def run_finished(self, status: str, counts: Mapping[str, int], error: str | None) -> None:
        if self.command is None or self.sync_id is None:
            return
        self.command.body = dict(counts)
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
            self.command.set_status("success", self.failed or None)
        self._enqueue("command", self.sync_id, self.command.document())
        await self._deliver()

    async def _documents(self, records: Sequence[RecordOutcome]) -> None:
        """An action log per document created in another system from Repzo."""
        if self.run.role != "source":
            return
        action = DOCUMENT_ACTIONS.get(self.run.entity)
        if action is None:
            return
        target = self.run.flow.target.connector
        identity = None
        for record in records:
            if record.outcome not in ("created", "failed"):
                continue
            identity = identity or await self.connector.app_identity()
            entry = ActionLog(identity, action, sync_id=f"{self.sync_id}:{record.key}")
            entry.add_detail(f"{self.run.entity} {record.number} -> {target}")
            if record.outcome == "created":
                entry.add_detail(f"{target} created it as {record.target_id}")
                entry.set_status("success")
            else:
                message = record.error or "refused"
                entry.add_detail(f"{target} refused it: {message}")
                entry.set_status("fail", {"message": message})
            entry.body = {"_id": record.key, "number": record.number, "target_id": record.target_id}
            self._enqueue("action", entry.sync_id, entry.document())

    def _enqueue(self, kind: str, sync_id: str, document: dict[str, Any]) -> None:
        with self.run.store.session() as session:
            outbox.enqueue(session, self.run.connector, kind, sync_id, document)

    async def _deliver(self) -> None:
        client = self.connector.client

        async def send(kind: str, document: dict[str, Any]) -> Any:
            return await client.save_log(kind, document, retry=LOG_RETRY)

        try:
            await outbox.deliver(self.run.store, {self.run.connector: send})
        except RemoteError as error:  # never let logging fail a sync
            log.warning("integration logs wait in the outbox", error=error.message)
