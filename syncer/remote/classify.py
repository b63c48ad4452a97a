"""What to do about a failed request: one table, read by the one retry loop.

A response status or a transport exception resolves to an :class:`Action` and a sentence the
user reads. Connectors start from :data:`DEFAULT_TABLE` and override single entries
(:meth:`ErrorTable.override`) instead of writing if-chains. Classifying never waits or logs:
waiting is the retry loop's business, so this module is testable without time.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

import httpx

Operation = Literal["list", "get", "write"]
"""``list`` reads a collection, ``get`` reads one record, ``write`` changes one."""


class Action(StrEnum):
    RETRY = "retry"
    """Transient: the same request may work later."""
    RATE_LIMITED = "rate_limited"
    """Slow down as told (Retry-After), then retry."""
    UNREACHABLE = "unreachable"
    """No connection at all: nothing was sent, so any request may be retried, but only for
    ``max_connect_wait``. A system that does not even accept connections is rarely back within
    the minutes a 503 may need, and a user waiting on a wrong URL wants to hear it soon."""
    SKIP_RECORD = "skip_record"
    """This record is refused: dead-letter it and go on with the others."""
    FAIL_RUN = "fail_run"
    """Nothing will work until a person fixes something: stop the flow, keep the checkpoint."""

    @property
    def retried(self) -> bool:
        """Whether the request is sent again. An answer that is not retried settles its request,
        which is what counts as progress for a run (a 429 or 5xx storm does not)."""
        return self in (Action.RETRY, Action.RATE_LIMITED, Action.UNREACHABLE)


@dataclass(frozen=True, slots=True)
class Resolution:
    action: Action
    sentence: str
    """What happened, for the user. ``{system}`` is replaced by the connector's name and
    ``{url}`` by the request's URL (base URL and path: no credentials, no query string)."""


StatusKey = int | tuple[int, Operation]


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """Status and exception -> resolution. Lookups go from the most specific entry (status and
    operation) to the status, then to the status class (4xx, 5xx)."""

    statuses: Mapping[StatusKey, Resolution]
    exceptions: tuple[tuple[type[BaseException], Resolution], ...]
    """Checked in order: list subclasses before their bases."""
    client_error: Resolution
    server_error: Resolution
    unknown_exception: Resolution = field(
        default=Resolution(Action.FAIL_RUN, "the request to {system} failed unexpectedly")
    )
    causes: tuple[tuple[type[BaseException], Resolution], ...] = ()
    """Checked first, against every exception in the chain: what httpx wraps (a failed TLS
    certificate check arrives as a ConnectError) can decide alone."""

    def for_status(self, status: int, operation: Operation) -> Resolution | None:
        """None for a success (2xx/3xx)."""
        if status < 400:
            return None
        found = self.statuses.get((status, operation)) or self.statuses.get(status)
        if found is not None:
            return found
        return self.server_error if status >= 500 else self.client_error

    def for_exception(self, error: BaseException) -> Resolution:
        chain = list(_chain(error))
        for kind, resolution in self.causes:
            if any(isinstance(link, kind) for link in chain):
                return resolution
        for kind, resolution in self.exceptions:
            if isinstance(error, kind):
                return resolution
        return self.unknown_exception

    def override(self, statuses: Mapping[StatusKey, Resolution]) -> ErrorTable:
        """A copy with some status entries replaced or added."""
        return replace(self, statuses={**self.statuses, **statuses})


_RETRY_SERVER = Resolution(Action.RETRY, "{system} had a temporary server error")
_UNREACHABLE = Resolution(Action.UNREACHABLE, "cannot connect to {system} at {url}")

DEFAULT_TABLE = ErrorTable(
    statuses={
        400: Resolution(Action.SKIP_RECORD, "{system} rejected the record as invalid"),
        401: Resolution(
            Action.FAIL_RUN,
            "{system} refused the credentials (401): check the API key or password in the "
            "configuration",
        ),
        403: Resolution(
            Action.FAIL_RUN,
            "{system} denied access (403): the credentials lack permission for this resource",
        ),
        (404, "list"): Resolution(
            Action.FAIL_RUN,
            "{system} has no such collection at this URL (404): check base_url and the stream",
        ),
        404: Resolution(Action.SKIP_RECORD, "the record does not exist in {system} (404)"),
        405: Resolution(
            Action.FAIL_RUN, "{system} does not allow this operation (405): check base_url"
        ),
        408: Resolution(Action.RETRY, "{system} timed out reading the request (408)"),
        409: Resolution(Action.SKIP_RECORD, "{system} reported a conflict with this record (409)"),
        413: Resolution(Action.SKIP_RECORD, "the record is too large for {system} (413)"),
        422: Resolution(Action.SKIP_RECORD, "{system} rejected the record as invalid (422)"),
        423: Resolution(Action.RETRY, "the record is locked in {system} (423)"),
        425: Resolution(Action.RETRY, "{system} asked to retry later (425)"),
        429: Resolution(Action.RATE_LIMITED, "{system} is rate limiting requests (429)"),
        500: _RETRY_SERVER,
        502: Resolution(Action.RETRY, "a gateway in front of {system} failed (502)"),
        503: Resolution(Action.RETRY, "{system} is temporarily unavailable (503)"),
        504: Resolution(Action.RETRY, "a gateway in front of {system} timed out (504)"),
    },
    exceptions=(
        # Refused, unknown host (DNS), TLS handshake and connect timeout: no connection.
        (httpx.ConnectTimeout, _UNREACHABLE),
        (httpx.ConnectError, _UNREACHABLE),
        (httpx.TimeoutException, Resolution(Action.RETRY, "{system} did not answer in time")),
        (
            httpx.RemoteProtocolError,
            Resolution(Action.RETRY, "{system} dropped the connection mid-response"),
        ),
        (httpx.ReadError, Resolution(Action.RETRY, "reading the answer from {system} failed")),
        (
            httpx.DecodingError,
            Resolution(
                Action.FAIL_RUN,
                "the answer of {system} at {url} does not decode as its Content-Encoding header "
                "says (gzip, deflate, br...): a misconfigured server or proxy in front of it, "
                "which sending the request again would not change",
            ),
        ),
        (httpx.WriteError, Resolution(Action.RETRY, "sending the request to {system} failed")),
        (
            httpx.UnsupportedProtocol,
            Resolution(Action.FAIL_RUN, "the URL of {system} is not http:// or https://"),
        ),
        (httpx.InvalidURL, Resolution(Action.FAIL_RUN, "the URL of {system} is not valid")),
    ),
    client_error=Resolution(Action.SKIP_RECORD, "{system} refused the request"),
    server_error=_RETRY_SERVER,
    causes=(
        # A certificate problem does not go away by itself: say so at once, retry nothing.
        (
            ssl.SSLCertVerificationError,
            Resolution(
                Action.FAIL_RUN,
                "the TLS certificate of {system} at {url} is not trusted (a certificate "
                "problem, not an outage): check the URL, or the certificate the server "
                "presents",
            ),
        ),
        (
            ssl.SSLError,
            Resolution(
                Action.FAIL_RUN,
                "the TLS handshake with {system} at {url} failed (a certificate or protocol "
                "problem, not an outage): check the URL and whether it speaks https",
            ),
        ),
    ),
)

NOT_SENT: tuple[type[BaseException], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
"""Failures that prove the request never reached the server: safe to retry any write."""

CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "unknown host"),
    (ssl.SSLCertVerificationError, "its TLS certificate is not trusted"),
    (ssl.SSLError, "TLS handshake failed"),
    (httpx.ConnectTimeout, "connection timed out"),
    (TimeoutError, "connection timed out"),
    (ConnectionResetError, "connection reset"),
)
"""Why a connection failed, in the user's words: the first entry that matches any exception
in the chain wins (httpx wraps httpcore, which wraps the socket's own error)."""


def cause_of(error: BaseException) -> str:
    """A few words on why ``error`` happened, from :data:`CAUSES`; else the operating system's
    own words, else the exception's type. Never the exception's free text, which could quote a
    URL with credentials."""
    chain = list(_chain(error))
    for kind, text in CAUSES:
        if any(isinstance(link, kind) for link in chain):
            return text
    for link in reversed(chain):
        if isinstance(link, OSError) and link.strerror:
            return link.strerror.lower()
    return type(error).__name__


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__
