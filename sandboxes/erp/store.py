"""The ERP stub's SQLite store: records as JSON rows, plus the id sequences.

``updated_s`` copies each record's ``updated_at`` as epoch seconds, so the (updated_at, key)
order and keyset pages run on an index instead of parsing JSON; ``number`` copies a document's
number under an index, which is how a repeated document POST finds its original. The index is
not unique: the service decides, inside one transaction, whether a number may be posted twice
(an ERP that does not deduplicate keeps both documents).
Sequences live in their own table so ids keep counting across restarts. One connection serves
every thread; ``transaction()`` lets the service make a read-check-write atomic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandboxes.kit.replies import dump_json
from sandboxes.kit.sqlite import connect

Record = dict[str, Any]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS records (
        entity TEXT NOT NULL,
        key TEXT NOT NULL,
        updated_s INTEGER NOT NULL,
        number TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (entity, key)
    )""",
    "CREATE INDEX IF NOT EXISTS records_updated ON records (entity, updated_s, key)",
    # Stores written before documents could share a number had a unique index here.
    "DROP INDEX IF EXISTS records_number",
    "CREATE INDEX IF NOT EXISTS records_by_number ON records (entity, number)",
    "CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


@dataclass(frozen=True, order=True)
class Position:
    """A place in the (updated_at, key) order: what a cursor points just past."""

    updated_s: int
    key: str


@dataclass(frozen=True)
class Filter:
    """``field`` equals any of ``values`` (compared as text; an array field matches when any
    element does)."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    position: Position
    body: str
    """The record as stored JSON text, spliced into list replies without re-encoding."""


class RecordStore:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.lock = threading.RLock()
        self._depth = 0
        self._db = connect(path, _SCHEMA)

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the store for a unit of work; nested calls join the outer transaction."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    # Reads

    def get(self, entity: str, key: str) -> Record | None:
        with self.lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE entity = ? AND key = ?", (entity, key)
            ).fetchone()
        return None if row is None else _load(row[0])

    def exists(self, entity: str, key: str) -> bool:
        with self.lock:
            row = self._db.execute(
                "SELECT 1 FROM records WHERE entity = ? AND key = ?", (entity, key)
            ).fetchone()
        return row is not None

    def by_number(self, entity: str, number: str) -> Record | None:
        with self.lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE entity = ? AND number = ? ORDER BY key LIMIT 1",
                (entity, number),
            ).fetchone()
        return None if row is None else _load(row[0])

    def page(
        self,
        entity: str,
        *,
        key_field: str,
        since_s: int | None = None,
        after: Position | None = None,
        filters: Sequence[Filter] = (),
        limit: int | None = None,
    ) -> list[Row]:
        """Records in (updated_at, key) order: at or after ``since_s``, strictly after
        ``after``, matching every filter; at most ``limit``."""
        clauses = ["entity = ?"]
        params: list[Any] = [entity]
        if since_s is not None:
            clauses.append("updated_s >= ?")
            params.append(since_s)
        if after is not None:
            clauses.append("(updated_s, key) > (?, ?)")
            params += [after.updated_s, after.key]
        for item in filters:
            clause, values = _filter(item, key_field)
            clauses.append(clause)
            params += values
        # Every value is a bound parameter; the clauses are fixed text chosen above.
        sql = (
            f"SELECT updated_s, key, body FROM records WHERE {' AND '.join(clauses)} "  # noqa: S608
            "ORDER BY updated_s, key"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self.lock:
            rows = self._db.execute(sql, params).fetchall()
        return [Row(Position(int(updated), str(key)), str(body)) for updated, key, body in rows]

    def records(
        self, entity: str, filters: Sequence[Filter] = (), *, key_field: str
    ) -> list[Record]:
        return [_load(row.body) for row in self.page(entity, key_field=key_field, filters=filters)]

    def keys(self, entity: str) -> list[str]:
        with self.lock:
            rows = self._db.execute(
                "SELECT key FROM records WHERE entity = ? ORDER BY key", (entity,)
            ).fetchall()
        return [str(row[0]) for row in rows]

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self._db.execute(
                "SELECT entity, count(*) FROM records GROUP BY entity ORDER BY entity"
            ).fetchall()
        return {str(entity): int(count) for entity, count in rows}

    def is_empty(self) -> bool:
        with self.lock:
            return self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    # Writes

    def put(self, entity: str, key: str, updated_s: int, record: Record) -> None:
        self.put_many(entity, ((key, updated_s, record),))

    def put_many(self, entity: str, rows: Iterable[tuple[str, int, Record]]) -> None:
        values = [
            (entity, key, updated_s, _number(record), dump_json(record))
            for key, updated_s, record in rows
        ]
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO records (entity, key, updated_s, number, body) "
                "VALUES (?, ?, ?, ?, ?)",
                values,
            )

    def next_numbers(self, sequence: str, count: int = 1) -> range:
        """Reserve ``count`` numbers of a sequence: 1, 2, 3... never reused, even after a
        restart (a real ERP never hands out a document number twice)."""
        with self.transaction():
            row = self._db.execute(
                "SELECT value FROM sequences WHERE name = ?", (sequence,)
            ).fetchone()
            last = int(row[0]) if row else 0
            self._db.execute(
                "INSERT OR REPLACE INTO sequences (name, value) VALUES (?, ?)",
                (sequence, last + count),
            )
        return range(last + 1, last + count + 1)

    def clear(self) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM records")
            self._db.execute("DELETE FROM sequences")


def _load(body: str) -> Record:
    record: Record = json.loads(body)
    return record


def _number(record: Record) -> str | None:
    number = record.get("number")
    return number if isinstance(number, str) else None


def _filter(item: Filter, key_field: str) -> tuple[str, list[Any]]:
    marks = ", ".join("?" * len(item.values))
    values = list(item.values)
    if item.field == key_field:
        return f"key IN ({marks})", values
    if item.field == "number":
        return f"number IN ({marks})", values
    path = '$."' + item.field + '"'
    # JSON booleans compare as the words a query string carries; numbers as their text.
    scalar = (
        "CASE json_type(body, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        "ELSE CAST(json_extract(body, ?) AS TEXT) END"
    )
    # Only "?" placeholders are interpolated; the path and the values are bound parameters.
    each = "SELECT 1 FROM json_each(body, ?) AS element WHERE CAST(element.value AS TEXT)"
    element = f"(json_type(body, ?) = 'array' AND EXISTS ({each} IN ({marks})))"
    return f"({scalar} IN ({marks}) OR {element})", [path, path, *values, path, path, *values]
