"""Id-map rows written as values: only what a commit changes reaches the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from syncer.engine.links import Changes, load, new_link
from syncer.state import StateStore, open_store, upgrade_store
from syncer.state.models import IdMapEntry


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    upgrade_store(store_url)  # PostgreSQL stores are not upgraded on open
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


def test_a_commit_writes_only_the_columns_it_changes(store):
    with store.session() as session:
        changes = Changes(session, ())
        changes.add(new_link("customer", "c-1", "repzo", "client", "r-1", snapshot={"a": "1"}))
        changes.store()
    with store.session() as session:
        row_id = session.scalar(select(IdMapEntry.id))
        assert row_id is not None
        [stored] = load(session, [row_id]).values()
    # Another flow over the same records marks the row as its write meanwhile.
    with store.session() as session:
        other = session.get(IdMapEntry, row_id)
        assert other is not None
        other.origin = "customers-erp-to-repzo"
    with store.session() as session:
        changes = Changes(session, ())
        # This batch read the row before that change: it sets origin to what it read
        # (None) and the snapshot to something new.
        changes.change(stored, origin=None, snapshot={"a": "2"}, deleted=False)
        changes.store()
    with store.session() as session:
        row = session.get(IdMapEntry, row_id)
        assert row is not None
        assert row.snapshot == {"a": "2"}  # changed: written
        assert row.origin == "customers-erp-to-repzo"  # not changed by this batch: kept
        assert row.deleted is False


def test_new_rows_keep_every_value_they_are_given(store):
    with store.session() as session:
        changes = Changes(session, ())
        link = new_link("invoice", "c-2", "erp", "invoices", "INV-1", natural_key="INV-1")
        changes.change(link, snapshot={"total": "12.500"}, origin="flow", deleted=True)
        changes.store()
    with store.session() as session:
        row = session.scalars(select(IdMapEntry)).one()
        assert (row.native_id, row.natural_key, row.origin, row.deleted) == (
            "INV-1",
            "INV-1",
            "flow",
            True,
        )
        assert row.snapshot == {"total": "12.500"}
        assert row.created_at.tzinfo is not None and row.updated_at == row.created_at
