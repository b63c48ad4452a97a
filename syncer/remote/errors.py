"""Failures of remote systems, typed by what the engine should do about them.

    RemoteError                   carries system, operation, resource, record id, status, code
    +-- FatalRemoteError          stop the flow; the checkpoint is kept (auth refused, wrong URL)
    |   +-- RetryBudgetExhausted  retries took longer than the allowed total wait
    |   +-- UnexpectedResponse    the body is not the shape this API answers with
    +-- RetriableRemoteError      transient; retried with backoff (5xx, timeouts, dropped links)
    |   +-- Unreachable           no connection at all (refused, unknown host, connect timeout)
    |   +-- RateLimited           429; carries the server's Retry-After
    |   +-- MalformedBody         the body could not be decoded (truncated or not JSON)
    |   +-- UncertainWrite        a non-idempotent write may or may not have been applied
    +-- SkippableRemoteError      this record is refused (4xx validation); dead-letter it, go on

Every error keeps its inputs as attributes so logs and dead letters can store them as fields;
``message`` is the sentence a user reads.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypedDict, Unpack

from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode


class RequestContext(TypedDict, total=False):
    """Where a remote error happened; every field is optional."""

    system: str
    method: str
    path: str
    url: str
    resource: str | None
    record_id: str | None
    status: int | None
    code: str | None
    remote_message: str | None


class RemoteError(SyncerError):
    """A remote system failed or refused a request."""

    exit_code: ClassVar[ExitCode] = ExitCode.UNREACHABLE

    def __init__(self, message: str, **context: Unpack[RequestContext]) -> None:
        self.system = context.get("system", "")
        """Connector name (or the remote system's name) the request went to."""
        self.method = context.get("method", "")
        self.path = context.get("path", "")
        """Request path without query string (query strings may hold filters with ids only,
        but never credentials; still, paths are what the user needs)."""
        self.url = context.get("url", "")
        """Base URL and path, without credentials or query string: where the request went,
        safe to show and to log."""
        self.resource = context.get("resource")
        self.record_id = context.get("record_id")
        self.status = context.get("status")
        """HTTP status, None when no response arrived."""
        self.code = context.get("code")
        """The remote system's own error code, when its body carries one."""
        self.remote_message = context.get("remote_message")
        """The remote system's own error message, verbatim."""
        super().__init__(message)

    def context(self) -> RequestContext:
        return RequestContext(
            system=self.system,
            method=self.method,
            path=self.path,
            url=self.url,
            resource=self.resource,
            record_id=self.record_id,
            status=self.status,
            code=self.code,
            remote_message=self.remote_message,
        )

    def fields(self) -> dict[str, object]:
        """The error as structured log fields / dead-letter columns (no None values)."""
        values: dict[str, object] = {
            "error": self.message,
            "error_type": type(self).__name__,
            "system": self.system,
            "method": self.method,
            "path": self.path,
            "url": self.url,
            "resource": self.resource,
            "record_id": self.record_id,
            "status": self.status,
            "code": self.code,
            "remote_message": self.remote_message,
        }
        return {key: value for key, value in values.items() if value not in (None, "")}


class FatalRemoteError(RemoteError):
    """The flow cannot go on (credentials refused, the URL is not this API, a bug on the other
    side that retrying will not fix). The run stops; its checkpoint is kept."""


class RunStopping(RemoteError):
    """The run was asked to stop (SIGTERM, Ctrl-C) while a request waited to be retried: the
    wait ends at once and the run stops with its last checkpoint, as a stop does (exit 0)."""

    exit_code: ClassVar[ExitCode] = ExitCode.OK


class UnsupportedQuery(FatalRemoteError):
    """A request would carry a query parameter the remote API does not document for the
    resource (``parameters``), so it is not sent: the server might reject it, ignore it, or
    read it as a filter. A mapping or configuration asks for it; nothing was changed."""

    exit_code: ClassVar[ExitCode] = ExitCode.BAD_CONFIG

    def __init__(
        self, message: str, *, parameters: tuple[str, ...], **context: Unpack[RequestContext]
    ) -> None:
        super().__init__(message, **context)
        self.parameters = parameters


GiveUpReason = Literal[
    "attempts", "max_retry_wait", "run_budget", "max_connect_wait", "already_gave_up"
]
"""Why retrying stopped: the call's attempts ran out, the call's own wait limit, the run's
budget for this system, the system stayed unreachable too long, or the run had already given
up on this system (the request was not sent)."""


class RetryBudgetExhausted(FatalRemoteError):
    """Retrying stopped (``reason`` says which limit was reached): the run stops cleanly."""

    def __init__(
        self,
        message: str,
        *,
        waited: float,
        attempts: int,
        last: RemoteError,
        reason: GiveUpReason = "max_retry_wait",
        context: RequestContext | None = None,
    ) -> None:
        self.waited = waited
        """Seconds this call waited between its attempts."""
        self.attempts = attempts
        """Attempts this call made (0: not sent, the run had given up on the system before)."""
        self.last = last
        """The failure of the last attempt (for ``already_gave_up``: the one the run gave up on)."""
        self.reason: GiveUpReason = reason
        # The context of the request that gave up; by default the last attempt's.
        super().__init__(message, **(context if context is not None else last.context()))


class UnexpectedResponse(FatalRemoteError):
    """The body decoded but is not the shape this API answers with (often: the URL points at
    something else). Carries the start of the body to show the user."""

    def __init__(
        self, message: str, *, body_excerpt: str, **context: Unpack[RequestContext]
    ) -> None:
        self.body_excerpt = body_excerpt
        super().__init__(message, **context)


class RetriableRemoteError(RemoteError):
    """Transient trouble: the same request may succeed later."""


class Unreachable(RetriableRemoteError):
    """No connection could be made (refused, unknown host, connect timeout): nothing reached
    the server, so any request may be sent again, but only for ``max_connect_wait``."""

    def __init__(self, message: str, *, cause: str, **context: Unpack[RequestContext]) -> None:
        self.cause = cause
        """Why, in a few words: ``connection refused``, ``unknown host``, ``connection timed
        out``."""
        super().__init__(message, **context)


class RateLimited(RetriableRemoteError):
    """The server asked us to slow down (429)."""

    def __init__(
        self, message: str, *, retry_after: float | None, **context: Unpack[RequestContext]
    ) -> None:
        self.retry_after = retry_after
        """Seconds the server asked us to wait, when it said."""
        super().__init__(message, **context)


class MalformedBody(RetriableRemoteError):
    """The response body could not be decoded: cut short, or not JSON at all."""


class UncertainWrite(RetriableRemoteError):
    """A create may or may not have reached the server (timeout or dropped connection after the
    request was sent). Retrying blindly could duplicate the record: the caller must first look
    the record up by a key it carries, which is what a guarded retry does."""


class SkippableRemoteError(RemoteError):
    """The remote system refused this record (validation, conflict). Other records can still
    go through: dead-letter this one with the remote message."""

    exit_code: ClassVar[ExitCode] = ExitCode.DEAD_LETTERS
