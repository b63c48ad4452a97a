"""The Repzo connector."""

from connectors.repzo.connector import RepzoConnector
from connectors.repzo.settings import RepzoSettings

__all__ = ["RepzoConnector", "RepzoSettings"]
