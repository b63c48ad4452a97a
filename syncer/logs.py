"""Logging: structlog over the standard library, human-readable on a terminal, JSON otherwise.

Context such as the flow, run id, connector and stream is bound once with :func:`log_context`
and carried by every line logged inside it, including lines from libraries (httpx, Alembic,
APScheduler), which go through the same processors. The last processor before rendering masks
secrets: every configured secret value wherever it appears, values under sensitive keys
(``api-key``, ``authorization``, ``password``...), credentials in header-like text and
passwords inside URLs.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

MASK = "***"
LogFormat = Literal["auto", "json", "console"]

_SENSITIVE_KEY = re.compile(
    r"^(x[-_])?(api[-_]?key|authorization|proxy[-_]authorization|password|passwd|secret|"
    r"client[-_]secret|token|access[-_]token|refresh[-_]token|cookie|set[-_]cookie)$",
    re.IGNORECASE,
)
# `api-key: abc`, `Authorization: Bearer abc`, `password=abc`, `"token": "abc"`, `?api_key=abc&`
_CREDENTIAL_IN_TEXT = re.compile(
    r"(?i)\b((?:x-)?api[-_]?key|authorization|password|passwd|access_token|refresh_token|token)"
    r"([\"']?\s*[:=]\s*[\"']?)((?:bearer|basic)\s+)?([^\s\"',;&}\]]+)"
)
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)(@)")
_MIN_SECRET_LENGTH = 4  # masking "a" or "1" everywhere would wreck every log line


class Redactor:
    """A structlog processor that removes secrets from every value of an event."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        usable = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, usable))) if usable else None

    def known(self, value: str) -> str:
        """Mask the configured secrets and URL passwords inside one string."""
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        return _URL_PASSWORD.sub(rf"\1{MASK}\3", value)

    def text(self, value: str) -> str:
        """Also mask whatever follows a credential-like name (``api-key: ...``, ``token=...``):
        log lines may carry headers or bodies that were never configured as secrets."""
        return _CREDENTIAL_IN_TEXT.sub(
            lambda m: f"{m[1]}{m[2]}{m[3] or ''}{MASK}", self.known(value)
        )

    def value(self, value: Any) -> Any:
        """Mask secrets inside any value a log event may carry."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {
                key: MASK
                if isinstance(key, str) and _SENSITIVE_KEY.match(key)
                else self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(item) for item in value]
        rendered = str(value)
        masked = self.text(rendered)
        return masked if masked != rendered else value

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        return {
            key: MASK if _SENSITIVE_KEY.match(key) else self.value(item)
            for key, item in event_dict.items()
        }


redactor = Redactor()
"""The process-wide redactor; :func:`configure_logging` gives it the configured secrets."""


def redact(text: str) -> str:
    """Mask secrets in messages syncer composed itself (CLI errors). The key-name heuristic of
    log lines is not applied: a message naming the key ``api_key`` holds no value to hide."""
    return redactor.known(text)


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
    """Configure structlog and the standard library's root logger. Safe to call again."""
    out = stream or sys.stderr
    redactor.set_secrets(secrets)
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
