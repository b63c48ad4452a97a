"""A reply from a sandbox handler to its HTTP layer, and compact JSON encoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class RawJson:
    """A JSON text already encoded, so list pages can splice stored documents without
    decoding and re-encoding each one."""

    text: str


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, RawJson):
            return self.body.text.encode()
        return dump_json(self.body).encode()


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def validation_problems(error: ValidationError) -> str:
    """A pydantic error as one line an admin-API caller can act on (``field: problem; ...``)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
        for item in error.errors()
    )
