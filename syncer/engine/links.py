"""Id-map rows as plain values, and the batched writes that store them.

A run handles two rows per record (one per side), so the hot path keeps them as small slotted
values loaded with Core selects, and writes them back with one ``executemany`` per statement
shape: no ORM instances, identity map or unit of work for the rows a first sync inserts by the
hundred thousand. The ORM model (:class:`syncer.state.models.IdMapEntry`) still defines the
table, and the review commands use it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from syncer.mapping.hashing import json_hash, snapshot_json
from syncer.state.base import utcnow
from syncer.state.models import IdMapEntry

ID_MAP = cast(Table, IdMapEntry.__table__)
CHUNK = 500
"""Ids per IN (...) query: well under the parameter limits of SQLite and PostgreSQL."""


@dataclass(slots=True)
class Link:
    """One id-map row: a record's native id in one connector stream, its canonical id, and
    what was last synced on that side. ``id`` is None until the row is stored."""

    entity: str
    canonical_id: str
    connector: str
    stream: str
    native_id: str
    natural_key: str | None = None
    content_hash: str | None = None
    snapshot: dict[str, Any] | None = None
    written_hash: str | None = None
    origin: str | None = None
    native_updated_at: str | None = None
    deleted: bool = False
    last_seen_run: str | None = None
    id: int | None = None


_FIELDS = tuple(field.name for field in fields(Link))
_COLUMNS = tuple(ID_MAP.c[name] for name in _FIELDS)
_STORED = tuple(name for name in _FIELDS if name != "id")


def select_links() -> Select[Any]:
    """A select of whole rows, to be read with :func:`from_rows`."""
    return select(*_COLUMNS)


def from_rows(rows: Iterable[Row[Any]]) -> list[Link]:
    make: Any = Link  # the select's columns are Link's fields, in order
    return [make(*row) for row in rows]


def load(session: Session, ids: Iterable[int]) -> dict[int, Link]:
    """The stored rows with these ids, as they are now."""
    wanted = sorted(set(ids))
    found: dict[int, Link] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select_links().where(ID_MAP.c.id.in_(wanted[start : start + CHUNK]))
        found.update((link.id, link) for link in from_rows(session.execute(query)) if link.id)
    return found


def update_row(session: Session, row_id: int, **values: Any) -> None:
    """Change some columns of one stored row, and only those."""
    session.execute(update_statement(values).values(updated_at=utcnow()), {"_id": row_id, **values})


def update_statement(columns: Iterable[str]) -> Any:
    return (
        update(ID_MAP)
        .where(ID_MAP.c.id == bindparam("_id"))
        .values({name: bindparam(name) for name in columns})
    )


class Changes:
    """What a commit does to the id map: the batch's stored rows as they are now, the new
    rows to insert, and the columns to change in stored ones.

    Only the columns whose value a commit changes are written: another flow over the same
    records may have changed the rest of a row since, and that stays. :meth:`store` sends
    them all at once, one ``executemany`` per statement shape."""

    def __init__(self, session: Session, rows: Iterable[Link | None]) -> None:
        self.session = session
        self._stored = load(session, (row.id for row in rows if row is not None and row.id))
        self._new: list[Link] = []
        self._added: set[int] = set()
        self._updates: dict[int, dict[str, Any]] = {}
        self._encoded: dict[int, tuple[dict[str, Any], str, str]] = {}

    def current(self, row: Link) -> Link:
        """The stored version of ``row`` as it is now, or ``row`` itself while it is new."""
        if row.id is None:
            return row
        return self._stored.get(row.id, row)

    def add(self, row: Link) -> None:
        """A new row: inserted by :meth:`store`."""
        if row.id is None and id(row) not in self._added:
            self._added.add(id(row))
            self._new.append(row)

    def change(self, row: Link, **values: Any) -> None:
        """Set columns of ``row`` (new or stored), to be written by :meth:`store`. A stored
        row's column set to the value it holds is not written: another flow over the same
        records may have changed it since this batch read it, and that change stays."""
        if row.id is None:
            for name, value in values.items():
                setattr(row, name, value)
            self.add(row)
            return
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        for name, value in changed.items():
            setattr(row, name, value)
        if changed:
            self._updates.setdefault(row.id, {}).update(changed)

    def hash(self, snapshot: dict[str, Any]) -> str:
        """The content hash of a snapshot, remembered with its JSON text for the insert."""
        return self._encode(snapshot)[1]

    def json(self, snapshot: dict[str, Any]) -> str:
        return self._encode(snapshot)[0]

    def _encode(self, snapshot: dict[str, Any]) -> tuple[str, str]:
        # Keyed by the object (held here, so its id is not reused): a record's two rows
        # mostly share one snapshot, and snapshots are not changed in place.
        found = self._encoded.get(id(snapshot))
        if found is None:
            text = snapshot_json(snapshot)
            found = self._encoded[id(snapshot)] = (snapshot, text, json_hash(snapshot, text))
        return found[1], found[2]

    def store(self) -> None:
        now = utcnow()
        connection = self.session.connection()
        if self._new:
            _insert(connection, self._new, now, self.json)
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row_id, changed in self._updates.items():
            shapes.setdefault(tuple(sorted(changed)), []).append({"_id": row_id, **changed})
        for columns, params in shapes.items():
            connection.execute(update_statement(columns).values(updated_at=now), params)
        self._new, self._added, self._updates, self._encoded = [], set(), {}, {}


_INSERTED = (*_STORED, "created_at", "updated_at")


def _insert(
    connection: Connection,
    rows: list[Link],
    now: datetime,
    encode: Callable[[dict[str, Any]], str],
) -> None:
    """Insert new rows with one ``executemany`` on the driver's cursor.

    A first sync inserts two rows per record, and binding them through SQLAlchemy (a
    processor per column per row) cost more than the database's own work. So the values go
    to the driver as it takes them: the snapshot as its JSON text (SQLite keeps JSON as
    text; psycopg sends a string untyped, and PostgreSQL reads it as ``json``), the time as
    SQLite's text form or an aware datetime for PostgreSQL."""
    dialect = connection.dialect
    compiled = insert(ID_MAP).compile(dialect=dialect, column_keys=list(_INSERTED))
    stamp: Any = (
        now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        if dialect.name == "sqlite"
        else now
    )
    values = [
        (
            *(getattr(row, name) for name in _BEFORE_SNAPSHOT),
            None if row.snapshot is None else encode(row.snapshot),
            *(getattr(row, name) for name in _AFTER_SNAPSHOT),
            stamp,
            stamp,
        )
        for row in rows
    ]
    if dialect.positional:
        order = [_INSERTED.index(name) for name in compiled.positiontup or ()]
        params: list[Any] = [tuple(value[i] for i in order) for value in values]
    else:
        params = [dict(zip(_INSERTED, value, strict=True)) for value in values]
    connection.exec_driver_sql(compiled.string, params)


_BEFORE_SNAPSHOT = _STORED[: _STORED.index("snapshot")]
_AFTER_SNAPSHOT = _STORED[_STORED.index("snapshot") + 1 :]


def new_link(
    entity: str, canonical_id: str, connector: str, stream: str, native_id: str, **values: Any
) -> Link:
    """A row not stored yet."""
    return Link(entity, canonical_id, connector, stream, native_id, **values)
