"""A run that resumes an interrupted scan does not stop at the old scan's end: it goes on, in
the same run, with a fresh window up to now, so "succeeded" means everything changed before
the run started has arrived."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from syncer.engine import commit as commit_stage
from syncer.engine import idmap
from syncer.engine import runner as flow_runner
from syncer.state.models import Cursor, IdMapEntry
from tests.engine.conftest import T0_MS, killed_at, store_for

FLOW = """
- name: clients-to-csv
  source: {connector: repzo, stream: client}
  target: {connector: drop, stream: customers}
  batch_size: 25
"""


def exported(world) -> dict[str, dict[str, str]]:
    with (world.folder / "drop" / "customers.csv").open(encoding="utf-8-sig") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


def test_a_resumed_scan_goes_on_to_what_changed_since_it_began(world, monkeypatch):
    ids = world.repzo.seed("client", 100, updated_at=T0_MS - 60_000)
    config = world.config(FLOW, page_size=25)
    real_process = flow_runner.FlowRun.process

    async def stop_after_one(self, records, extra_failures=(), on_commit=None):
        outcome = await real_process(self, records, extra_failures, on_commit)
        self.stop.set()  # SIGTERM arrives: the page in hand is finished, then the run stops
        return outcome

    with monkeypatch.context() as patch:
        patch.setattr(flow_runner.FlowRun, "process", stop_after_one)
        [stopped] = world.sync(config, "clients-to-csv")
    assert stopped.status == "stopped" and stopped.counts.read == 25
    store = store_for(world.store_url)
    with store.session() as session:
        assert session.get(Cursor, "clients-to-csv").scan is not None  # where it stopped
    store.close()

    # Meanwhile clients change, after the interrupted scan's upper bound.
    world.tick(30)
    for doc_id, name in ((ids[0], "first, edited"), (ids[-1], "last, edited")):
        world.repzo.service.edit("client", [doc_id], {"name": name})  # stamped now
    world.tick(30)

    [resumed] = world.sync(config, "clients-to-csv")
    assert resumed.status == "succeeded"
    rows = exported(world)
    assert len(rows) == 100
    names = {row["name"] for row in rows.values()}
    assert {"first, edited", "last, edited"} <= names  # the fresh window, in the same run


@pytest.mark.parametrize(
    ("batch_size", "batches"),
    [
        ("1000", [100]),
        ("50", [50, 50]),
        ("60", [75, 25]),
        ("25", [25, 25, 25, 25]),
        # A slow source still has its records committed every batch_wait at least.
        ("1000\n  batch_wait: 0s", [25, 25, 25, 25]),
    ],
)
def test_pages_are_gathered_into_batches_one_commit_each(world, monkeypatch, batch_size, batches):
    world.repzo.seed("client", 100, updated_at=T0_MS - 60_000)
    config = world.config(FLOW.replace("batch_size: 25", f"batch_size: {batch_size}"), page_size=25)
    real_commit = commit_stage.commit
    committed: list[int] = []

    def counting(scope, outcomes, **rest):
        committed.append(len(outcomes) + len(rest.get("unchanged", ())))
        return real_commit(scope, outcomes, **rest)

    monkeypatch.setattr(commit_stage, "commit", counting)
    [run] = world.sync(config, "clients-to-csv")
    assert run.status == "succeeded" and run.counts.created == 100
    # Whole pages of 25 are gathered until a batch holds batch_size records or more: one
    # commit (and one fsync of the CSV journal) per batch, not per page.
    assert committed == batches
    assert len(exported(world)) == 100


def test_a_run_killed_after_the_target_took_its_batch_recreates_the_same_canonical_ids(world):
    # A CSV export keys its rows by code and keeps no canonical id: its canonical ids are not
    # committed before the writes (no state-store commit a batch is spared), and the run after
    # a crash derives the very same ones, so nothing of the crashed run is left half-linked.
    ids = world.repzo.seed("client", 30, updated_at=T0_MS - 60_000)
    config = world.config(FLOW)

    with killed_at(commit_stage, "commit"):  # after the CSV journal took the batch
        world.sync(config, "clients-to-csv")
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            assert session.scalars(select(IdMapEntry)).all() == []  # nothing reserved

        [run] = world.sync(config, "clients-to-csv")
        assert run.status == "succeeded"
        with store.session() as session:
            rows = session.scalars(select(IdMapEntry).where(IdMapEntry.connector == "repzo")).all()
        active = {c["_id"] for c in world.repzo.documents("client") if not c.get("disabled")}
        assert {row.native_id for row in rows} == active and active <= set(ids)
        for row in rows:
            assert row.canonical_id == idmap.canonical_id_for(
                "customer", "repzo", "client", row.native_id
            )
        assert len(exported(world)) == len(active)  # each client once, crash or not
    finally:
        store.close()


def test_canonical_ids_are_derived_from_where_a_record_was_first_seen():
    first = idmap.canonical_id_for("customer", "repzo", "client", "65f0c2a1b3c4d5e6f7a8b9c0")
    assert first == idmap.canonical_id_for(
        "customer", "repzo", "client", "65f0c2a1b3c4d5e6f7a8b9c0"
    )
    others = {
        idmap.canonical_id_for("credit_note", "repzo", "client", "65f0c2a1b3c4d5e6f7a8b9c0"),
        idmap.canonical_id_for("customer", "erp", "client", "65f0c2a1b3c4d5e6f7a8b9c0"),
        idmap.canonical_id_for("customer", "repzo", "clients", "65f0c2a1b3c4d5e6f7a8b9c0"),
        idmap.canonical_id_for("customer", "repzo", "client", "65f0c2a1b3c4d5e6f7a8b9c1"),
    }
    assert first not in others and len(others) == 4
