"""SQLAlchemy engines for the state store: SQLite in WAL mode, or PostgreSQL through psycopg 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from syncer.config import state_url

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(url: str | URL) -> URL:
    """Pick psycopg 3 for a bare ``postgresql://`` URL (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str | URL) -> str:
    """The URL as it may be shown (``state_url.display``)."""
    return state_url.display(url if isinstance(url, str) else url.render_as_string(False))


def sqlite_path(url: URL) -> Path | None:
    """The file behind an SQLite URL, or None for an in-memory database
    (``state_url.StateUrl.sqlite_file``, the one rule for both)."""
    return state_url.parse(url.render_as_string(False)).sqlite_file


def create_database(url: str | URL, **kwargs: Any) -> Engine:
    """An engine configured for the state store's needs on either backend."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so that reads
        # inside a transaction see one consistent snapshot (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=FULL")  # a committed checkpoint survives power loss
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")
