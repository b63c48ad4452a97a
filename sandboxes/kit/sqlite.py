"""The SQLite connection both sandbox stores keep: shared across handler threads (each store
serialises access with its own lock), autocommit so transactions are explicit, WAL on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable


def connect(path: str, schema: Iterable[str]) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    if path != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
        # A sandbox favours speed over surviving a power cut; WAL keeps it consistent anyway.
        db.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        db.execute(statement)
    return db
