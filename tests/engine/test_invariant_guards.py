"""Invariants that every other test could lose without noticing, each defended end to end.

- **The scan's upper bound.** With the source's clock running, two records are edited at two
  instants while one scan pages: X on a page already read, Y on a page not read yet. A scan
  that sends no ``to_updatedAt`` and keeps the newest ``updatedAt`` it saw as its watermark
  reads Y's edit, moves past X's, and loses X's edit for good. Every other test freezes the
  clock, so both edits share one instant and the boundary re-read hides the loss.
- **The safety margin.** A commit that lands late carries an ``updatedAt`` from before the scan
  began but appears only while it pages. Without the margin the scan's bound is already past
  that stamp, the record sits on a page already read, and no later scan looks there again.
- **Lookup before creating a document**, against an ERP that does not deduplicate: ``syncer
  sync`` is killed with SIGKILL after the ERP accepted invoices and before syncer recorded them.
  The rerun must find them by number instead of posting them again; and a create whose answer
  is lost must be settled by a lookup, never by posting it blindly a second time.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable

import pytest

from connectors.repzo.client import RepzoClient
from connectors.repzo.registry import Resource
from sandboxes.kit.clock import iso_ms
from syncer.config import load_config
from syncer.config.models import SyncerConfig
from syncer.state import open_store
from syncer.state.models import DeadLetter, IdMapEntry, Run
from tests.engine.conftest import (
    INVOICE_FLOWS,
    KEY,
    MASTER_DATA_FLOWS,
    T0_MS,
    World,
    insert_invoice,
)

PAGE = 25
"""Clients per page of a scan: a few hundred clients make a dozen pages."""
WAIT = 60.0
"""Deadline for what a child process does; only reached when something is stuck."""


def seed_clients(world: World, count: int) -> list[str]:
    """``count`` active clients ``C-0000``... stamped a minute before T0; their ids in order."""
    stamp = iso_ms(T0_MS - 60_000)
    return world.repzo.insert(
        "client",
        [
            {
                "client_code": f"C-{n:04d}",
                "name": f"Client {n}",
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            for n in range(count)
        ],
    )


def clients_to_csv(world: World) -> SyncerConfig:
    """Repzo clients to the CSV drop, read in pages of PAGE clients."""
    path = world.folder / "syncer.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            state: {{url: "{world.store_url}"}}
            connectors:
              repzo:
                type: repzo
                base_url: "{world.repzo.url}"
                api_key: {KEY}
                namespace: demo
                page_size: {PAGE}
              drop:
                type: csv
                path: "{world.folder / "drop"}"
                streams: {{customers: {{key: code}}}}
            flows:
              - name: clients-to-csv
                source: {{connector: repzo, stream: client}}
                target: {{connector: drop, stream: customers}}
                batch_size: {PAGE}
            """
        ),
        encoding="utf-8",
    )
    return load_config(path)


def csv_names(world: World) -> dict[str, str]:
    """code -> name, as the CSV drop shows it now."""
    path = world.folder / "drop" / "customers.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["code"]: row["name"] for row in csv.DictReader(handle)}


def page_request(page: int) -> int:
    """The list request of the run that serves this page of clients (1-based): the scan's
    first request asks for Repzo's clock."""
    return page + 1


def test_two_edits_at_two_instants_of_one_scan_both_arrive_on_a_running_clock(world):
    ids = seed_clients(world, 12 * PAGE)
    x, y = ids[10], ids[11 * PAGE + 5]  # on page 1, and on page 12 (the last)
    world.repzo.clock.unfreeze()  # real time runs on from T0 for the rest of the test
    # X is edited at t1, once pages 1-2 are read; Y at t2, at least 1.5 s later, once pages
    # 1-7 are read.
    world.repzo.mutate_while_paging(
        "client", on_request=page_request(3), ids=[x], changes={"name": "X edited at t1"}
    )
    world.repzo.mutate_while_paging(
        "client",
        on_request=page_request(8),
        ids=[y],
        changes={"name": "Y edited at t2"},
        advance_ms=1_500,
    )
    config = clients_to_csv(world)

    [first] = world.sync(config, "clients-to-csv")
    assert first.status == "succeeded"
    assert world.repzo.stats().mutations["client"] == (x, y)
    t1 = world.repzo.get_document("client", x)["updatedAt"]
    t2 = world.repzo.get_document("client", y)["updatedAt"]
    assert iso_ms(T0_MS) <= t1 < t2, (t1, t2)  # two instants, both during the scan
    names = csv_names(world)
    where = "the edits did not land where the test meant them (pages numbered differently?)"
    assert names.get("C-0010") == "Client 10", where  # X was read before its edit...
    assert names.get("C-0280") != "Client 280", where  # ...and Y was not

    world.tick(10)  # past both edits and the safety margin
    [second] = world.sync(config, "clients-to-csv")
    assert second.status == "succeeded"
    names = csv_names(world)
    assert names["C-0010"] == "X edited at t1", "X's edit was lost: the watermark passed it"
    assert names["C-0280"] == "Y edited at t2"
    assert len(names) == 12 * PAGE


def test_without_an_upper_bound_filter_the_scan_leaves_later_edits_for_the_next_one(
    world, monkeypatch
):
    # As for variant or pricelistsitems, whose SDK Find has no to_updatedAt: the server returns
    # records changed after the scan's bound, and the connector must leave them to the next scan.
    original = RepzoClient.resource

    def without_to_filter(self: RepzoClient, name: str) -> Resource:
        found = original(self, name)
        if found.name == "client":
            return found.model_copy(update={"updated_to_filter": False})
        return found

    monkeypatch.setattr(RepzoClient, "resource", without_to_filter)
    ids = seed_clients(world, 4 * PAGE)
    y = ids[3 * PAGE + 5]  # on the last page
    world.repzo.clock.unfreeze()
    world.repzo.mutate_while_paging(
        "client",
        on_request=page_request(2),
        ids=[y],
        changes={"name": "Y edited after the bound"},
        advance_ms=5_000,
    )
    config = clients_to_csv(world)
    [first] = world.sync(config, "clients-to-csv")
    assert first.status == "succeeded"
    assert world.repzo.stats().mutations["client"] == (y,)
    names = csv_names(world)
    assert "C-0080" not in names, "a record changed after the bound was written by this scan"
    assert len(names) == 4 * PAGE - 1

    world.tick(10)
    [second] = world.sync(config, "clients-to-csv")
    assert second.status == "succeeded"
    assert csv_names(world)["C-0080"] == "Y edited after the bound"


def test_a_commit_that_lands_late_arrives_with_the_next_run(world):
    # The clock stands at T0, a whole second: the scan starts exactly at its Date header, so
    # the late commit's stamp is 2 s before the scan's start, whatever the machine's speed.
    ids = seed_clients(world, 4 * PAGE)
    x = ids[5]  # on page 1
    world.repzo.mutate_while_paging(
        "client",
        on_request=page_request(2),
        ids=[x],
        changes={"name": "committed late"},
        late_ms=2_000,
    )
    config = clients_to_csv(world)

    [first] = world.sync(config, "clients-to-csv")
    assert first.status == "succeeded"
    assert world.repzo.stats().mutations["client"] == (x,)
    assert world.repzo.get_document("client", x)["updatedAt"] == iso_ms(T0_MS - 2_000)
    where = "the commit did not land after X's page was read (pages numbered differently?)"
    assert csv_names(world).get("C-0005") == "Client 5", where

    world.tick(10)
    [second] = world.sync(config, "clients-to-csv")
    assert second.status == "succeeded"
    assert csv_names(world)["C-0005"] == "committed late", (
        "a commit stamped before the scan's start was lost: the bound ignored the safety margin"
    )


def invoice_numbers(world: World) -> Counter[str]:
    return Counter(record["number"] for record in world.erp.records("invoices"))


def wait_for(child: subprocess.Popen[bytes], condition: Callable[[], bool], log: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if child.poll() is not None:
            raise AssertionError(f"syncer sync ended before it was killed:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"syncer sync made no progress:\n{log_tail(log)}")
        time.sleep(0.02)


def log_tail(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()[-3000:]


@pytest.mark.slow
def test_invoices_reach_an_erp_that_keeps_duplicates_exactly_once_across_a_kill_9(world):
    world.erp.seed(customers=3, items=2, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    world.erp.dedupe_documents = False  # a second POST of a number is a second invoice
    config = world.config(INVOICE_FLOWS, extra="logging: {level: WARNING}\n")
    path = str(world.folder / "syncer.yaml")
    command = [sys.executable, "-m", "syncer", "sync", "invoices", "--config", path]
    world.sync(config, *MASTER_DATA_FLOWS)
    first = [f"INV-{n}" for n in range(1, 7)]
    for number in first:
        insert_invoice(world, number)
    world.tick()

    # 1. The ERP accepts every invoice of the page (write_concurrency, 8 by default, sends the
    #    six at once) and their answers wait: the child cannot have recorded any of them when
    #    it is killed.
    world.erp.hold_answers("invoices")
    log = str(world.folder / "killed.log")
    try:
        with open(log, "wb") as output:
            child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for(child, lambda: world.erp.answer_faults().held == len(first), log)
            assert world.erp.stats().outcome("created", "invoices") == len(first)
            child.send_signal(signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=WAIT)
    finally:
        world.erp.release_answers()
    assert invoice_numbers(world) == dict.fromkeys(first, 1)

    # 2. Two more invoices; the ERP applies the first POST of the rerun and loses its answer.
    later = ["INV-7", "INV-8"]
    for number in later:
        insert_invoice(world, number)
    world.tick()
    world.erp.drop_answers("invoices", 1)
    rerun = subprocess.run(command, capture_output=True, timeout=WAIT, check=False)
    assert rerun.returncode == 0, rerun.stdout.decode(errors="replace")[-3000:]
    assert world.erp.answer_faults().dropping == {}, "the rerun never lost an answer"

    numbers = invoice_numbers(world)
    twice = sorted(number for number, count in numbers.items() if count > 1)
    assert not twice, f"posted more than once: {twice}"
    assert numbers == dict.fromkeys(first + later, 1)
    store = open_store(world.store_url)
    try:
        with store.session() as session:
            links = session.query(IdMapEntry).filter_by(connector="erp", stream="invoices").all()
            assert {link.native_id for link in links} == {
                record["id"] for record in world.erp.records("invoices")
            }
            pending = session.query(DeadLetter).filter(DeadLetter.status != "resolved").all()
            assert not pending, [(letter.record_key, letter.reason) for letter in pending]
            runs = Counter(run.status for run in session.query(Run).filter_by(flow="invoices"))
            assert runs["interrupted"] == 1 and runs["running"] == 0, runs
    finally:
        store.close()
