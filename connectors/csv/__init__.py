"""The CSV folder connector."""

from connectors.csv.connector import CsvConnector
from connectors.csv.settings import CsvSettings, CsvStreamSettings

__all__ = ["CsvConnector", "CsvSettings", "CsvStreamSettings"]
