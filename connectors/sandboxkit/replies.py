"""A reply from a sandbox handler to its HTTP layer, and compact JSON encoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


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
