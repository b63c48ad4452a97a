"""A JSON-over-HTTP client shared by every HTTP connector (Repzo, the ERP stub, future ERPs).

It owns what must not be written twice: query encoding, the error table, the retry loop,
decoding bodies safely, the server's clock (``Date`` header) and request counters. Connectors
add only what is specific to their API: auth headers, paths, the shape of their pages.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from syncer.logs import get_logger
from syncer.remote.classify import DEFAULT_TABLE, NOT_SENT, Action, ErrorTable, Operation
from syncer.remote.errors import (
    FatalRemoteError,
    MalformedBody,
    RateLimited,
    RemoteError,
    RequestContext,
    RetriableRemoteError,
    SkippableRemoteError,
    UncertainWrite,
)
from syncer.remote.retry import RetryPolicy, Sleep, call_with_retries

log = get_logger(__name__)

QueryValue = str | int | float | bool | None | list[Any] | dict[str, Any]
ErrorParser = Callable[[Any], tuple[str | None, str | None]]
"""Body of an error response -> (remote message, remote code)."""


def encode_query(params: Mapping[str, QueryValue]) -> list[tuple[str, str]]:
    """Query values as Repzo's SDK sends them: None dropped, booleans lowercase, arrays and
    objects as one JSON string each (``sortBy=[{"field":"_id","type":"asc"}]``)."""
    encoded: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            encoded.append((key, "true" if value else "false"))
        elif isinstance(value, list | dict):
            encoded.append((key, json.dumps(value, separators=(",", ":"))))
        else:
            encoded.append((key, str(value)))
    return encoded


def default_error_parser(body: Any) -> tuple[str | None, str | None]:
    """Most APIs (Repzo included) answer errors with ``{message, code}``."""
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body.get("detail")
        code = body.get("code")
        return (
            str(message) if message is not None else None,
            str(code) if code is not None else None,
        )
    return None, None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(slots=True)
class HttpStats:
    """Counters for benchmarks, metrics and tests ("no write requests on a no-change run")."""

    requests: Counter[str] = field(default_factory=Counter)
    """Requests sent, by HTTP method (retries included)."""
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    waited: float = 0.0
    """Seconds spent waiting between attempts."""
    rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class JsonResponse:
    status: int
    body: Any
    headers: httpx.Headers


class JsonHttpClient:
    """Async JSON client with the shared failure handling. One per connector instance."""

    def __init__(
        self,
        *,
        system: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        table: ErrorTable = DEFAULT_TABLE,
        error_parser: ErrorParser = default_error_parser,
        max_connections: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.system = system
        self.retry = retry or RetryPolicy()
        self.table = table
        self.stats = HttpStats()
        self.server_time: datetime | None = None
        """The server's clock at its last answer (from the ``Date`` header)."""
        self._date_header: str | None = None
        self._error_parser = error_parser
        self._sleep = sleep
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"accept": "application/json", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> JsonHttpClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: Operation,
        params: Mapping[str, QueryValue] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        resource: str | None = None,
        record_id: str | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JsonResponse:
        """Send with retries; return the decoded JSON body or raise a typed RemoteError.

        ``idempotent`` defaults to True for everything but POST. A non-idempotent request is
        retried only when it provably never reached the server; otherwise the failure becomes
        :class:`UncertainWrite` for the caller to retry behind a lookup. ``retry`` replaces
        the client's policy for this call (connection checks fail fast).
        """
        safe = method.upper() != "POST" if idempotent is None else idempotent
        context = RequestContext(
            system=self.system,
            method=method.upper(),
            path=path,
            resource=resource,
            record_id=record_id,
        )
        query = encode_query(params or {})

        async def attempt() -> JsonResponse:
            return await self._send_once(
                method, path, query, json_body, operation, safe, context, headers
            )

        def on_retry(error: RemoteError, wait: float, attempt_number: int) -> None:
            self.stats.retries += 1
            self.stats.waited += wait
            if isinstance(error, RateLimited):
                self.stats.rate_limited += 1
            log.info(
                "retrying request",
                attempt=attempt_number,
                wait_seconds=round(wait, 3),
                **error.fields(),
            )

        return await call_with_retries(
            attempt, retry or self.retry, sleep=self._sleep, before_sleep=on_retry
        )

    async def _send_once(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        json_body: Any,
        operation: Operation,
        safe: bool,
        context: RequestContext,
        headers: Mapping[str, str] | None = None,
    ) -> JsonResponse:
        self.stats.requests[method.upper()] += 1
        try:
            response = await self._client.request(
                method, path, params=tuple(query), json=json_body, headers=headers
            )
            content = response.content  # read fully here: a cut-off body fails in this try
        except httpx.HTTPError as error:
            raise self._transport_failure(error, safe, context) from error
        self.stats.statuses[response.status_code] += 1
        self._note_server_time(response)
        body = _decode(content, response)
        resolution = self.table.for_status(response.status_code, operation)
        if resolution is None:
            if isinstance(body, _Undecodable):
                raise MalformedBody(
                    f"{self.system} sent a body that is not valid JSON ({body.reason})",
                    **RequestContext(**context, status=response.status_code),
                )
            return JsonResponse(response.status_code, body, response.headers)
        remote_message, code = self._error_parser(None if isinstance(body, _Undecodable) else body)
        details = RequestContext(
            **context, status=response.status_code, code=code, remote_message=remote_message
        )
        sentence = resolution.sentence.format(system=self.system)
        if remote_message:
            sentence += f": {remote_message}"
        match resolution.action:
            case Action.RATE_LIMITED:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise RateLimited(sentence, retry_after=retry_after, **details)
            case Action.RETRY if safe:
                raise RetriableRemoteError(sentence, **details)
            case Action.RETRY:
                raise UncertainWrite(
                    f"{sentence}; the write may or may not have been applied", **details
                )
            case Action.SKIP_RECORD:
                raise SkippableRemoteError(sentence, **details)
            case _:
                raise FatalRemoteError(sentence, **details)

    def _transport_failure(
        self, error: httpx.HTTPError, safe: bool, context: RequestContext
    ) -> RemoteError:
        resolution = self.table.for_exception(error)
        sentence = f"{resolution.sentence.format(system=self.system)} ({type(error).__name__})"
        if resolution.action is Action.FAIL_RUN:
            return FatalRemoteError(sentence, **context)
        if safe or isinstance(error, NOT_SENT):
            return RetriableRemoteError(sentence, **context)
        return UncertainWrite(f"{sentence}; the write may or may not have been applied", **context)

    def _note_server_time(self, response: httpx.Response) -> None:
        header = response.headers.get("date")
        if not header or header == self._date_header:
            return  # a Date header has 1 s resolution: most answers repeat the last one
        self._date_header = header
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        self.server_time = when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Undecodable:
    reason: str


def _decode(content: bytes, response: httpx.Response) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != len(content):
            return _Undecodable(f"cut short: {len(content)} of {declared} bytes")
        return _Undecodable(f"{type(error).__name__} at byte {getattr(error, 'pos', '?')}")
