"""Invariant 1 the hard way: ``syncer sync`` killed with SIGKILL at random moments.

A real ``python -m syncer sync --all`` child process syncs 20,000 ERP customers into the
sandbox Repzo (both served from this process, on loopback threads) and is killed with SIGKILL
again and again: while it starts, in the middle of a page's writes, between a write and the
commit that records it. Between kills, ERP users edit customers. Then it runs to the end.
Afterwards Repzo must hold every customer exactly once, with its latest values, and the state
store no dead letter.

What makes it fail without the invariant:

- a kill after Repzo answered 201 but before the engine committed the id map leaves a client
  the state store does not know; without the canonical id reserved in a commit of its own and
  the lookup by ``integration_meta.id`` before every create, the rerun creates it again: more
  clients than customers, some ``demo_<id>`` twice;
- a cursor (or scan position) committed before the page's writes are durable makes the rerun
  start after records that never arrived: fewer clients than customers;
- a last-synced snapshot committed before its write, or a scan window not fixed from the ERP's
  clock minus the safety margin, loses an edit made while a scan ran: stale field values.

The kill points come from a seeded RNG; progress between kills is measured by the sandbox's own
counters, never by sleeping a fixed time, so a slow machine changes the timing, not the outcome.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sandboxes.erp import ErpStub
from sandboxes.repzo import RepzoSandbox
from syncer.engine.snapshots import snapshot
from syncer.mapping.catalog import SHIPPED_DIR, load_mapping
from syncer.mapping.mapping import MappingContext, PassThroughRefs
from syncer.state import open_store, upgrade_store
from syncer.state.models import DeadLetter, Run
from tests.engine.conftest import KEY, PASSWORD, T0_MS, USER, PriceListIds, World

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("SYNCER_CRASH_SEED", "20261129"))
"""Seed of the kill points and edits; set SYNCER_CRASH_SEED to explore others."""
CUSTOMERS = 20_000
BATCH = 250
LOAD_KILLS = 8
"""Kills during the first load (20,000 creates)."""
UPDATE_KILLS = 4
"""Kills during a resync that updates thousands of edited customers."""
UPDATED = 2_000
WAIT = 180.0
"""Generous deadline for anything to happen: only reached when something is truly stuck."""

SYNC = [sys.executable, "-m", "syncer", "sync", "--all", "--config"]

FLOWS = f"""
- name: price-lists
  source: {{connector: erp, stream: price_lists}}
  target: {{connector: repzo, stream: pricelists}}
  batch_size: {BATCH}
- name: customers-erp-to-repzo
  source: {{connector: erp, stream: customers}}
  target: {{connector: repzo, stream: client}}
  batch_size: {BATCH}
"""


@pytest.fixture
def crash_world(tmp_path: Path) -> Iterator[World]:
    """Like conftest's ``world``, on a file SQLite store, with 20,000 customers an hour old."""
    (tmp_path / "drop").mkdir()
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade_store(store_url)
    with (
        RepzoSandbox(api_key=KEY) as repzo,
        ErpStub(username=USER, password=PASSWORD, seed=False) as erp,
    ):
        repzo.clock.freeze(T0_MS)
        erp.clock.freeze(T0_MS - 3_600_000)
        erp.seed(customers=CUSTOMERS, items=0, vans=0, invoices=0, credit_notes=0, payments=0)
        erp.clock.freeze(T0_MS)
        yield World(repzo, erp, tmp_path, store_url)


class Syncer:
    """Starts ``syncer sync`` children, one at a time, and kills them."""

    def __init__(self, world: World) -> None:
        self.world = world
        world.config(FLOWS, extra="logging: {level: WARNING}\n", page_size=BATCH)
        self.config = world.folder / "syncer.yaml"
        self.child: subprocess.Popen[bytes] | None = None
        self.started = 0
        self.kills: list[str] = []

    def start(self) -> subprocess.Popen[bytes]:
        assert self.child is None
        self.started += 1
        log = (self.world.folder / f"child-{self.started}.log").open("wb")
        with log:
            self.child = subprocess.Popen(
                [*SYNC, str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        return self.child

    def kill(self, note: str) -> None:
        assert self.child is not None
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGKILL)
            self.kills.append(note)
        self.child.wait(timeout=WAIT)
        self.child = None

    def finish(self) -> int:
        """Let the child run to its end; its exit code."""
        assert self.child is not None
        try:
            code = self.child.wait(timeout=WAIT)
        finally:
            self.child = None
        if code != 0:
            pytest.fail(f"syncer sync exited with {code}:\n{self.log_tail()}")
        return code

    def log_tail(self) -> str:
        log = self.world.folder / f"child-{self.started}.log"
        return log.read_text(errors="replace")[-3000:]

    def run(self) -> int:
        self.start()
        return self.finish()

    def close(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
            self.child.wait()

    def client_writes(self) -> int:
        """Write requests Repzo received for clients (creates and updates)."""
        return self.world.repzo.stats().writes("client")

    def wait_until(self, condition: Callable[[], bool]) -> bool:
        """Poll until ``condition`` holds (True) or the child exits on its own (False)."""
        assert self.child is not None
        deadline = time.monotonic() + WAIT
        while not condition():
            if self.child.poll() is not None:
                return False
            if time.monotonic() > deadline:
                raise AssertionError("syncer sync made no progress for minutes")
            time.sleep(0.05)
        return True

    def crash(self, rng: random.Random, most_writes: int) -> None:
        """Start a child and SIGKILL it: after a random 0.2-2 s (maybe still starting up), or
        a random instant after its k-th client write (in the middle of a page's writes, or
        between them and the commit). Never after more than about ``most_writes`` writes, so
        the caller knows the work cannot be finished before the kill."""
        self.start()
        before = self.client_writes()
        cap = before + most_writes

        def capped(seconds: float) -> Callable[[], bool]:
            until = time.monotonic() + seconds
            return lambda: time.monotonic() >= until or self.client_writes() >= cap

        if rng.random() < 0.25:
            delay = rng.uniform(0.2, 2.0)
            finished = not self.wait_until(capped(delay))
            note = f"after {delay:.1f}s"
        else:
            wanted = before + rng.randint(1, most_writes)
            finished = not self.wait_until(lambda: self.client_writes() >= wanted)
            finished = finished or not self.wait_until(capped(rng.uniform(0, 0.3)))
            note = f"after write {wanted - before}"
        if finished:
            raise AssertionError(f"syncer sync ended before it was killed:\n{self.log_tail()}")
        self.kill(f"{note} ({self.client_writes() - before} written)")


def edit_customers(world: World, rng: random.Random, count: int) -> set[str]:
    """ERP users edit ``count`` customers (a phone or a credit limit), a little later."""
    world.tick(2)
    changed = world.erp.mutate(customers=count, seed=rng.randrange(1_000_000))["customers"]
    return set(changed)


def test_kill_9_at_random_moments_then_every_customer_arrives_once_with_latest_values(
    crash_world: World,
):
    world = crash_world
    rng = random.Random(SEED)
    syncer = Syncer(world)
    edited: set[str] = set()
    try:
        # 1. The first load, killed LOAD_KILLS times. Each child sends about 2,000 writes at
        #    most before its kill, so the load cannot finish inside this loop, however fast.
        for _ in range(LOAD_KILLS):
            syncer.crash(rng, most_writes=CUSTOMERS // (LOAD_KILLS + 2))
            if rng.random() < 0.5:
                edited |= edit_customers(world, rng, rng.randint(20, 300))
        syncer.run()  # the rest of the load

        # 2. Thousands of customers edited, and the resync that updates them killed too.
        edited |= edit_customers(world, rng, UPDATED)
        world.tick(10)  # past the safety margin: the next scan covers the edits
        for _ in range(UPDATE_KILLS):
            syncer.crash(rng, most_writes=UPDATED // (2 * UPDATE_KILLS))
            edited |= edit_customers(world, rng, rng.randint(20, 300))

        # 3. To the end: the first run completes the interrupted scan, the second reads the
        #    edits made after its bound, the third finds nothing left to write.
        world.tick(10)
        syncer.run()
        world.tick(10)
        syncer.run()
        world.tick(10)
        before = syncer.client_writes()
        syncer.run()
        assert syncer.client_writes() == before, "a resync of unchanged data wrote to Repzo"
    finally:
        syncer.close()

    assert len(syncer.kills) == LOAD_KILLS + UPDATE_KILLS, syncer.kills
    assert len(edited) >= UPDATED

    customers = {str(c["id"]): c for c in world.erp.records("customers")}
    clients = world.repzo.documents("client")
    keys = Counter(c.get("integration_meta", {}).get("id") for c in clients)
    twice = sorted(key for key, n in keys.items() if n > 1)
    assert not twice, f"{len(twice)} customers arrived more than once: {twice[:10]}"
    assert set(keys) == {f"demo_{code}" for code in customers}
    assert len(clients) == len(customers) == CUSTOMERS

    stale = compare(customers, clients, world.repzo.documents("pricelist"))
    assert not stale, f"{len(stale)} clients differ from their ERP customer: {stale[:5]}"

    store = open_store(world.store_url)
    try:
        with store.session() as session:
            pending = session.query(DeadLetter).filter(DeadLetter.status != "resolved").all()
            assert not pending, [(d.record_key, d.reason) for d in pending[:10]]
            # Every killed run was closed by the next one: none is left looking alive.
            statuses = Counter(run.status for run in session.query(Run))
            assert statuses["running"] == 0 and statuses["interrupted"] >= 1, statuses
    finally:
        store.close()
    print(f"\n{syncer.started} children, {len(syncer.kills)} killed: " + "; ".join(syncer.kills))


def compare(
    customers: dict[str, dict[str, Any]],
    clients: list[dict[str, Any]],
    price_lists: list[dict[str, Any]],
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each client read back through the shipped mappings: (code, ERP, Repzo) of those whose
    carried fields differ from the ERP customer's current values."""
    erp = load_mapping(SHIPPED_DIR / "erp_stub" / "customers.yaml", ["namespace"])
    repzo = load_mapping(SHIPPED_DIR / "repzo" / "client.yaml", ["namespace"])
    fields = erp.read_fields & repzo.write_fields
    assert {"name", "phone", "credit_limit", "city", "price_list"} <= fields
    erp_context = MappingContext({"namespace": "demo"}, PassThroughRefs())
    repzo_context = MappingContext({"namespace": "demo"}, PriceListIds(price_lists))
    stale = []
    for client in clients:
        code = client["client_code"]
        want = snapshot(erp.read(customers[code], erp_context).values, fields)
        have = snapshot(repzo.read(client, repzo_context).values, fields)
        if have != want:
            stale.append((code, want, have))
    # The comparison is not vacuous: money really went through x1000 and back.
    sample = next(iter(customers.values()))
    client = next(c for c in clients if c["client_code"] == str(sample["id"]))
    assert Decimal(sample["credit_limit"]) * 1000 == client["financials"]["credit_limit"]
    return stale
