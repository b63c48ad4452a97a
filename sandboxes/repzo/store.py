"""The sandbox's document store: every resource's documents as JSON rows of one SQLite table.

``created_ms`` and ``updated_ms`` are copies of the documents' ISO timestamps as integers, so
time filters and the (updatedAt, _id) order run on an index instead of parsing JSON. One
connection serves every thread; the ``lock`` also lets the service make a read-modify-write
atomic. It is :memory: by default, or a file that survives restarts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandboxes.kit.clock import parse_time_ms
from sandboxes.kit.sqlite import connect
from sandboxes.repzo.protocol import dump_json
from sandboxes.repzo.query import (
    ID_FIELD,
    Bound,
    Exists,
    Filter,
    ListQuery,
    Match,
    SortKey,
    check_field,
)

Document = dict[str, Any]

# Fields kept in their own column as well as in the JSON body: the keyset, the time cursors and
# ``disabled``, which nearly every master-data read filters on (a JSON test would make counting a
# 200k collection slow).
_COLUMNS = {
    ID_FIELD: "id",
    "updatedAt": "updated_ms",
    "createdAt": "created_ms",
    "disabled": "disabled",
}
# Paths with an expression index. They are matched by plain equality only: an OR with the
# array-element test would stop SQLite from using the index, and external ids are scalars.
INDEXED_PATHS = ("integration_meta.id",)


# SQL text is assembled from column names, JSON paths of field names that check_field has
# limited to [A-Za-z0-9_-] labels, and "?" placeholders; every value is a bound parameter.


def json_path(field: str) -> str:
    """SQLite JSON path of a dotted field; every label quoted so ``a-b`` works."""
    return "$" + "".join(f'."{label}"' for label in check_field(field).split("."))


def _expr(field: str) -> str:
    column = _COLUMNS.get(field)
    return column if column else f"json_extract(body, '{json_path(field)}')"


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS documents (
        resource TEXT NOT NULL,
        id TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        disabled INTEGER,
        body TEXT NOT NULL,
        PRIMARY KEY (resource, id)
    )""",
    "CREATE INDEX IF NOT EXISTS documents_updated ON documents (resource, updated_ms, id)",
    "CREATE INDEX IF NOT EXISTS documents_disabled ON documents (resource, disabled, id)",
    *(
        f"CREATE INDEX IF NOT EXISTS documents_{path.replace('.', '_')} "
        f"ON documents (resource, {_expr(path)})"
        for path in INDEXED_PATHS
    ),
)


@dataclass(frozen=True)
class Found:
    ids: list[str]
    bodies: list[str]
    """The documents as stored JSON text, in the query's order."""
    total: int | None
    """How many documents match without the window; None when not asked for."""


class DocumentStore:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.lock = threading.RLock()
        self._db = connect(path, _SCHEMA)

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, resource: str, doc_id: str) -> Document | None:
        with self.lock:
            row = self._db.execute(
                "SELECT body FROM documents WHERE resource = ? AND id = ?", (resource, doc_id)
            ).fetchone()
        return None if row is None else load_document(row[0])

    def save(self, resource: str, doc: Document) -> None:
        self.save_many(resource, (doc,))

    def save_many(self, resource: str, docs: Iterable[Document]) -> int:
        rows = [_row(resource, doc) for doc in docs]
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO documents "
                "(resource, id, created_ms, updated_ms, disabled, body) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def delete(self, resource: str, doc_id: str) -> bool:
        with self.lock:
            cursor = self._db.execute(
                "DELETE FROM documents WHERE resource = ? AND id = ?", (resource, doc_id)
            )
        return cursor.rowcount > 0

    def find(
        self,
        resource: str,
        query: ListQuery,
        limit: int | None = None,
        offset: int = 0,
        *,
        count: bool = True,
    ) -> Found:
        where, params = _where(query.filters)
        # An equality on an indexed path selects a handful of rows; without the unary plus the
        # planner would rather walk the whole collection in _id order to skip a tiny sort.
        selective = any(
            isinstance(item, Match) and not item.negate and item.field in INDEXED_PATHS
            for item in query.filters
        )
        order = ", ".join(_order(key, use_index=not selective) for key in query.sort)
        matching = f"FROM documents WHERE resource = ?{where}"
        if limit is None:
            sql = f"SELECT id, body {matching} ORDER BY {order}"
            args = [resource, *params]
        else:
            # The window is cut over the index alone and only its rows' bodies are read, which
            # keeps a deep page number (a large OFFSET) cheap.
            sql = (
                f"SELECT id, body FROM documents WHERE rowid IN "  # noqa: S608
                f"(SELECT rowid {matching} ORDER BY {order} LIMIT ? OFFSET ?) ORDER BY {order}"
            )
            args = [resource, *params, limit, offset]
        with self.lock:
            rows = self._db.execute(sql, args).fetchall()
            total = None
            if count:
                total = int(
                    self._db.execute(f"SELECT count(*) {matching}", [resource, *params]).fetchone()[
                        0
                    ]
                )
        return Found([row[0] for row in rows], [row[1] for row in rows], total)

    def find_docs(
        self, resource: str, query: ListQuery, limit: int | None = None
    ) -> list[Document]:
        found = self.find(resource, query, limit, count=False)
        return [load_document(body) for body in found.bodies]

    def count(self, resource: str) -> int:
        with self.lock:
            row = self._db.execute(
                "SELECT count(*) FROM documents WHERE resource = ?", (resource,)
            ).fetchone()
        return int(row[0])

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self._db.execute(
                "SELECT resource, count(*) FROM documents GROUP BY resource ORDER BY resource"
            ).fetchall()
        return {resource: int(n) for resource, n in rows}

    def max_id(self) -> str | None:
        with self.lock:
            row = self._db.execute("SELECT max(id) FROM documents").fetchone()
        return None if row is None else row[0]

    def clear(self) -> None:
        with self.lock:
            self._db.execute("DELETE FROM documents")


def load_document(body: str) -> Document:
    doc: Document = json.loads(body)
    return doc


def _row(resource: str, doc: Document) -> tuple[str, str, int, int, Any, str]:
    created = parse_time_ms(doc.get("createdAt")) or 0
    updated = parse_time_ms(doc.get("updatedAt")) or created
    return (
        resource,
        str(doc[ID_FIELD]),
        created,
        updated,
        _scalar(doc.get("disabled")),
        dump_json(doc),
    )


def _scalar(value: Any) -> Any:
    """A JSON value as json_extract would return it, so column and JSON filters agree."""
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, int | float | str):
        return value
    return dump_json(value)


def _where(filters: tuple[Filter, ...]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for item in filters:
        clause, values = _condition(item)
        clauses.append(clause)
        params.extend(values)
    return "".join(f" AND {clause}" for clause in clauses), params


def _condition(item: Filter) -> tuple[str, list[Any]]:
    expr = _expr(item.field)
    if isinstance(item, Bound):
        return f"{expr} {item.op} ?", [item.value]
    if isinstance(item, Exists):
        if item.field in _COLUMNS:
            return ("1" if item.present else "0"), []
        test = "IS NOT NULL" if item.present else "IS NULL"
        return f"json_type(body, '{json_path(item.field)}') {test}", []
    return _match(item, expr)


def _match(item: Match, expr: str) -> tuple[str, list[Any]]:
    values = [_scalar(value) for value in item.values if value is not None]
    parts: list[str] = []
    params: list[Any] = []
    if values:
        marks = ", ".join("?" * len(values))
        parts.append(f"{expr} IN ({marks})")
        params.extend(values)
        if item.field not in _COLUMNS and item.field not in INDEXED_PATHS:
            # Mongo equality on an array field matches when any element does.
            path = json_path(item.field)
            parts.append(
                f"(json_type(body, '{path}') = 'array' AND EXISTS (SELECT 1 FROM "  # noqa: S608
                f"json_each(body, '{path}') AS element WHERE element.value IN ({marks})))"
            )
            params.extend(values)
    if len(values) < len(item.values):
        parts.append(f"{expr} IS NULL")
    condition = " OR ".join(parts) or "0"
    if item.negate:
        return f"NOT COALESCE(({condition}), 0)", params
    return f"({condition})", params


def _order(key: SortKey, *, use_index: bool) -> str:
    return f"{'' if use_index else '+'}{_expr(key.field)} {'DESC' if key.descending else 'ASC'}"
