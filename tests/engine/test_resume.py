"""A run that resumes an interrupted scan does not stop at the old scan's end: it goes on, in
the same run, with a fresh window up to now, so "succeeded" means everything changed before
the run started has arrived."""

from __future__ import annotations

import csv

from syncer.engine import runner as flow_runner
from syncer.state.models import Cursor
from tests.engine.conftest import T0_MS, store_for

FLOW = """
- name: clients-to-csv
  source: {connector: repzo, stream: client}
  target: {connector: drop, stream: customers}
"""


def exported(world) -> dict[str, dict[str, str]]:
    with (world.folder / "drop" / "customers.csv").open(encoding="utf-8-sig") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


def test_a_resumed_scan_goes_on_to_what_changed_since_it_began(world, monkeypatch):
    ids = world.repzo.seed("client", 100, updated_at=T0_MS - 60_000)
    config = world.config(FLOW, page_size=25)
    real_page = flow_runner.FlowRun._page

    async def stop_after_one(self, page, scan):
        outcome = await real_page(self, page, scan)
        self.stop.set()  # SIGTERM arrives: the page in hand is finished, then the run stops
        return outcome

    with monkeypatch.context() as patch:
        patch.setattr(flow_runner.FlowRun, "_page", stop_after_one)
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
