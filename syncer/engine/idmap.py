"""The id map: which native record in which connector stream is which canonical record.

Lookups are batched per page (one query per stream and page, on indexed columns), never whole
collections in memory. References between entities resolve through here too.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from syncer.mapping.mapping import UNSYNCED
from syncer.state.models import IdMapEntry

CHUNK = 500
"""Ids per IN (...) query: well under the parameter limits of SQLite and PostgreSQL."""


def new_canonical_id() -> str:
    return str(uuid.uuid4())


def by_native(
    session: Session, entity: str, connector: str, stream: str, native_ids: Iterable[str]
) -> dict[str, IdMapEntry]:
    """Rows by native id. The entity is part of the key: one native record may be the source
    of records of several entities (a Repzo invoice with return items is an invoice and a
    credit note; an ERP item is a product and a variant)."""
    wanted = list(dict.fromkeys(native_ids))
    found: dict[str, IdMapEntry] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.scalars(
            select(IdMapEntry).where(
                IdMapEntry.connector == connector,
                IdMapEntry.stream == stream,
                IdMapEntry.entity == entity,
                IdMapEntry.native_id.in_(wanted[start : start + CHUNK]),
            )
        )
        found.update({row.native_id: row for row in rows})
    return found


def by_canonical(
    session: Session, entity: str, connector: str, stream: str, canonical_ids: Iterable[str]
) -> dict[str, IdMapEntry]:
    wanted = list(dict.fromkeys(canonical_ids))
    found: dict[str, IdMapEntry] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.scalars(
            select(IdMapEntry).where(
                IdMapEntry.entity == entity,
                IdMapEntry.canonical_id.in_(wanted[start : start + CHUNK]),
                IdMapEntry.connector == connector,
                IdMapEntry.stream == stream,
            )
        )
        found.update({row.canonical_id: row for row in rows})
    return found


def claimed_elsewhere(
    session: Session, entity: str, connector: str, stream: str, canonical_ids: Iterable[str]
) -> set[str]:
    """Of ``canonical_ids``, those the id map knows for ``entity`` in some other connector
    stream but not yet in this one: a record here that carries one of them is that record's
    counterpart."""
    wanted = list(dict.fromkeys(canonical_ids))
    known: set[str] = set()
    taken: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(IdMapEntry.canonical_id, IdMapEntry.connector, IdMapEntry.stream).where(
                IdMapEntry.entity == entity,
                IdMapEntry.canonical_id.in_(wanted[start : start + CHUNK]),
            )
        )
        for canonical_id, row_connector, row_stream in rows:
            if (row_connector, row_stream) == (connector, stream):
                taken.add(canonical_id)
            else:
                known.add(canonical_id)
    return known - taken


def other_sides(
    session: Session,
    entity: str,
    canonical_ids: Iterable[str],
    *,
    connector: str,
    stream: str,
) -> dict[str, list[IdMapEntry]]:
    """The rows of each canonical record outside one connector stream: where a record linked
    there came from, to name it to a person."""
    wanted = list(dict.fromkeys(canonical_ids))
    found: dict[str, list[IdMapEntry]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.scalars(
            select(IdMapEntry)
            .where(
                IdMapEntry.entity == entity,
                IdMapEntry.canonical_id.in_(wanted[start : start + CHUNK]),
            )
            .order_by(IdMapEntry.id)
        )
        for row in rows:
            if (row.connector, row.stream) != (connector, stream):
                found.setdefault(row.canonical_id, []).append(row)
    return found


def mark_seen(
    session: Session,
    entity: str,
    connector: str,
    stream: str,
    native_ids: Iterable[str],
    run_id: str,
) -> None:
    """These records were in this run's complete listing of the source (mirror mode)."""
    _update_natives(session, entity, connector, stream, native_ids, last_seen_run=run_id)


def _update_natives(
    session: Session,
    entity: str,
    connector: str,
    stream: str,
    native_ids: Iterable[str],
    **values: Any,
) -> None:
    wanted = list(dict.fromkeys(native_ids))
    for start in range(0, len(wanted), CHUNK):
        session.execute(
            update(IdMapEntry)
            .where(
                IdMapEntry.connector == connector,
                IdMapEntry.stream == stream,
                IdMapEntry.entity == entity,
                IdMapEntry.native_id.in_(wanted[start : start + CHUNK]),
            )
            .values(**values)
        )


def live_count(session: Session, entity: str, connector: str, stream: str) -> int:
    """Records of an entity in a connector stream the id map knows and that are not deleted."""
    count = session.scalar(
        select(func.count())
        .select_from(IdMapEntry)
        .where(
            IdMapEntry.connector == connector,
            IdMapEntry.stream == stream,
            IdMapEntry.entity == entity,
            IdMapEntry.deleted.is_(False),
        )
    )
    return int(count or 0)


def link(
    session: Session,
    existing: IdMapEntry | None,
    *,
    entity: str,
    canonical_id: str,
    connector: str,
    stream: str,
    native_id: str,
    **changes: Any,
) -> IdMapEntry:
    """Create or update the row of one side of a canonical record."""
    row = existing
    if row is None:
        row = IdMapEntry(
            entity=entity,
            canonical_id=canonical_id,
            connector=connector,
            stream=stream,
            native_id=native_id,
            deleted=False,
        )
        session.add(row)
    else:
        row.native_id = native_id
        row.canonical_id = canonical_id
    for name, value in changes.items():
        setattr(row, name, value)
    return row


class Attached:
    """The stored versions of a page's rows, loaded into a session with one query.

    :meth:`current` hands back the session's own instance of a row, so recording an outcome
    changes only what changed (``session.merge`` would copy, and so rewrite, every column of
    every row). It also holds the instances strongly: the identity map keeps them only weakly.
    """

    def __init__(self, session: Session, rows: Iterable[IdMapEntry | None]) -> None:
        self.session = session
        ids = sorted({row.id for row in rows if row is not None and row.id is not None})
        self._rows: dict[int, IdMapEntry] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            query = select(IdMapEntry).where(IdMapEntry.id.in_(chunk))
            self._rows.update((row.id, row) for row in session.scalars(query))

    def current(self, row: IdMapEntry) -> IdMapEntry:
        """The session's instance of ``row``: stored as loaded, or merged when it is new."""
        found = self._rows.get(row.id) if row.id is not None else None
        return found if found is not None else self.session.merge(row)


CACHE_SIZE = 20_000
"""Answers a resolver keeps: enough for the references of many pages (price lists, products),
bounded so a run over millions of records does not grow with them."""


class _Cache(dict[tuple[str, str], str | None]):
    """A dict that forgets its oldest half when full (insertion order), so memory stays flat
    while the hot references, asked for again on every page, come straight back."""

    def __setitem__(self, key: tuple[str, str], value: str | None) -> None:
        if len(self) >= CACHE_SIZE and key not in self:
            for old in list(itertools.islice(iter(self), CACHE_SIZE // 2)):
                del self[old]
        super().__setitem__(key, value)


class Resolver:
    """References of one connector, through the id map: (entity, native id) <-> canonical id.

    ``streams`` says which stream of the connector holds each entity. Answers are cached for the
    run, up to CACHE_SIZE of them; :meth:`prefetch_native` and :meth:`prefetch_canonical` fill
    the cache for a whole page with one query per entity.
    """

    def __init__(self, session_factory: Any, connector: str, streams: Mapping[str, str]) -> None:
        self._session = session_factory
        self.connector = connector
        self.streams = streams
        self._to_canonical = _Cache()
        self._to_native = _Cache()
        self._by_key = _Cache()

    def prefetch_native(self, pairs: Iterable[tuple[str, str]]) -> None:
        by_entity: dict[str, list[str]] = {}
        for entity, native in pairs:
            if (entity, native) not in self._to_canonical and entity in self.streams:
                by_entity.setdefault(entity, []).append(native)
        if not by_entity:
            return
        with self._session() as session:
            for entity, natives in by_entity.items():
                rows = by_native(session, entity, self.connector, self.streams[entity], natives)
                for native in natives:
                    row = rows.get(native)
                    self._to_canonical[(entity, native)] = row.canonical_id if row else None

    def prefetch_canonical(self, pairs: Iterable[tuple[str, str]]) -> None:
        by_entity: dict[str, list[str]] = {}
        for entity, canonical in pairs:
            if (entity, canonical) not in self._to_native and entity in self.streams:
                by_entity.setdefault(entity, []).append(canonical)
        if not by_entity:
            return
        with self._session() as session:
            for entity, canonicals in by_entity.items():
                rows = by_canonical(
                    session, entity, self.connector, self.streams[entity], canonicals
                )
                for canonical in canonicals:
                    row = rows.get(canonical)
                    self._to_native[(entity, canonical)] = row.native_id if row else None

    def to_canonical(self, entity: str, native_id: str) -> str | None:
        """The canonical id; for a record not synced yet, ``unsynced:<native id>``: only a
        target that needs the reference waits for it (an invoice line's variant need not hold
        up an invoice whose target only uses the product)."""
        if (entity, native_id) not in self._to_canonical:
            self.prefetch_native([(entity, native_id)])
        return self._to_canonical.get((entity, native_id)) or f"{UNSYNCED}{native_id}"

    def to_native(self, entity: str, canonical_id: str) -> str | None:
        if canonical_id.startswith(UNSYNCED):
            return None
        if (entity, canonical_id) not in self._to_native:
            self.prefetch_canonical([(entity, canonical_id)])
        return self._to_native.get((entity, canonical_id))

    def key_to_canonical(self, entity: str, natural_key: str) -> str | None:
        """The canonical id of the record of ``entity`` whose natural key (a document number)
        is ``natural_key`` in this connector; ``unsynced:<key>`` when syncer has not seen it."""
        cached = self._by_key.get((entity, natural_key))
        if cached is None and entity in self.streams:
            with self._session() as session:
                cached = session.scalar(
                    select(IdMapEntry.canonical_id)
                    .where(
                        IdMapEntry.connector == self.connector,
                        IdMapEntry.stream == self.streams[entity],
                        IdMapEntry.natural_key == natural_key,
                        IdMapEntry.entity == entity,
                    )
                    .order_by(IdMapEntry.id)
                    .limit(1)
                )
            if cached is not None:
                self._by_key[(entity, natural_key)] = cached
        return cached or f"{UNSYNCED}{natural_key}"

    def learn(self, entity: str, native_id: str, canonical_id: str) -> None:
        """A record just linked in this run: references to it resolve at once."""
        self._to_canonical[(entity, native_id)] = canonical_id
        self._to_native[(entity, canonical_id)] = native_id

    def forget_misses(self) -> None:
        """Drop cached misses: a dependency synced meanwhile may resolve them now."""
        for cache in (self._to_canonical, self._to_native):
            for key in [key for key, value in cache.items() if value is None]:
                del cache[key]


def written_by(session: Session, entity: str, connector: str, stream: str, flow: str) -> list[str]:
    """Native ids of the records of a connector stream that ``flow`` wrote and that nobody
    has read back since (their ``origin``)."""
    return list(
        session.scalars(
            select(IdMapEntry.native_id)
            .where(
                IdMapEntry.connector == connector,
                IdMapEntry.stream == stream,
                IdMapEntry.entity == entity,
                IdMapEntry.origin == flow,
            )
            .order_by(IdMapEntry.id)
        )
    )


def read_back(session: Session, row_ids: Iterable[int]) -> None:
    """These rows' records were read back from their system: no write is pending on them."""
    wanted = sorted(set(row_ids))
    for start in range(0, len(wanted), CHUNK):
        session.execute(
            update(IdMapEntry)
            .where(IdMapEntry.id.in_(wanted[start : start + CHUNK]))
            .values(origin=None)
        )


def read_back_natives(
    session: Session, entity: str, connector: str, stream: str, native_ids: Iterable[str]
) -> None:
    """:func:`read_back` by native id."""
    _update_natives(session, entity, connector, stream, native_ids, origin=None)


def any_written_by(session: Session, entity: str, connector: str, stream: str, flow: str) -> bool:
    """Whether :func:`written_by` would find anything."""
    found = session.scalar(
        select(IdMapEntry.id)
        .where(
            IdMapEntry.connector == connector,
            IdMapEntry.stream == stream,
            IdMapEntry.entity == entity,
            IdMapEntry.origin == flow,
        )
        .limit(1)
    )
    return found is not None
