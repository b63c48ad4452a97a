"""A record syncer created whose link it never recorded (the process died between the target's
201 and the commit, or the run's retry budget ran out mid-batch) must not come back as a new
record through the other half of a pair: that is how a two-way sync makes duplicates."""

from __future__ import annotations

from collections import Counter

import httpx
from sqlalchemy import delete, select

from syncer.config import load_config
from syncer.state.models import IdMapEntry
from tests.engine.conftest import CUSTOMER_FLOWS, KEY, T0_MS, World, store_for

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


def test_a_batch_cut_short_by_a_spent_retry_budget_records_what_went_through(world: World):
    """Writes go out several at once. When one of them spends the run's retry budget, the
    writes that Repzo already answered 201 are recorded before the run stops: their links
    (so nothing depends on a lookup to find them again) and the rest of the batch waits for
    the next run."""
    world.erp.seed(customers=60, **SMALL)
    world.erp.clock.freeze(T0_MS)
    world.config(CUSTOMER_FLOWS)
    path = world.folder / "syncer.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "namespace: demo}", "namespace: demo, max_retry_wait: 1s}", 1
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    world.sync(config, "price-lists")
    world.repzo.set_faults(rate_429=0.2, retry_after=5, method="POST", path="^/client$", seed=3)

    [cut] = world.sync(config, "customers-erp-to-repzo")

    assert cut.status == "failed"
    created = {client["_id"] for client in world.repzo.documents("client")}
    assert 0 < len(created) < 60
    linked = {
        sides["repzo"] for sides in _links(world).values() if "repzo" in sides and "erp" in sides
    }
    assert linked == created

    world.repzo.clear_faults()
    world.tick()
    [rest] = world.sync(config, "customers-erp-to-repzo")
    assert rest.status == "succeeded"
    assert rest.counts.created == 60 - len(created)
    assert len(world.repzo.documents("client")) == 60


def test_a_field_edit_survives_an_unrecorded_create_of_its_record(world: World) -> None:
    """The run that created the ERP customer died after the ERP's 201: neither side's
    last-synced values were recorded. Meanwhile the field rep edits the phone in Repzo. When
    the ERP's copy (the older phone) is read and linked by the canonical id it carries,
    nothing tells syncer which side changed, so the pair's policy decides, as for an edit on
    both sides; the older phone never overwrites the edit."""
    world.erp.seed(customers=0, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = world.config(
        CUSTOMER_FLOWS.replace(
            "  target: {connector: erp, stream: customers}\n",
            "  target: {connector: erp, stream: customers}\n  write_back: false\n"
            "  conflict: {policy: ownership, owners: {name: erp, phone: repzo}}\n",
        )
    )
    world.sync(config, "price-lists")
    world.repzo.insert(
        "client",
        [
            {
                "name": "Shop",
                "client_code": "F-1",
                "phone": "111",
                "updatedAt": "2026-11-30T00:00:00Z",
            }
        ],
    )
    [created] = world.sync(config, "customers-repzo-to-erp")
    assert created.counts.created == 1
    _lose_the_erp_links(world)
    store = store_for(world.store_url)
    try:
        with store.session() as session:  # nor was the Repzo side's snapshot committed
            for row in session.scalars(select(IdMapEntry).where(IdMapEntry.connector == "repzo")):
                row.snapshot = None
                row.content_hash = None
    finally:
        store.close()
    [client] = world.repzo.documents("client")
    httpx.put(
        f"{world.repzo.url}/client/{client['_id']}", json={"phone": "222"}, headers={"api-key": KEY}
    ).raise_for_status()
    world.tick()

    world.sync(config, "customers-erp-to-repzo")
    world.tick()
    world.sync(config, "customers-repzo-to-erp")

    [client] = world.repzo.documents("client")
    [customer] = world.erp.records("customers")
    assert client["phone"] == customer["phone"] == "222"
    assert len(_links(world)) == 1
