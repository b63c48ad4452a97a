"""One ``syncer sync`` of a two-way pair leaves it settled: what the second half wrote to the
first half's source is read back at once, rather than one run later."""

from __future__ import annotations

from tests.engine.conftest import CUSTOMER_FLOWS, T0_MS, World

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
PAIR = ("price-lists", "customers-erp-to-repzo", "customers-repzo-to-erp")


def test_a_code_the_erp_gives_a_new_shop_reaches_repzo_in_the_same_sync(world: World) -> None:
    world.erp.seed(customers=3, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = world.config(CUSTOMER_FLOWS)
    world.repzo.insert(
        "client",
        [{"name": "Field Shop", "client_code": "F-1", "updatedAt": "2026-11-30T00:00:00Z"}],
    )

    results = world.sync(config, *PAIR)

    [shop] = [c for c in world.repzo.documents("client") if c["name"] == "Field Shop"]
    [customer] = [c for c in world.erp.records("customers") if c["name"] == "Field Shop"]
    assert shop["client_code"] == customer["id"] != "F-1"
    settle = results[-1]
    assert (settle.label, settle.counts.updated) == ("customers-erp-to-repzo (read back)", 1)

    # Settled: the next sync has nothing to write on either side.
    world.tick()
    again = world.sync(config, *PAIR)
    assert sum(r.counts.created + r.counts.updated for r in again) == 0
    assert [r.flow for r in again] == list(PAIR)  # nothing left to read back, no extra run
