"""References between entities, resolved through the id map: a price list's code in the ERP
to its ``_id`` in Repzo, by way of the canonical id both are linked to. Answers are cached per
run, bounded, and filled a page at a time."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from syncer.engine.idmap import by_canonical, by_native
from syncer.mapping.mapping import UNSYNCED
from syncer.state.models import IdMapEntry

CACHE_SIZE = 5_000
"""Answers a resolver keeps: enough for the references of many pages (price lists, products,
the customers of a day's invoices), bounded so a run over millions of records does not grow
with them. A miss costs one indexed query for a whole page; a full cache of each of a run's
six costs about 1 MiB, so a larger one buys little and weighs on every run."""


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
