"""One process at a time per flow (invariant 10): a held lease makes another run stand aside,
a dead holder is replaced at once, and a run whose lease was taken over commits nothing more."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from syncer.cli import app
from syncer.engine import leases
from syncer.engine import runner as flow_runner
from syncer.state.base import utcnow
from syncer.state.models import Cursor, Lease
from tests.engine.conftest import CUSTOMER_FLOWS, T0_MS, World, store_for

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
NAME = "erp/customers->repzo/client"


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_a_lease_is_taken_once_and_then_handed_on(store_url):
    store = store_for(store_url)
    try:
        first = leases.acquire(store, NAME, "host-a:1:aa")
        with pytest.raises(leases.LeaseBusy) as busy:
            leases.acquire(store, NAME, "host-b:2:bb")
        assert busy.value.holder == "host-a:1:aa" and "host-a:1:aa is running it" in str(busy.value)
        leases.release(store, first)
        second = leases.acquire(store, NAME, "host-b:2:bb")
        assert second.fence == first.fence + 1
        # The first holder, paused past its release, can no longer commit anything.
        with pytest.raises(leases.LeaseLost), store.session() as session:
            leases.renew(session, first)
    finally:
        store.close()


def test_an_expired_lease_goes_to_the_next_process_and_fences_the_old_one(store_url):
    store = store_for(store_url)
    try:
        old = leases.acquire(store, NAME, "host-a:1:aa", ttl=timedelta(seconds=30))
        with store.session() as session:
            session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
        new = leases.acquire(store, NAME, "host-b:2:bb")
        assert new.fence == old.fence + 1
        with pytest.raises(leases.LeaseLost), store.session() as session:
            session.add(Cursor(flow="late-write", connector="erp", stream="customers", kind="id"))
            leases.renew(session, old)
        with store.session() as session:
            # The paused process's transaction was rolled back with its fence check.
            assert session.get(Cursor, "late-write") is None
    finally:
        store.close()


def test_a_lease_held_by_a_dead_process_of_this_host_is_taken_at_once(store_url):
    store = store_for(store_url)
    try:
        ghost = f"{socket.gethostname()}:{dead_pid()}:dead"
        leases.acquire(store, NAME, ghost, ttl=timedelta(hours=1))
        taken = leases.acquire(store, NAME, "host-b:2:bb")
        assert taken.fence == 2
        # A live process of this host keeps its lease.
        alive = f"{socket.gethostname()}:{threading.get_native_id()}:here"
        leases.release(store, taken)
        leases.acquire(store, "other", alive, ttl=timedelta(hours=1))
        with pytest.raises(leases.LeaseBusy):
            leases.acquire(store, "other", "host-b:2:bb")
    finally:
        store.close()


def prepared(world: World) -> str:
    world.erp.seed(customers=8, **SMALL)
    world.erp.clock.freeze(T0_MS)
    world.config(CUSTOMER_FLOWS)
    return str(world.folder / "syncer.yaml")


def test_a_second_sync_of_a_busy_flow_stands_aside(world, runner):
    path = prepared(world)
    assert runner.invoke(app, ["sync", "price-lists", "-c", path]).exit_code == 0
    store = store_for(world.store_url)
    try:
        other = leases.acquire(store, NAME, "replica-2:4242:abcd")
        world.repzo.reset_stats()
        result = runner.invoke(app, ["sync", "customers-erp-to-repzo", "-c", path])
        assert result.exit_code == 0
        assert "busy" in result.stdout
        assert "note: customers-erp-to-repzo: replica-2:4242:abcd is running it" in result.stderr
        assert world.repzo.documents("client") == []  # nothing was done twice
        leases.release(store, other)
        assert runner.invoke(app, ["sync", "customers-erp-to-repzo", "-c", path]).exit_code == 0
        assert len(world.repzo.documents("client")) == 8
        with store.session() as session:
            lease = session.get(Lease, NAME)
            assert lease is not None and lease.holder is None  # released at the end of the run
    finally:
        store.close()


def test_a_run_whose_lease_is_taken_over_stops_without_committing(world, monkeypatch):
    world.erp.seed(customers=30, **SMALL)
    world.erp.clock.freeze(T0_MS)
    one_page_a_batch = CUSTOMER_FLOWS.replace(
        "target: {connector: repzo, stream: client}\n",
        "target: {connector: repzo, stream: client}\n  batch_size: 10\n",
        1,
    )
    config = world.config(one_page_a_batch, page_size=10)
    world.sync(config, "price-lists")
    store = store_for(world.store_url)
    pages = []
    real_process = flow_runner.FlowRun.process

    async def page_then_pause(self, records, extra_failures=(), on_commit=None):
        pages.append(len(records))  # page_size 10: one batch per page
        outcome = await real_process(self, records, extra_failures, on_commit)
        if len(pages) == 1:
            # Meanwhile another replica decides this one is gone and takes the flow over.
            with store.session() as session:
                session.execute(
                    update(Lease)
                    .where(Lease.name == NAME)
                    .values(holder="replica-2:1:zz", fence=Lease.fence + 1)
                )
        return outcome

    monkeypatch.setattr(flow_runner.FlowRun, "process", page_then_pause)
    try:
        [run] = world.sync(config, "customers-erp-to-repzo")
        assert run.status == "failed" and run.error_exit == 3
        assert run.error is not None and "another process took this flow over" in run.error
        with store.session() as session:
            cursor = session.get(Cursor, "customers-erp-to-repzo")
            # The first page committed under the lease; the second page never got that far.
            assert cursor is not None and cursor.scan is not None
        assert len(pages) == 2
        # The second page stopped at the lease check it makes before writing: nothing of it
        # reached Repzo.
        assert len(world.repzo.documents("client")) == 10
        monkeypatch.undo()
        with store.session() as session:
            session.execute(update(Lease).where(Lease.name == NAME).values(holder=None))
        [rerun] = world.sync(config, "customers-erp-to-repzo")
        assert rerun.status == "succeeded"
        clients = world.repzo.documents("client")
        assert len(clients) == 30
        assert len({c["integration_meta"]["id"] for c in clients}) == 30
    finally:
        store.close()
