"""Logging: structlog over the standard library, human-readable on a terminal, JSON otherwise.

Context such as the flow, run id, connector and stream is bound once with :func:`log_context`
and carried by every line logged inside it, including lines from libraries (httpx, Alembic,
APScheduler), which go through the same processors. The last processor before rendering masks
secrets: every configured secret value wherever it appears, values under sensitive keys
(``api-key``, ``authorization``, ``password``...), credentials in header-like text and
passwords inside URLs.

The same :data:`redactor` is the one redaction step for everything else that leaves syncer:
the terminal (:mod:`syncer.cli.common`), the state store (:mod:`syncer.state.models`), and
through it Repzo's integration logs and dead letters. Loading a configuration registers its
secrets here (:func:`register_secrets`), so no caller has to know them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO
from urllib.parse import quote, quote_plus

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

MASK = "***"
LogFormat = Literal["auto", "json", "console"]

_SENSITIVE_KEY = re.compile(
    r"^(x[-_])?(api[-_]?key|authorization|proxy[-_]authorization|(ssl)?password|passwd|secret|"
    r"client[-_]secret|token|access[-_]token|refresh[-_]token|cookie|set[-_]cookie)$",
    re.IGNORECASE,
)
# `api-key: abc`, `Authorization: Bearer abc`, `password=abc`, `"token": "abc"`, `?api_key=abc&`.
# Not after a dot: `connectors.repzo.api_key: required key is missing` names a key, holds no value.
_CREDENTIAL_IN_TEXT = re.compile(
    r"(?i)(?<![\w.])((?:x-)?api[-_]?key|authorization|(?:ssl)?password|passwd|access_token|"
    r"refresh_token|token)"
    r"([\"']?\s*[:=]\s*[\"']?)((?:bearer|basic)\s+)?"
    r"([^\s\"',;&}\]]+?)(?=[:.)]?(?:[\s\"',;&}\]]|$))"
)
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)(@)")
# Query parameters that carry credentials by name, whatever their value: libpq takes
# `?password=` and `?sslpassword=`, many HTTP APIs `?api_key=` or `?access_token=`.
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:ssl)?(?:password|passwd|pwd)|[?&;](?:client_)?secret|"
    r"[?&;](?:access_|refresh_|auth_)?token|[?&;]api[-_]?key)(=)"
    # A value ends where the URL does; punctuation right after it belongs to the sentence.
    r"([^&#\s\"'<>]*?)(?=[:.,;)]?(?:[&#\s\"'<>]|$))"
)
_MIN_SECRET_LENGTH = 4  # masking "a" or "1" everywhere would wreck every log line


class Redactor:
    """A structlog processor that removes secrets from every value of an event."""

    __slots__ = ("_pattern", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self._secrets: frozenset[str] = frozenset()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Mask exactly these secrets from now on."""
        usable = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
        self._secrets = frozenset(usable)
        # A secret inside a URL is usually percent-encoded there (`p@ss` is `p%40ss`).
        spellings = usable | {quote(s, safe="") for s in usable} | {quote_plus(s) for s in usable}
        ordered = sorted(spellings, key=len, reverse=True)  # the longest spelling wins
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Mask these secrets too, besides those already known."""
        more = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH} - self._secrets
        if more:
            self.set_secrets(self._secrets | more)

    def known(self, value: str) -> str:
        """Mask the configured secrets, URL passwords and credential query parameters inside
        one string."""
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        value = _URL_PASSWORD.sub(rf"\1{MASK}\3", value)
        return _QUERY_SECRET.sub(rf"\1\2{MASK}", value)

    def text(self, value: str) -> str:
        """Also mask whatever follows a credential-like name (``api-key: ...``, ``token=...``):
        log lines may carry headers or bodies that were never configured as secrets."""
        return _CREDENTIAL_IN_TEXT.sub(
            lambda m: f"{m[1]}{m[2]}{m[3] or ''}{MASK}", self.known(value)
        )

    def value(self, value: Any, *, by_key: bool = True) -> Any:
        """Mask secrets inside any value a log event may carry. ``by_key``: also everything
        under a key such as ``password``, whatever its value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {
                key: MASK
                if by_key and isinstance(key, str) and _SENSITIVE_KEY.match(key)
                else self.value(item, by_key=by_key)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(item, by_key=by_key) for item in value]
        rendered = str(value)
        masked = self.text(rendered)
        return masked if masked != rendered else value

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        return {
            key: MASK if _SENSITIVE_KEY.match(key) else self.value(item)
            for key, item in event_dict.items()
        }


redactor = Redactor()
"""The process-wide redactor: the one place that knows the configured secrets. Log lines, the
terminal and the state store all go through it."""


def register_secrets(secrets: Iterable[str]) -> None:
    """Make secrets known to the process-wide redactor, on top of those already known: a
    secret of a configuration loaded earlier in the process may still be in some message."""
    redactor.add_secrets(secrets)


def redact(text: str) -> str:
    """The redaction step for any text leaving syncer (messages, errors, stored reasons): the
    configured secrets, passwords in URLs, credential query parameters and credentials in
    header-like text (``api-key: ...``, ``Authorization: Bearer ...``)."""
    return redactor.text(text)


def redact_value(value: Any, *, by_key: bool = True) -> Any:
    """:func:`redact` for structured data (a report, a log document): strings inside are
    masked, and with ``by_key`` so is everything under a key such as ``password``."""
    return redactor.value(value, by_key=by_key)


def redact_url(url: str) -> str:
    """A URL as it may be shown: the password in its userinfo, credential query parameters
    (``password``, ``sslpassword``, ``api_key``...) and every configured secret masked."""
    return redactor.known(url)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        # Tracebacks become text before redaction, so secrets in exception messages are masked.
        structlog.processors.format_exc_info,
        redactor,
    ]


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library's root logger. Safe to call again.
    ``secrets`` are registered with :func:`register_secrets`; those of a loaded configuration
    already are."""
    out = stream or sys.stderr
    register_secrets(secrets)
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # One line per HTTP request is noise at INFO; it is there at DEBUG.
    for chatty in ("httpx", "httpcore", "apscheduler", "alembic"):
        logging.getLogger(chatty).setLevel(
            logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
        )
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Bind ``flow``, ``run_id``, ``connector``, ``stream``... for every line logged inside."""
    with structlog.contextvars.bound_contextvars(**values):
        yield
