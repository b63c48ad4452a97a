"""Reusable field types for configuration models."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_EXAMPLES = "a duration such as 30s, 5m, 1h30m or 2d (a bare number means seconds)"


def parse_duration(value: Any) -> timedelta:
    """Accept ``90``, ``"90s"``, ``"1h30m"``, ``"500ms"`` or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected {_DURATION_EXAMPLES}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("expected a duration that is not negative")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"expected {_DURATION_EXAMPLES}")
    text = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(seconds=float(text))
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"expected {_DURATION_EXAMPLES}, got {value!r}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of ``value`` that :func:`parse_duration` reads back."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["30s", "5m", "1h"]}),
]
"""A length of time written like ``5m``; validated to a :class:`datetime.timedelta`."""


def check_time_zone(value: str) -> str:
    """An IANA zone name this machine knows (``Asia/Amman``, ``UTC``)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"expected an IANA time zone such as UTC or Asia/Amman, got {value!r}"
        ) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]


@dataclass(frozen=True, slots=True)
class DeleteLimit:
    """The most a mirror run may disable without being told to: a share or a count."""

    share: float | None = None
    count: int | None = None

    def allows(self, deleting: int, present: int) -> bool:
        if self.count is not None:
            return deleting <= self.count
        assert self.share is not None
        return deleting <= self.share * present

    def __str__(self) -> str:
        return str(self.as_config())

    def as_config(self) -> int | str:
        """As a configuration file writes it: ``50`` or ``"10%"``."""
        if self.count is not None:
            return self.count
        assert self.share is not None
        return f"{self.share * 100:g}%"


_LIMIT_EXAMPLES = "a percentage such as 10% or a whole number of records such as 50"


def parse_delete_limit(value: Any) -> DeleteLimit:
    """``10%`` is a share of the target's records; a whole number is a count of records."""
    if isinstance(value, DeleteLimit):
        return value
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f"expected {_LIMIT_EXAMPLES}, got {value!r}") from None
        if not 0 <= percent <= 100:
            raise ValueError(f"expected a percentage between 0% and 100%, got {value!r}")
        return DeleteLimit(share=percent / 100)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected {_LIMIT_EXAMPLES}, got {value!r}")
    return DeleteLimit(count=value)


MaxDelete = Annotated[
    DeleteLimit,
    BeforeValidator(parse_delete_limit),
    PlainSerializer(DeleteLimit.as_config, return_type=int | str),
    WithJsonSchema({"examples": ["10%", 50]}),
]
"""A limit on deletes written as a share (``10%``) or a count (``50``)."""
