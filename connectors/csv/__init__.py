"""The CSV folder connector."""

from __future__ import annotations

from typing import ClassVar

from connectors.csv.settings import CsvSettings


class CsvConnector:
    """Reads and writes a folder of CSV files, one stream per file."""

    type_name: ClassVar[str] = "csv"
    settings_model: ClassVar[type[CsvSettings]] = CsvSettings


__all__ = ["CsvConnector", "CsvSettings"]
