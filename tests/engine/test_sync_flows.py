"""The engine end to end over real HTTP: ERP stub <-> sandbox Repzo, on SQLite and PostgreSQL.

Every test here defends an invariant of the design brief and fails without it.
"""

from __future__ import annotations

import httpx

from syncer.engine.engine import Engine
from syncer.state.models import DeadLetter, IdMapEntry
from tests.engine.conftest import (
    CUSTOMER_FLOWS,
    INVOICE_FLOWS,
    MASTER_DATA_FLOWS,
    PASSWORD,
    T0_MS,
    USER,
    World,
    insert_invoice,
    killed_at,
    store_for,
)

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}


def seed_customers(world: World, count: int) -> None:
    world.erp.seed(customers=count, **SMALL)
    world.erp.clock.freeze(T0_MS)


def writes(world: World) -> int:
    return sum(
        count
        for resource, count in world.repzo.stats().change_events.items()
        if not resource.startswith("integration")
    )


def test_first_sync_creates_and_a_resync_writes_nothing(world):
    seed_customers(world, 60)
    config = world.config(CUSTOMER_FLOWS)
    results = world.sync(config, "price-lists", "customers-erp-to-repzo")
    assert [r.status for r in results] == ["succeeded", "succeeded"]
    assert results[1].counts.created == 60
    clients = world.repzo.documents("client")
    assert len(clients) == 60
    sample = next(c for c in clients if c["client_code"] == "C-00001")
    assert sample["integration_meta"]["id"] == "demo_C-00001"
    assert sample["sv_priceList"] in {p["_id"] for p in world.repzo.documents("pricelist")}
    assert isinstance(sample["financials"]["credit_limit"], int)  # money x1000

    world.repzo.reset_stats()
    world.erp.clock.advance(60_000)
    world.erp.mutate(customers=0)  # nothing changes
    world.tick()
    again = world.sync(config, "customers-erp-to-repzo")
    assert writes(world) == 0
    assert again[0].counts.created == again[0].counts.updated == 0


def test_our_own_writes_do_not_come_back(world):
    seed_customers(world, 25)
    config = world.config(CUSTOMER_FLOWS)
    world.sync(config, "price-lists", "customers-erp-to-repzo")
    world.tick()
    world.erp.stats()  # the ERP stub counts writes; none may happen now
    before = world.erp.stats().writes
    [back] = world.sync(config, "customers-repzo-to-erp")
    assert back.counts.read == 25 and back.counts.unchanged == 25 and back.counts.echoes == 25
    assert back.counts.updated == back.counts.created == 0
    assert world.erp.stats().writes == before


def test_changes_on_each_side_reach_the_other_and_nothing_else_is_written(world):
    seed_customers(world, 30)
    config = world.config(CUSTOMER_FLOWS)
    world.sync(config, "price-lists", "customers-erp-to-repzo")
    world.tick()
    world.sync(config, "customers-repzo-to-erp")  # echoes only

    world.tick()
    changed = world.erp.mutate(customers=4, seed=1)["customers"]
    target = next(c for c in world.repzo.documents("client") if c["client_code"] not in changed)
    world.repzo.set_options()  # no-op, keeps the sandbox honest about options
    world.tick()
    world.repzo.reset_stats()
    [forward] = world.sync(config, "customers-erp-to-repzo")
    assert forward.counts.updated == 4 and writes(world) == 4

    # A rep edits a phone in Repzo: it goes to the ERP, and nothing bounces back.
    world.repzo.clock.advance(1000)
    import httpx

    from tests.engine.conftest import KEY

    httpx.put(
        f"{world.repzo.url}/client/{target['_id']}",
        json={"phone": "+962 79 000 1111"},
        headers={"api-key": KEY},
    )
    world.tick()
    [backward] = world.sync(config, "customers-repzo-to-erp")
    assert backward.counts.updated == 1
    assert world.erp.get("customers", target["client_code"])["phone"] == "+962 79 000 1111"
    world.tick()
    world.repzo.reset_stats()
    [forward_again] = world.sync(config, "customers-erp-to-repzo")
    assert forward_again.counts.updated == 0 and writes(world) == 0


def test_a_customer_created_in_the_field_gets_its_erp_key_written_back_once(world):
    seed_customers(world, 5)
    config = world.config(CUSTOMER_FLOWS)
    world.sync(config, "price-lists", "customers-erp-to-repzo")
    world.tick()
    world.repzo.insert(
        "client", [{"name": "Field shop", "client_code": "FIELD-1", "phone": "+962 79 1"}]
    )
    [shop] = [c for c in world.repzo.documents("client") if c["name"] == "Field shop"]
    world.tick()
    world.repzo.reset_stats()
    [back] = world.sync(config, "customers-repzo-to-erp")
    assert back.counts.created == 1 and back.counts.echoes == 5
    [customer] = [c for c in world.erp.records("customers") if c["name"] == "Field shop"]
    [annotated] = [c for c in world.repzo.documents("client") if c["_id"] == shop["_id"]]
    # The ERP's key, by the Repzo convention, through update-integration-meta: no updatedAt
    # change, so no change event and nothing for the ERP -> Repzo flow to pick up.
    assert annotated["integration_meta"]["id"] == f"demo_{customer['id']}"
    assert annotated["updatedAt"] == shop["updatedAt"]
    stats = world.repzo.stats()
    assert stats.meta_updates == {"client": 1} and writes(world) == 0
    world.tick()
    world.repzo.reset_stats()
    [forward] = world.sync(config, "customers-erp-to-repzo")
    # The ERP's own values of its new customer (its code, its defaults) come back as an update
    # of the same client, never as a second one.
    assert forward.counts.created == 0 and forward.counts.updated == 1
    clients = world.repzo.documents("client")
    assert len(clients) == 6
    [shop] = [c for c in clients if c["_id"] == shop["_id"]]
    assert shop["client_code"] == customer["id"]
    world.tick()
    world.repzo.reset_stats()
    world.sync(config, "customers-repzo-to-erp", "customers-erp-to-repzo")
    assert writes(world) == 0 and world.repzo.stats().meta_updates == {}


CLIENTS_TO_CSV = """
- name: clients-to-csv
  source: {connector: repzo, stream: client}
  target: {connector: drop, stream: customers}
"""


def test_records_that_already_carry_their_key_are_not_annotated_again(world):
    seed_customers(world, 20)
    config = world.config(CUSTOMER_FLOWS + CLIENTS_TO_CSV)
    world.sync(config, "price-lists", "customers-erp-to-repzo")
    world.tick()
    world.repzo.reset_stats()
    [run] = world.sync(config, "clients-to-csv")
    active = [c for c in world.repzo.documents("client") if not c.get("disabled")]
    # Linked to the ERP already, but never written to this drop: every active one is created.
    assert run.counts.created == len(active) and run.counts.skipped == 20 - len(active)
    # Every client already holds integration_meta.id = demo_<code>, the key the CSV row gets.
    assert world.repzo.stats().meta_updates == {}


async def retry_customers(engine: Engine) -> int:
    return (await engine.retry_dead_letters("customers-erp-to-repzo")).retried


def test_a_refused_record_does_not_block_its_page_and_is_retried_once_fixed(world):
    seed_customers(world, 40)
    config = world.config(CUSTOMER_FLOWS)
    world.sync(config, "price-lists")
    world.repzo.script_fault("reject", 1, method="POST", path="/client")
    [run] = world.sync(config, "customers-erp-to-repzo")
    assert run.status == "partial"
    assert run.counts.created == 39 and run.counts.failed == 1
    store = store_for(world.store_url)
    with store.session() as session:
        [letter] = session.query(DeadLetter).all()
        assert letter.status == "pending" and letter.attempts == 1 and letter.status_code == 400
        assert letter.payload["id"] == letter.record_key
    store.close()

    # The cause is gone: the retry (due now) creates it, once.
    assert world.with_engine(config, retry_customers) == 1
    assert len(world.repzo.documents("client")) == 40
    store = store_for(world.store_url)
    with store.session() as session:
        assert session.query(DeadLetter).one().status == "resolved"
    store.close()


def test_a_dead_letter_is_retried_as_its_record_is_now_not_as_it_was_kept(world):
    """The payload kept with a dead letter is the record when it failed: retried as kept, an
    edit made since would be overwritten by the older version (until the next scan)."""
    seed_customers(world, 3)
    config = world.config(CUSTOMER_FLOWS)
    world.sync(config, "price-lists")
    world.repzo.script_fault("reject", 1, method="POST", path="/client")
    [run] = world.sync(config, "customers-erp-to-repzo")
    assert run.counts.failed == 1
    store = store_for(world.store_url)
    with store.session() as session:
        key = session.query(DeadLetter).one().record_key
    store.close()
    httpx.patch(
        f"{world.erp.url}/api/v1/customers/{key}",
        json={"name": "Renamed since"},
        auth=(USER, PASSWORD),
        headers={"content-type": "application/merge-patch+json"},
    ).raise_for_status()

    assert world.with_engine(config, retry_customers) == 1
    [client] = [c for c in world.repzo.documents("client") if c["client_code"] == key]
    assert client["name"] == "Renamed since"


def test_a_missing_reference_waits_and_resolves_when_its_record_arrives(world):
    seed_customers(world, 5)
    config = world.config(CUSTOMER_FLOWS)
    [run] = world.sync(config, "customers-erp-to-repzo")  # price lists not synced yet
    assert run.counts.failed == 5
    store = store_for(world.store_url)
    with store.session() as session:
        reasons = {letter.reason for letter in session.query(DeadLetter).all()}
    store.close()
    assert any(reason.startswith("waiting for price_list PL-") for reason in reasons), reasons
    world.sync(config, "price-lists")
    assert world.with_engine(config, retry_customers) == 5
    assert len(world.repzo.documents("client")) == 5


def test_records_changed_while_a_scan_pages_arrive_by_the_next_run(world):
    world.repzo.seed("client", 900, updated_at=T0_MS - 60_000)
    config = world.config(
        """
        - name: clients-to-csv
          source: {connector: repzo, stream: client}
          target: {connector: drop, stream: customers}
        """,
        page_size=100,
    )
    world.repzo.clock.unfreeze()
    world.repzo.clock.set_offset(0)
    world.repzo.clock.freeze(T0_MS)
    world.repzo.mutate_while_paging("client", on_request=4, count=30, among="both", seed=2)
    world.sync(config, "clients-to-csv")
    mutated = set(world.repzo.stats().mutations["client"])
    assert len(mutated) == 30
    world.tick()
    [second] = world.sync(config, "clients-to-csv")
    assert second.counts.read >= len(mutated - set())  # every mutated record is read again
    rows = (world.folder / "drop" / "customers.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 901  # header + every client exactly once
    ids = [line.split(",")[0] for line in rows[1:]]
    assert len(set(ids)) == 900


def test_a_page_of_one_timestamp_advances_and_the_boundary_is_not_redone(world):
    stamp = T0_MS - 5_000  # exactly the first scan's bound (T0 minus the 5s margin)
    world.repzo.seed("client", 450, updated_at=stamp)
    config = world.config(
        """
        - name: clients-to-csv
          source: {connector: repzo, stream: client}
          target: {connector: drop, stream: customers}
        """,
        page_size=100,
    )
    [first] = world.sync(config, "clients-to-csv")
    assert first.counts.created == 450  # five pages, all one timestamp: the keyset still advances
    world.tick()
    [second] = world.sync(config, "clients-to-csv")
    # The boundary instant is read again (the filter may be inclusive) and dropped by (id, hash).
    assert second.counts.read == 450 and second.counts.unchanged == 450
    assert second.counts.created == second.counts.updated == 0


def test_an_invoice_is_pushed_once_even_when_the_run_dies_after_the_erp_took_it(world):
    world.erp.seed(customers=3, items=2, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    config = world.config(INVOICE_FLOWS)
    world.sync(config, *MASTER_DATA_FLOWS)
    insert_invoice(world, "INV-1021-4")
    world.tick()

    from syncer.engine import commit

    with killed_at(commit, "commit"):  # right after the ERP accepted the invoice
        world.sync(config, "invoices")
    assert len(world.erp.records("invoices")) == 1
    [rerun] = world.sync(config, "invoices")
    assert rerun.status == "succeeded"
    invoices = world.erp.records("invoices")
    assert len(invoices) == 1 and invoices[0]["number"] == "INV-1021-4"
    assert invoices[0]["total"] == "5.800"
    store = store_for(world.store_url)
    with store.session() as session:
        link = session.query(IdMapEntry).filter_by(connector="erp", stream="invoices").one()
        assert link.native_id == invoices[0]["id"]
    store.close()


def test_a_csv_target_shows_every_row_when_its_run_ends(world):
    """The CSV connector journals batches; the run's end (not the engine's) rewrites the file,
    so a daemon that keeps its connectors open still publishes each run's rows."""
    seed_customers(world, 30)
    config = world.config(CUSTOMER_FLOWS + CLIENTS_TO_CSV + "  batch_size: 7\n")
    world.sync(config, "price-lists", "customers-erp-to-repzo")
    world.tick()
    drop = world.folder / "drop"

    async def run_and_look(engine: Engine) -> tuple[int, list[str], bool]:
        [run] = await engine.sync(["clients-to-csv"])  # the engine is still open here
        rows = (drop / "customers.csv").read_text(encoding="utf-8-sig").splitlines()
        return run.counts.created, rows, (drop / ".customers.csv.journal").exists()

    created, rows, journal_left = world.with_engine(config, run_and_look)
    assert created > 7 and len(rows) == created + 1  # the header, then one row per client
    assert not journal_left
