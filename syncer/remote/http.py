"""A JSON-over-HTTP client shared by every HTTP connector (Repzo, the ERP stub, future ERPs).

It owns what must not be written twice: query encoding, the error table, the retry loop (with
the current flow run's retry budget for this system, see :mod:`syncer.remote.budget`), decoding
bodies safely, the server's clock (``Date`` header) and request counters. Connectors add only
what is specific to their API: auth headers, paths, the shape of their pages.
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

from syncer.logs import get_logger, redact_url
from syncer.remote.budget import current_run, note_progress
from syncer.remote.classify import (
    DEFAULT_TABLE,
    NOT_SENT,
    Action,
    ErrorTable,
    Operation,
    cause_of,
)
from syncer.remote.errors import (
    FatalRemoteError,
    MalformedBody,
    RateLimited,
    RequestContext,
    RetriableRemoteError,
    SkippableRemoteError,
    UncertainWrite,
    Unreachable,
)
from syncer.remote.retry import RetryNotice, RetryPolicy, Sleep, call_with_retries

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


def display_url(base_url: str) -> str:
    """A base URL as users may see it: without credentials, query string or fragment, and
    with any configured secret in its path masked."""
    url = httpx.URL(base_url).copy_with(userinfo=b"", query=None, fragment=None)
    return redact_url(str(url).rstrip("/"))


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
        self.base_url = display_url(base_url)
        """The base URL for messages and logs (never with credentials)."""
        self.table = table
        self.stats = HttpStats()
        self.server_time: datetime | None = None
        """The server's clock at its last answer (from the ``Date`` header)."""
        self._date_header: str | None = None
        self._error_parser = error_parser
        self._sleep = sleep
        self._http: httpx.AsyncClient | None = None
        self._closed = False
        default_headers = {"accept": "application/json", **(headers or {})}
        # One connection attempt may not outlast the time the system may stay unreachable.
        timeouts = httpx.Timeout(timeout, connect=min(timeout, self.retry.max_connect_wait))
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )

        def make_client() -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=base_url,
                headers=default_headers,
                auth=auth,
                timeout=timeouts,
                limits=limits,
                transport=transport,
            )

        self._make_client = make_client

    @property
    def _client(self) -> httpx.AsyncClient:
        """httpx's client, made at the first request: making one loads the CA certificates
        (tens of milliseconds), which commands that build connectors without contacting them
        (``syncer check --offline``) never need."""
        if self._http is None:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            self._http = self._make_client()
        return self._http

    async def aclose(self) -> None:
        self._closed = True
        if self._http is not None:
            await self._http.aclose()

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
        the client's policy for this call (connection checks fail fast). Inside a flow run, the
        run's budget for this system bounds the waiting too, and once the run has given up on
        the system the request is not sent at all.
        """
        safe = method.upper() != "POST" if idempotent is None else idempotent
        context = RequestContext(
            system=self.system,
            method=method.upper(),
            path=path,
            url=self.url(path),
            resource=resource,
            record_id=record_id,
        )
        query = encode_query(params or {})
        run = current_run()
        # The run's budget takes the limits of the connector's own policy: a per-call override
        # (a log that must not hold the sync up) narrows its own call, not the run's budget.
        budget = (
            run.budget(
                self.system,
                max_wait=self.retry.max_total_wait,
                max_connect_wait=self.retry.max_connect_wait,
            )
            if run is not None
            else None
        )
        if budget is not None:
            budget.refuse(context)

        async def attempt() -> JsonResponse:
            return await self._send_once(
                method, path, query, json_body, operation, safe, context, headers
            )

        def on_retry(notice: RetryNotice) -> None:
            error = notice.error
            self.stats.retries += 1
            self.stats.waited += notice.wait
            if isinstance(error, RateLimited):
                self.stats.rate_limited += 1
            fields = error.fields()
            details: dict[str, object] = {
                "reason": fields.pop("error"),
                "attempt": notice.attempt,
                "wait_seconds": round(notice.wait, 3),
                "budget_left": round(notice.budget_left, 1),
            }
            if notice.connect_left is not None:
                details["connect_left"] = round(notice.connect_left, 1)
            # A warning: waits add up to minutes a person may be wondering about.
            log.warning("retrying request", **details, **fields)

        return await call_with_retries(
            attempt,
            retry or self.retry,
            sleep=self._sleep,
            before_sleep=on_retry,
            budget=budget,
        )

    def url(self, path: str) -> str:
        """Where a request to ``path`` goes, fit for messages: base URL and path, no query."""
        return f"{self.base_url}/{path.lstrip('/')}"

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
        if 300 <= response.status_code < 400:
            raise FatalRemoteError(
                f"{self.system} answered {context.get('method', method)} "
                f"{context.get('url', path)} with a redirect ({response.status_code}) to "
                f"{_redirect_target(response)}: syncer does not follow redirects, which would "
                "carry the credentials to another address; set base_url to the address the "
                "API answers at",
                **RequestContext(**context, status=response.status_code),
            )
        body = _decode(content, response)
        resolution = self.table.for_status(response.status_code, operation)
        if resolution is None:
            if isinstance(body, _Undecodable) and body.final:
                # A whole web page, or JSON no parser takes, is no hiccup: retrying would fetch
                # the same again.
                hint = (
                    "is base_url the address of the API itself, not of its website or a login page?"
                    if body.page
                    else "it is not something syncer can read"
                )
                what = "a web page" if body.page else "JSON syncer cannot read"
                raise FatalRemoteError(
                    f"{self.system} answered with {what} ({body.reason}): {hint}",
                    **RequestContext(**context, status=response.status_code),
                )
            if isinstance(body, _Undecodable):
                unreadable = f"{self.system} sent a body that is not valid JSON ({body.reason})"
                details = RequestContext(**context, status=response.status_code)
                if not safe:
                    # The server took the write (a 2xx) and its answer was lost on the way:
                    # sending it again would make the record twice.
                    raise UncertainWrite(
                        f"{unreadable}; the write may or may not have been applied", **details
                    )
                raise MalformedBody(unreadable, **details)
            note_progress()
            return JsonResponse(response.status_code, body, response.headers)
        if not resolution.action.retried:
            note_progress()  # a refusal settles the request: the run moves on
        remote_message, code = self._error_parser(None if isinstance(body, _Undecodable) else body)
        details = RequestContext(
            **context, status=response.status_code, code=code, remote_message=remote_message
        )
        sentence = resolution.sentence.format(system=self.system, url=context.get("url", ""))
        if remote_message:
            sentence += f": {remote_message}"
        match resolution.action:
            case Action.RATE_LIMITED:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise RateLimited(sentence, retry_after=retry_after, **details)
            # An answer is never "unreachable": a table that says so for a status means retry.
            case Action.RETRY | Action.UNREACHABLE if safe:
                raise RetriableRemoteError(sentence, **details)
            case Action.RETRY | Action.UNREACHABLE:
                raise UncertainWrite(
                    f"{sentence}; the write may or may not have been applied", **details
                )
            case Action.SKIP_RECORD:
                raise SkippableRemoteError(sentence, **details)
            case _:
                raise FatalRemoteError(sentence, **details)

    def _transport_failure(
        self, error: httpx.HTTPError, safe: bool, context: RequestContext
    ) -> RetriableRemoteError | FatalRemoteError:
        resolution = self.table.for_exception(error)
        sentence = resolution.sentence.format(system=self.system, url=context.get("url", ""))
        match resolution.action:
            case Action.FAIL_RUN:
                return FatalRemoteError(f"{sentence} ({cause_of(error)})", **context)
            case Action.UNREACHABLE if safe or isinstance(error, NOT_SENT):
                cause = cause_of(error)
                return Unreachable(f"{sentence} ({cause})", cause=cause, **context)
        sentence = f"{sentence} ({type(error).__name__})"
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


def _redirect_target(response: httpx.Response) -> str:
    """Where a redirect points, fit for a message: without credentials or query string."""
    location = response.headers.get("location")
    if not location:
        return "nowhere (it has no Location header)"
    try:
        target = response.url.join(location)
        return redact_url(str(target.copy_with(userinfo=b"", query=None, fragment=None)))
    except (httpx.InvalidURL, ValueError):
        return "an address that is not a valid URL"


@dataclass(frozen=True, slots=True)
class _Undecodable:
    reason: str
    final: bool = False
    """Complete, and no retry would read it: an HTML page, or JSON no parser takes."""
    page: bool = False
    """The whole body is an HTML page (a website, a proxy's or a login page)."""


def _decode(content: bytes, response: httpx.Response) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != len(content):
            return _Undecodable(f"cut short: {len(content)} of {declared} bytes")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("text/html", "application/xhtml+xml") or content.lstrip()[:1] == b"<":
            return _Undecodable(f"{kind or 'markup'}, {len(content)} bytes", final=True, page=True)
        return _Undecodable(f"{type(error).__name__} at byte {getattr(error, 'pos', '?')}")
    except ValueError as error:
        # json refuses integers of more than 4300 digits with a plain ValueError: hostile, and
        # not worth more attempts.
        return _Undecodable(f"{error}", final=True)
