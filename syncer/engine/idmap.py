"""The id map: which native record in which connector stream is which canonical record.

Lookups are batched per page (one query per stream and page, on indexed columns), never whole
collections in memory. References between entities resolve through here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from syncer.engine.links import CHUNK, ID_MAP, Changes, Link, from_rows, new_link, select_links
from syncer.state.models import IdMapEntry

__all__ = ["CHUNK", "Changes", "Link", "new_link"]


CANONICAL_NAMESPACE = uuid.UUID("5c1f3e0a-8d2b-4f0e-9a7c-2b6d1e4f8a90")


def canonical_id_for(entity: str, connector: str, stream: str, native_id: str) -> str:
    """The canonical id of a record first seen in ``connector.stream``: derived from where it
    was first seen, so a run that dies before recording it gives it the same id when it runs
    again, and finds in the target what it created there under that id."""
    name = "\x1f".join((entity, connector, stream, native_id))
    return str(uuid.uuid5(CANONICAL_NAMESPACE, name))


def by_native(
    session: Session, entity: str, connector: str, stream: str, native_ids: Iterable[str]
) -> dict[str, Link]:
    """Rows by native id. The entity is part of the key: one native record may be the source
    of records of several entities (a Repzo invoice with return items is an invoice and a
    credit note; an ERP item is a product and a variant)."""
    wanted = list(dict.fromkeys(native_ids))
    found: dict[str, Link] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select_links().where(
                ID_MAP.c.connector == connector,
                ID_MAP.c.stream == stream,
                ID_MAP.c.entity == entity,
                ID_MAP.c.native_id.in_(wanted[start : start + CHUNK]),
            )
        )
        found.update({row.native_id: row for row in from_rows(rows)})
    return found


def by_canonical(
    session: Session, entity: str, connector: str, stream: str, canonical_ids: Iterable[str]
) -> dict[str, Link]:
    wanted = list(dict.fromkeys(canonical_ids))
    found: dict[str, Link] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select_links().where(
                ID_MAP.c.entity == entity,
                ID_MAP.c.canonical_id.in_(wanted[start : start + CHUNK]),
                ID_MAP.c.connector == connector,
                ID_MAP.c.stream == stream,
            )
        )
        found.update({row.canonical_id: row for row in from_rows(rows)})
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
) -> dict[str, list[Link]]:
    """The rows of each canonical record outside one connector stream: where a record linked
    there came from, to name it to a person."""
    wanted = list(dict.fromkeys(canonical_ids))
    found: dict[str, list[Link]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select_links()
            .where(
                ID_MAP.c.entity == entity,
                ID_MAP.c.canonical_id.in_(wanted[start : start + CHUNK]),
            )
            .order_by(ID_MAP.c.id)
        )
        for row in from_rows(rows):
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


def not_seen_by(
    session: Session, entity: str, connector: str, stream: str, run_id: str
) -> list[Link]:
    """Live rows of a connector stream that the complete listing of run ``run_id`` did not
    include (see :func:`mark_seen`): records gone from the source."""
    return from_rows(
        session.execute(
            select_links().where(
                ID_MAP.c.connector == connector,
                ID_MAP.c.stream == stream,
                ID_MAP.c.entity == entity,
                ID_MAP.c.deleted.is_(False),
                (ID_MAP.c.last_seen_run.is_(None)) | (ID_MAP.c.last_seen_run != run_id),
            )
        )
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
    changes: Changes,
    existing: Link | None,
    *,
    entity: str,
    canonical_id: str,
    connector: str,
    stream: str,
    native_id: str,
    **values: Any,
) -> Link:
    """Create or update the row of one side of a canonical record."""
    if existing is None:
        row = new_link(entity, canonical_id, connector, stream, native_id, **values)
        changes.add(row)
        return row
    changes.change(existing, native_id=native_id, canonical_id=canonical_id, **values)
    return existing


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
