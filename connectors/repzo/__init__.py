"""The Repzo connector."""

from __future__ import annotations

from typing import ClassVar

from connectors.repzo.settings import RepzoSettings


class RepzoConnector:
    """Reads and writes Repzo resources through its REST API."""

    type_name: ClassVar[str] = "repzo"
    settings_model: ClassVar[type[RepzoSettings]] = RepzoSettings


__all__ = ["RepzoConnector", "RepzoSettings"]
