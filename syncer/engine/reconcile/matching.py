"""Finding each document's counterpart on the other side, as a sync finds it: through the id
map, else by the target's identity key (the document number). Only reads the id map."""

from __future__ import annotations

from collections.abc import Mapping

from syncer.connector import Record
from syncer.engine import idmap
from syncer.engine.binding import Side
from syncer.engine.reconcile.listing import fetch
from syncer.engine.reconcile.sides import Read
from syncer.mapping.paths import dig
from syncer.state.store import StateStore


async def counterparts(
    store: StateStore, entity: str, source: Side, target: Side, reads: list[Read]
) -> dict[str, list[Record]]:
    """Source native id -> its target records, found as a sync finds them: through the id
    map, else (not linked, or linked to a record the target no longer has) by the target's
    identity key, the document number."""
    with store.session() as session:
        source_rows = idmap.by_native(
            session, entity, source.name, source.stream, [read.native_id for read in reads]
        )
        canonical = {native: row.canonical_id for native, row in source_rows.items()}
        target_rows = idmap.by_canonical(
            session, entity, target.name, target.stream, canonical.values()
        )
    linked = {
        native: target_rows[canonical_id].native_id
        for native, canonical_id in canonical.items()
        if canonical_id in target_rows
    }
    fetched = await fetch(target, list(linked.values()))
    found = {
        native: [fetched[target_id]] for native, target_id in linked.items() if target_id in fetched
    }
    unlinked = [
        read for read in reads if read.canonical is not None and read.native_id not in found
    ]
    found.update(await by_identity(target, unlinked, canonical))
    return found


async def by_identity(
    target: Side, reads: list[Read], canonical: Mapping[str, str]
) -> dict[str, list[Record]]:
    """Source native id -> the target records its identity key finds (as a sync looks a
    document up before creating it). ``canonical``: source native id -> canonical id, for
    the documents the id map knows."""
    wanted: dict[str, dict[str, list[str]]] = {}
    for read in reads:
        key = target.mapping.lookup(read.values, target.context, canonical.get(read.native_id))
        if key is not None:
            path, value = key
            wanted.setdefault(path, {}).setdefault(value, []).append(read.native_id)
    found: dict[str, list[Record]] = {}
    for path, by_value in wanted.items():
        records = await target.connector.lookup(target.stream, path, list(by_value))
        for record in records:
            value = dig(record, path)
            for native in by_value.get(str(value), []):
                found.setdefault(native, []).append(record)
    return found


async def gone_from_source(
    store: StateStore,
    entity: str,
    source: Side,
    target: Side,
    records: list[Record],
    skip: set[str],
    seen_sources: set[str],
) -> tuple[list[Record], dict[str, str]]:
    """Of target ``records`` (but those whose native id is in ``skip``), the ones the id map
    links to a source document that the source no longer has, and that source document's
    native id by target native id. Those whose source document was read in the window
    (``seen_sources``) are not asked about: that is not missing."""
    natives = {
        native: record
        for record in records
        if (native := target.mapping.native_id_or_none(record)) is not None and native not in skip
    }
    if not natives:
        return [], {}
    with store.session() as session:
        target_rows = idmap.by_native(session, entity, target.name, target.stream, natives)
        source_rows = idmap.by_canonical(
            session,
            entity,
            source.name,
            source.stream,
            [row.canonical_id for row in target_rows.values()],
        )
    sources = {
        native: source_rows[row.canonical_id].native_id
        for native, row in target_rows.items()
        if row.canonical_id in source_rows
        and source_rows[row.canonical_id].native_id not in seen_sources
    }
    if not sources:
        return [], {}
    still_there = await fetch(source, list(sources.values()))
    gone = [natives[native] for native, found in sources.items() if found not in still_there]
    return gone, sources
