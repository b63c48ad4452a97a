"""A flow writes to its source only where a write-back serves a purpose, and never overwrites a
key it did not write: a one-way export leaves Repzo alone, a two-way pair links both ways, and
a record another integration already linked becomes a conflict for a person."""

from __future__ import annotations

import csv
import json

import pytest

from syncer.cli import app
from syncer.errors import ConfigError
from syncer.state.models import Conflict
from tests.engine.conftest import CUSTOMER_FLOWS, EXPORT_FLOW, T0_MS, World, store_for

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}


def linked_elsewhere(world: World, count: int) -> dict[str, str]:
    """Clients another integration linked (``integration_meta.id = demo_C...``), as JSON."""
    world.repzo.seed("client", count, updated_at=T0_MS - 60_000)
    return {c["_id"]: json.dumps(c, sort_keys=True) for c in world.repzo.documents("client")}


def test_a_one_way_export_writes_nothing_to_its_source(world, runner):
    before = linked_elsewhere(world, 300)
    path = world.user_config()
    world.repzo.reset_stats()
    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])
    assert result.exit_code == 0, result.output
    assert world.repzo.stats().writes() == 0  # not one request that changes anything
    after = {c["_id"]: json.dumps(c, sort_keys=True) for c in world.repzo.documents("client")}
    assert after == before  # every integration_meta byte-identical
    with (world.folder / "exports" / "customers.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300 and rows[0]["code"].startswith("C")
    check = runner.invoke(app, ["check", "--offline", "-c", path])
    assert check.exit_code == 0, check.output
    assert (
        "clients-to-csv: writes keys back to repzo.client: no, because drop.customers keeps each "
        "record's own key" in check.stdout
    )


def test_write_back_true_on_an_export_links_and_still_overwrites_nothing(world, runner):
    linked_elsewhere(world, 3)
    fresh = world.repzo.insert(
        "client",
        [{"name": "Field Shop", "client_code": "F-1", "updatedAt": "2026-11-30T00:00:00.000Z"}],
    )[0]
    path = world.user_config(EXPORT_FLOW + "  write_back: true\n")
    world.repzo.reset_stats()
    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])
    assert result.exit_code == 0, result.output
    # The one client without a key got ours; the three linked by another integration kept
    # theirs and are conflicts for a person, with both keys.
    assert world.repzo.stats().meta_updates == {"client": 1}
    clients = {c["_id"]: c for c in world.repzo.documents("client")}
    assert clients[fresh]["integration_meta"]["id"] == "acme_F-1"
    others = [c for c in clients.values() if c["_id"] != fresh]
    assert all(c["integration_meta"]["id"].startswith("demo_") for c in others)
    listed = json.loads(runner.invoke(app, ["conflicts", "list", "--json", "-c", path]).stdout)
    assert len(listed) == 3
    sample = listed[0]
    keys = sample["fields"]["integration_meta.id"]
    assert keys["repzo"].startswith("demo_C") and keys["drop"].startswith("acme_C")
    assert "never overwrites a key it did not write" in sample["reason"]

    # A person takes syncer's key for one of them: only then is it written.
    taken = runner.invoke(
        app, ["conflicts", "resolve", str(sample["id"]), "--take", "drop", "-c", path]
    )
    assert taken.exit_code == 0, taken.output
    record = sample["records"]["repzo"]
    assert world.repzo.get_document("client", record)["integration_meta"]["id"] == keys["drop"]
    kept = runner.invoke(
        app, ["conflicts", "resolve", str(listed[1]["id"]), "--take", "repzo", "-c", path]
    )
    assert kept.exit_code == 0, kept.output
    other = listed[1]["records"]["repzo"]
    assert world.repzo.get_document("client", other)["integration_meta"]["id"].startswith("demo_")


def test_a_two_way_pair_writes_keys_back_and_never_over_another_key(world):
    world.erp.seed(customers=0, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = world.config(CUSTOMER_FLOWS)
    world.sync(config, "price-lists")
    stamp = "2026-11-30T00:00:00.000Z"
    [new, linked] = world.repzo.insert(
        "client",
        [
            {"name": "New Shop", "client_code": "F-1", "updatedAt": stamp},
            {
                "name": "Linked Shop",
                "client_code": "F-2",
                "updatedAt": stamp,
                "integration_meta": {"id": "other_X-9"},
            },
        ],
    )
    world.repzo.reset_stats()
    [run] = world.sync(config, "customers-repzo-to-erp")
    assert run.status == "succeeded" and run.counts.created == 2 and run.counts.conflicts == 1
    erp_ids = {c["name"]: c["id"] for c in world.erp.records("customers")}
    assert world.repzo.get_document("client", new)["integration_meta"]["id"] == (
        f"demo_{erp_ids['New Shop']}"
    )
    assert world.repzo.get_document("client", linked)["integration_meta"] == {"id": "other_X-9"}
    assert world.repzo.stats().meta_updates == {"client": 1}
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            [conflict] = session.query(Conflict).all()
            assert conflict.kind == "key" and conflict.status == "open"
            assert conflict.fields == {
                "integration_meta.id": {
                    "repzo": "other_X-9",
                    "erp": f"demo_{erp_ids['Linked Shop']}",
                }
            }
    finally:
        store.close()


def test_write_back_false_keeps_a_pair_from_writing_to_its_source(world):
    world.erp.seed(customers=0, **SMALL)
    world.erp.clock.freeze(T0_MS)
    flows = CUSTOMER_FLOWS.replace(
        "  target: {connector: erp, stream: customers}\n",
        "  target: {connector: erp, stream: customers}\n  write_back: false\n",
    )
    config = world.config(flows)
    world.sync(config, "price-lists")
    world.repzo.insert(
        "client", [{"name": "New Shop", "client_code": "F-1", "updatedAt": "2026-11-30T00:00:00Z"}]
    )
    world.repzo.reset_stats()
    [run] = world.sync(config, "customers-repzo-to-erp")
    assert run.counts.created == 1
    assert world.repzo.stats().writes() == 0


def test_write_back_true_where_the_source_cannot_store_keys_is_refused(world, runner):
    flows = CUSTOMER_FLOWS.replace(
        "  target: {connector: repzo, stream: client}\n",
        "  target: {connector: repzo, stream: client}\n  write_back: true\n",
    )
    with pytest.raises(ConfigError):
        world.config(flows)  # the file is written, then refused
    result = runner.invoke(app, ["check", "--offline", "-c", str(world.folder / "syncer.yaml")])
    assert result.exit_code == 2
    assert "flows[1].write_back: write_back is true, but erp (erp_stub) cannot store" in (
        result.stderr
    )
