"""Conflicts are decided by the pair's policy, not by who runs last (invariant 4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncer.cli import app
from syncer.config.models import ConflictSettings
from syncer.engine.conflicts import decide
from syncer.state.models import DeadLetter
from tests.engine.conftest import KEY, PASSWORD, T0_MS, USER, World, store_for

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}


# -- the decision table ------------------------------------------------------------------


def d(settings=None, **kwargs):
    base = {
        "source": "erp",
        "target": "repzo",
        "source_synced": {"phone": "1", "name": "A", "email": "a@x"},
        "target_synced": {"phone": "1", "name": "A", "email": "a@x"},
        "fields": ["phone", "name", "email"],
        "settings": settings,
    }
    base.update(kwargs)
    return decide(**base)


def test_a_change_on_one_side_only_goes_through():
    decision = d(
        source_now={"phone": "2", "name": "A", "email": "a@x"},
        target_now={"phone": "1", "name": "A", "email": "a@x"},
    )
    assert decision.write == {"phone"} and not decision.kept and not decision.undecided


def test_a_change_only_on_the_target_is_not_overwritten():
    decision = d(
        source_now={"phone": "1", "name": "A", "email": "a@x"},
        target_now={"phone": "9", "name": "A", "email": "a@x"},
    )
    assert decision.write == set() and not decision.undecided


def test_the_same_change_on_both_sides_is_no_conflict():
    decision = d(
        source_now={"phone": "7", "name": "A"},
        target_now={"phone": "7", "name": "A"},
        fields=["phone", "name"],
    )
    assert decision.write == set() and not decision.reasons


def test_ownership_gives_each_field_to_its_owner_and_the_rest_to_a_person():
    settings = ConflictSettings(policy="ownership", owners={"name": "erp", "phone": "repzo"})
    decision = d(
        settings,
        source_now={"phone": "2", "name": "B", "email": "b@x"},
        target_now={"phone": "3", "name": "C", "email": "c@x"},
    )
    assert (
        decision.write == {"name"}
        and decision.kept == {"phone"}
        and decision.undecided == {"email"}
    )
    assert decision.reasons["email"] == "both sides changed email and no owner is configured for it"


def test_prefer_a_side():
    decision = d(
        ConflictSettings(policy="prefer", prefer="repzo"),
        source_now={"phone": "2", "name": "A", "email": "a@x"},
        target_now={"phone": "3", "name": "A", "email": "a@x"},
    )
    assert decision.kept == {"phone"} and not decision.write


@pytest.mark.parametrize(
    ("gap", "write", "kept", "undecided"),
    [
        (timedelta(minutes=10), {"phone"}, set(), set()),
        (timedelta(minutes=-10), set(), {"phone"}, set()),
        (timedelta(seconds=30), set(), set(), {"phone"}),
    ],
)
def test_newest_wins_outside_the_clock_skew(gap, write, kept, undecided):
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    decision = d(
        ConflictSettings(policy="newest", clock_skew=timedelta(minutes=2)),
        source_now={"phone": "2", "name": "A", "email": "a@x"},
        target_now={"phone": "3", "name": "A", "email": "a@x"},
        source_time=now + gap,
        target_time=now,
    )
    assert (decision.write, decision.kept, decision.undecided) == (write, kept, undecided)


# -- end to end -------------------------------------------------------------------------------


def pair(conflict: str) -> str:
    return f"""
- name: price-lists
  source: {{connector: erp, stream: price_lists}}
  target: {{connector: repzo, stream: pricelists}}
- name: customers-erp-to-repzo
  source: {{connector: erp, stream: customers}}
  target: {{connector: repzo, stream: client}}
- name: customers-repzo-to-erp
  source: {{connector: repzo, stream: client}}
  target: {{connector: erp, stream: customers}}
  conflict: {conflict}
"""


def synced_pair(world: World, conflict: str):
    world.erp.seed(customers=5, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = world.config(pair(conflict))
    world.sync(config, "price-lists", "customers-erp-to-repzo")
    world.tick()
    world.sync(config, "customers-repzo-to-erp")
    world.tick()
    return config


def edit_both(world: World, customer: str, erp: dict, repzo: dict) -> None:
    client = next(c for c in world.repzo.documents("client") if c["client_code"] == customer)
    httpx.patch(
        f"{world.erp.url}/api/v1/customers/{customer}",
        json=erp,
        auth=(USER, PASSWORD),
        headers={"content-type": "application/merge-patch+json"},
    ).raise_for_status()
    httpx.put(
        f"{world.repzo.url}/client/{client['_id']}", json=repzo, headers={"api-key": KEY}
    ).raise_for_status()
    world.tick()


def both(world: World, customer: str) -> tuple[dict, dict]:
    client = next(c for c in world.repzo.documents("client") if c["client_code"] == customer)
    return world.erp.get("customers", customer), client


def test_ownership_end_to_end_whoever_runs_first(world):
    config = synced_pair(world, "{policy: ownership, owners: {name: erp, phone: repzo}}")
    edit_both(
        world,
        "C-00002",
        {"name": "ERP name", "phone": "111"},
        {"name": "Repzo name", "phone": "222"},
    )
    [forward] = world.sync(config, "customers-erp-to-repzo")  # the ERP side runs first
    assert forward.counts.conflicts == 1
    world.tick()
    world.sync(config, "customers-repzo-to-erp")
    world.tick()
    world.sync(config, "customers-erp-to-repzo")
    erp, repzo = both(world, "C-00002")
    assert erp["name"] == repzo["name"] == "ERP name"  # the ERP owns names
    assert erp["phone"] == repzo["phone"] == "222"  # Repzo owns phones


def test_an_undecidable_conflict_waits_for_a_person(world, runner):
    config = synced_pair(world, "{policy: ownership, owners: {name: erp}}")
    edit_both(world, "C-00003", {"email": "erp@example.com"}, {"email": "field@example.com"})
    world.sync(config, "customers-erp-to-repzo")
    world.tick()
    world.sync(config, "customers-repzo-to-erp")
    erp, repzo = both(world, "C-00003")
    assert (
        erp["email"] == "erp@example.com" and repzo["email"] == "field@example.com"
    )  # nobody overwritten

    path = str(world.folder / "syncer.yaml")
    listed = runner.invoke(app, ["conflicts", "list", "--json", "-c", path])
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.stdout)
    assert entry["fields"]["email"] == {
        "erp": "erp@example.com",
        "repzo": "field@example.com",
        "synced": entry["fields"]["email"]["synced"],
    }
    assert "no owner is configured" in entry["reason"]

    resolved = runner.invoke(
        app, ["conflicts", "resolve", str(entry["id"]), "--take", "repzo", "-c", path]
    )
    assert resolved.exit_code == 0, resolved.output
    erp, repzo = both(world, "C-00003")
    assert erp["email"] == repzo["email"] == "field@example.com"
    assert json.loads(runner.invoke(app, ["conflicts", "list", "--json", "-c", path]).stdout) == []
    world.tick()
    results = world.sync(config, "customers-erp-to-repzo", "customers-repzo-to-erp")
    assert all(r.counts.conflicts == 0 for r in results)


def test_prefer_end_to_end(world):
    config = synced_pair(world, "{policy: prefer, prefer: erp}")
    edit_both(world, "C-00001", {"phone": "from erp"}, {"phone": "from repzo"})
    world.sync(config, "customers-repzo-to-erp")
    world.tick()
    world.sync(config, "customers-erp-to-repzo")
    erp, repzo = both(world, "C-00001")
    assert erp["phone"] == repzo["phone"] == "from erp"


def test_a_target_whose_last_sync_was_never_recorded_is_decided_by_the_policy():
    """A run stopped between linking the target and committing what it synced: a difference
    may be an edit made there since, so the policy decides instead of the source winning."""
    settings = ConflictSettings(policy="ownership", owners={"name": "erp", "phone": "repzo"})
    decision = d(
        settings,
        source_synced=None,
        target_synced=None,
        target_unknown=True,
        source_now={"phone": "1", "name": "B", "email": "a@x"},
        target_now={"phone": "2", "name": "C", "email": "b@x"},
    )
    # The owner decides; a field nobody owns takes the source's value (the code an ERP gave
    # the record must reach the other side), and nothing waits for review on a guess.
    assert (decision.write, decision.kept, decision.undecided) == (
        {"name", "email"},
        {"phone"},
        set(),
    )
    assert "never recorded" in decision.reasons["phone"]
    # A target found by lookup and never linked before: the source's values go through.
    first = d(
        settings,
        source_synced=None,
        target_synced=None,
        source_now={"phone": "1", "name": "B", "email": "a@x"},
        target_now={"phone": "2", "name": "C", "email": "b@x"},
    )
    assert first.write == {"phone", "name", "email"}


def test_a_record_the_target_does_not_return_waits_instead_of_overwriting_its_owner(
    world, monkeypatch
):
    """The other side's current version is what the pair's policy decides on: when its lookup
    misses the record (a replica behind, a record that cannot be read), deciding as a one-way
    flow would write this side's edit over a field the other side owns."""
    from connectors.erp_stub.connector import ErpStubConnector
    from syncer.engine.engine import Engine

    config = synced_pair(world, "{policy: ownership, owners: {name: erp, phone: repzo}}")
    edit_both(world, "C-00002", {"name": "ERP name"}, {"name": "Repzo name"})
    lookup = ErpStubConnector.lookup

    async def missing_c2(self, stream, field, values):
        return [r for r in await lookup(self, stream, field, values) if r["id"] != "C-00002"]

    with monkeypatch.context() as patch:
        patch.setattr(ErpStubConnector, "lookup", missing_c2)
        [back] = world.sync(config, "customers-repzo-to-erp")
    assert back.status == "partial" and back.counts.failed == 1
    assert world.erp.get("customers", "C-00002")["name"] == "ERP name"  # not overwritten
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            [letter] = session.query(DeadLetter).filter_by(status="pending").all()
            assert letter.flow == "customers-repzo-to-erp"
            assert "did not return its record C-00002" in letter.reason
    finally:
        store.close()

    world.sync(config, "customers-erp-to-repzo")
    world.tick()

    async def retry(engine: Engine) -> int:
        return (await engine.retry_dead_letters("customers-repzo-to-erp")).retried

    assert world.with_engine(config, retry) == 1
    erp, repzo = both(world, "C-00002")
    assert erp["name"] == repzo["name"] == "ERP name"  # the ERP owns names
