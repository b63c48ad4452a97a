"""Repzo integration command and action logs, in the shape the official SDK writes.

Not the generic shape of ``integration-*-log-bundled.yaml``: snake_case app fields, the SDK's
status words, times in ms, and ``details`` that differ by kind (a command log sends only its
latest detail, which the server appends; an action log sends the whole list every time). A log
is saved by POSTing the whole document again with the same ``sync_id``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["received", "queued", "processing", "success", "fail", "skipped"]
TERMINAL: dict[str, str] = {"success": "succeededAt", "fail": "failedAt", "skipped": "skippedAt"}
STAMPS: dict[str, str] = {
    "received": "receivedAt",
    "queued": "queuedAt",
    "processing": "processedAt",
}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """Which Repzo integration app a log belongs to (copied from the app record)."""

    app_id: str | None = None
    available_app_id: str | None = None
    available_app_name: str | None = "repzo-sync"
    company_namespace: tuple[str, ...] = ()

    @classmethod
    def from_app(
        cls, app: dict[str, Any], *, app_id: str | None = None, namespace: tuple[str, ...] = ()
    ) -> AppIdentity:
        """From ``GET /integration-app/<id>?populatedKeys=["available_app"]``. ``app_id`` and
        ``namespace`` (the configured ones) stand in for what the answer lacks: a log without
        ``app_id`` is one Repzo refuses."""
        available = app.get("available_app")
        available_id = available.get("_id") if isinstance(available, dict) else available
        name = available.get("name") if isinstance(available, dict) else None
        found = app.get("company_namespace") or []
        return cls(
            app_id=app.get("_id") or app_id,
            available_app_id=available_id,
            available_app_name=name or "repzo-sync",
            company_namespace=tuple(found if isinstance(found, list) else [found]) or namespace,
        )

    def fields(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "available_app_id": self.available_app_id,
            "available_app_name": self.available_app_name,
            "company_namespace": list(self.company_namespace),
        }


@dataclass
class _Log:
    app: AppIdentity
    name: str
    """The command (``customers-erp-to-repzo``) or action (``create_invoice``)."""
    sync_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: Status = "received"
    start_time: int = field(default_factory=now_ms)
    details: list[dict[str, Any]] = field(default_factory=list)
    body: Any = None
    meta: dict[str, Any] | None = None
    error: Any = None
    stamps: dict[str, str] = field(default_factory=dict)

    def add_detail(self, content: str, meta: dict[str, Any] | None = None) -> None:
        detail: dict[str, Any] = {"timestamp": now_ms(), "content": content}
        if meta:
            detail["meta"] = meta
        self.details.append(detail)

    def set_status(self, status: Status, error: Any = None) -> None:
        self.status = status
        if error is not None:
            self.error = error
        # Unlike the SDK, which returns before stamping when an error is given, a failed or
        # finished run always carries its terminal stamp: Repzo's log view sorts by them.
        stamp = TERMINAL.get(status) or STAMPS.get(status)
        if stamp:
            self.stamps[stamp] = (
                datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            )

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def _common(self) -> dict[str, Any]:
        """The fields both of the SDK's ``commit()`` builders send, in their spelling."""
        end = now_ms()
        document: dict[str, Any] = {
            **self.app.fields(),
            "sync_id": self.sync_id,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": end,
            "total_time": end - self.start_time,
            "message": self.details[-1]["content"] if self.details else "",
        }
        # The SDK leaves these out (undefined) until they are set.
        if self.body is not None:
            document["body"] = self.body
        if self.meta is not None:
            document["meta"] = self.meta
        if self.error is not None:
            document["error"] = self.error
        return document


@dataclass
class CommandLog(_Log):
    """One flow run, as Repzo shows integration commands. ``body`` holds the run's counts.

    The document is the SDK's ``CommandLog.commit()``: ``sync_details`` and ``error_details``
    always present (its ``Data`` type requires them), ``retries`` (the SDK starts at 1),
    ``onGoing`` and the status stamps."""

    trigger: str | None = None
    retries: int = 1

    def document(self) -> dict[str, Any]:
        document = self._common()
        end = document["end_time"]
        document["command"] = self.name
        # Only the latest detail: the server appends command-log details to its history.
        document["details"] = self.details[-1:]
        document["retries"] = self.retries
        document["onGoing"] = not self.finished
        document.update(self.stamps)
        if self.trigger:
            document["trigger"] = self.trigger
        document["sync_details"] = (
            [{"timestamp": end, "body": self.body}] if self.body is not None else []
        )
        document["error_details"] = (
            [{"timestamp": end, "error": self.error}] if self.error is not None else []
        )
        return document


@dataclass
class ActionLog(_Log):
    """One document pushed to another system on Repzo's behalf (an invoice into the ERP).

    The document is the SDK's ``ActionLogs.commit()``: no stamps, ``onGoing`` or
    ``*_details`` (its ``Data`` type has none), statuses processing, success or fail only."""

    status: Status = "processing"

    def set_status(self, status: Status, error: Any = None) -> None:
        if status not in ("processing", "success", "fail"):
            raise ValueError(f"an action log cannot be {status!r}")
        super().set_status(status, error)

    def document(self) -> dict[str, Any]:
        document = self._common()
        document["action"] = self.name
        document["details"] = list(self.details)  # the whole list: the server replaces it
        return document
