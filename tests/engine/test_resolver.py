"""The resolver's cache stays bounded on long runs and still answers without asking twice."""

from __future__ import annotations

from contextlib import contextmanager

from syncer.engine import resolver as idmap_resolver
from syncer.mapping.mapping import UNSYNCED
from syncer.state import open_store, upgrade_store


def test_the_reference_cache_is_bounded_and_keeps_recent_answers(tmp_path, monkeypatch):
    monkeypatch.setattr(idmap_resolver, "CACHE_SIZE", 100)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade_store(url)
    store = open_store(url)
    queries = []

    @contextmanager
    def session():
        queries.append(1)
        with store.session() as opened:
            yield opened

    try:
        resolver = idmap_resolver.Resolver(session, "erp", {"customer": "customers"})
        for number in range(1_000):
            resolver.learn("customer", f"C-{number}", f"canonical-{number}")
        assert len(resolver._to_canonical) <= 100 and len(resolver._to_native) <= 100
        assert resolver.to_canonical("customer", "C-999") == "canonical-999"
        assert resolver.to_native("customer", "canonical-998") == "C-998"
        assert queries == []  # recent answers came from the cache
        # An old answer was forgotten: asking again goes to the store (which has no such row).
        assert resolver.to_canonical("customer", "C-1") == f"{UNSYNCED}C-1"
        assert queries == [1]
    finally:
        store.close()
