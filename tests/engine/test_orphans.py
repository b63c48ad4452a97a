"""A record syncer created whose link it never recorded (the process died between the target's
201 and the commit, or the run's retry budget ran out mid-batch) must not come back as a new
record through the other half of a pair: that is how a two-way sync makes duplicates."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, select

from syncer.state.models import IdMapEntry
from tests.engine.conftest import CUSTOMER_FLOWS, T0_MS, World, store_for

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
SHOPS = 6


def _lose_the_erp_links(world: World) -> None:
    """What a crash after the ERP's 201s and before the commit leaves: ERP customers that
    carry their canonical id in external_ref, and no id-map row for them."""
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            session.execute(delete(IdMapEntry).where(IdMapEntry.connector == "erp"))
    finally:
        store.close()


def _links(world: World) -> dict[str, dict[str, str]]:
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            rows = session.scalars(select(IdMapEntry).where(IdMapEntry.entity == "customer"))
            found: dict[str, dict[str, str]] = {}
            for row in rows:
                found.setdefault(row.canonical_id, {})[row.connector] = row.native_id
            return found
    finally:
        store.close()


def test_an_unrecorded_create_is_linked_by_the_canonical_id_it_carries(world: World) -> None:
    world.erp.seed(customers=0, **SMALL)
    world.erp.clock.freeze(T0_MS)
    # No key written back to Repzo: as when the run died before its write-backs.
    config = world.config(
        CUSTOMER_FLOWS.replace(
            "  target: {connector: erp, stream: customers}\n",
            "  target: {connector: erp, stream: customers}\n  write_back: false\n",
        )
    )
    world.sync(config, "price-lists")
    world.repzo.insert(
        "client",
        [
            {"name": f"Shop {n}", "client_code": f"F-{n}", "updatedAt": "2026-11-30T00:00:00Z"}
            for n in range(SHOPS)
        ],
    )
    [created] = world.sync(config, "customers-repzo-to-erp")
    assert created.counts.created == SHOPS
    _lose_the_erp_links(world)
    world.tick()

    [reverse] = world.sync(config, "customers-erp-to-repzo")
    world.tick()
    [forward] = world.sync(config, "customers-repzo-to-erp")

    clients = world.repzo.documents("client")
    customers = world.erp.records("customers")
    assert len(clients) == SHOPS, f"duplicates in Repzo: {Counter(c['name'] for c in clients)}"
    assert len(customers) == SHOPS
    assert reverse.counts.created == 0 and forward.counts.created == 0
    links = _links(world)
    assert len(links) == SHOPS
    assert all(set(sides) == {"repzo", "erp"} for sides in links.values()), links
