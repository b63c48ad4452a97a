"""Settings of a ``type: csv`` connector."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from syncer.config.models import ConnectorSettings


class CsvSettings(ConnectorSettings):
    type: Literal["csv"] = "csv"
    path: Path
    """Folder the CSV files are read from and written to (relative to the working directory)."""
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    """``utf-8-sig`` reads UTF-8 with or without a byte-order mark; Excel exports in the Middle
    East are often ``cp1256``."""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                "expected a Python codec name such as utf-8, utf-8-sig, cp1256 or latin-1, "
                f"got {value!r}"
            ) from None
        return value
