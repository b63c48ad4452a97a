"""Every run is an integration command log in Repzo, every pushed document an action log, in
the SDK's shape; a Repzo outage delays them and never fails the sync or loses them."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from syncer.engine import outbox
from syncer.remote.errors import RetriableRemoteError, SkippableRemoteError
from syncer.state.models import OutboxEntry, Run
from syncer.state.status_queries import outbox_status
from tests.engine.conftest import (
    CUSTOMER_FLOWS,
    INVOICE_FLOWS,
    MASTER_DATA_FLOWS,
    T0_MS,
    World,
    insert_invoice,
    killed_at,
    store_for,
)

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"


def configured(world: World, flows: str = CUSTOMER_FLOWS):
    world.repzo.insert(
        "integration-app",
        [
            {
                "_id": APP_ID,
                "name": "ERP sync",
                "available_app": {"_id": "65f0c2a1b3c4d5e6f7a8b9c1", "name": "repzo-sync"},
                "company_namespace": ["demo"],
            }
        ],
    )
    config = world.config(flows)
    settings = config.connectors["repzo"].model_copy(update={"integration_app": APP_ID})
    return config.model_copy(update={"connectors": {**config.connectors, "repzo": settings}})


def test_a_run_is_a_command_log_with_counts_and_failures(world):
    world.erp.seed(customers=12, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = configured(world)
    world.sync(config, "price-lists")
    world.repzo.script_fault("reject", 1, method="POST", path="/client")
    [run] = world.sync(config, "customers-erp-to-repzo")
    logs = {log["sync_id"]: log for log in world.repzo.documents("integration-command-log")}
    log = logs[run.run_id]
    assert log["command"] == "customers-erp-to-repzo"
    assert log["status"] == "success"  # as Repzo's integrations report a run with failures
    assert log["body"]["created"] == 11 and log["body"]["failed"] == 1 and log["body"]["read"] == 12
    assert len(log["error"]) == 1 and "refused" in log["error"][0]["error"]
    assert (log["app_id"], log["available_app_name"], log["company_namespace"]) == (
        APP_ID,
        "repzo-sync",
        ["demo"],
    )
    assert log["start_time"] <= log["end_time"] and log["total_time"] >= 0
    assert log["details"][0]["content"].startswith("syncing erp.customers -> repzo.client")
    assert log["details"][-1]["content"].startswith("done: read 12, created 11")
    assert log["onGoing"] is False and "succeededAt" in log


def add_dead_run(world: World) -> int:
    """A run left ``running`` by a process that is gone; returns that process's id."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            session.add(
                Run(
                    id="killed-run",
                    flow="customers-erp-to-repzo",
                    kind="sync",
                    status="running",
                    started_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
                    sync_id="killed-run",
                    host=socket.gethostname()[:255],
                    pid=int(dead.stdout),
                )
            )
    finally:
        store.close()
    return int(dead.stdout)


def test_a_run_whose_process_died_is_closed_in_repzo_by_the_next_run(world):
    world.erp.seed(customers=3, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = configured(world)
    add_dead_run(world)

    [run] = world.sync(config, "customers-erp-to-repzo")
    assert_closed_by(world, run.run_id)


def assert_closed_by(world: World, run_id: str) -> None:
    logs = {log["sync_id"]: log for log in world.repzo.documents("integration-command-log")}
    assert logs[run_id]["status"] == "success"
    closed = logs["killed-run"]
    assert closed["status"] == "fail" and closed["onGoing"] is False
    assert closed["command"] == "customers-erp-to-repzo"
    assert closed["details"][-1]["content"].startswith("interrupted:")
    assert run_id in closed["details"][-1]["content"]
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            assert session.get(Run, "killed-run").status == "interrupted"
    finally:
        store.close()


def test_a_run_killed_before_it_logged_an_earlier_runs_end_leaves_that_run_to_the_next(world):
    """The earlier run is closed in the store only once its end is in the outbox: a run that
    dies in between must not leave it ``interrupted`` here and ``processing`` in Repzo."""
    world.erp.seed(customers=3, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = configured(world)
    dead_pid = add_dead_run(world)

    from connectors.repzo.log_observer import IntegrationLogObserver

    with killed_at(IntegrationLogObserver, "_interrupted"):
        world.sync(config, "customers-erp-to-repzo")
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            assert session.get(Run, "killed-run").status == "running"
            # The killed run's record belongs to this process: let the next run see it dead.
            for row in session.query(Run).filter(Run.id != "killed-run"):
                row.pid = dead_pid
    finally:
        store.close()

    [run] = world.sync(config, "customers-erp-to-repzo")
    assert_closed_by(world, run.run_id)


def test_a_repzo_outage_delays_logs_and_loses_none(world):
    world.erp.seed(customers=12, **SMALL)
    world.erp.clock.freeze(T0_MS)
    config = configured(world)
    world.repzo.script_fault("5xx", 40, method="POST", path="/integration-command-log")
    results = world.sync(config, "price-lists", "customers-erp-to-repzo")
    assert [r.status for r in results] == ["succeeded", "succeeded"]
    assert len(world.repzo.documents("client")) == 12  # the sync itself was not held up
    store = store_for(world.store_url)
    try:
        assert outbox.pending_count(store) == 4  # start and end of two runs

        async def deliver() -> outbox.Delivery:
            async def send(kind: str, document: dict) -> object:
                from syncer.engine.engine import Engine

                async with Engine(config, store) as engine:
                    client = engine.context.connector("repzo").client  # type: ignore[attr-defined]
                    return await client.save_log(kind, document)

            return await outbox.deliver(store, {"repzo": send})

        with store.session() as session:  # the outage is over and the backoff has passed
            for entry in session.query(OutboxEntry).all():
                entry.next_attempt_at = None
        world.repzo.clear_faults()
        report = asyncio.run(deliver())
        assert report.sent == 4 and outbox.pending_count(store) == 0
    finally:
        store.close()
    logs = {log["sync_id"]: log for log in world.repzo.documents("integration-command-log")}
    assert {logs[r.run_id]["status"] for r in results} == {"success"}
    assert logs[results[1].run_id]["body"]["created"] == 12


def test_a_pushed_invoice_is_an_action_log_written_once(world):
    world.erp.seed(customers=3, items=2, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    config = configured(world, INVOICE_FLOWS)
    world.sync(config, *MASTER_DATA_FLOWS)
    insert_invoice(world, "INV-7")
    world.tick()
    [run] = world.sync(config, "invoices")
    [invoice] = world.erp.records("invoices")
    [repzo_invoice] = world.repzo.documents("fullinvoices")
    [log] = world.repzo.documents("integration-action-log")
    assert log["sync_id"] == f"{run.run_id}:{repzo_invoice['_id']}"
    assert log["action"] == "create_invoice"
    assert log["status"] == "success"
    assert log["body"] == {
        "_id": repzo_invoice["_id"],
        "number": "INV-7",
        "target_id": invoice["id"],
    }
    contents = [detail["content"] for detail in log["details"]]
    assert contents[0].startswith("invoice INV-7 -> erp")
    assert contents[-1] == f"erp created it as {invoice['id']}"
    world.tick()
    world.sync(config, "invoices")  # nothing new: no second action log
    assert len(world.repzo.documents("integration-action-log")) == 1


def _enqueue(store, sync_id: str, n: int = 1, **fields) -> None:
    with store.session() as session:
        for step in range(n):
            outbox.enqueue(session, "repzo", "command", sync_id, {"sync_id": sync_id, "step": step})
        if fields:
            session.flush()
            for entry in session.query(OutboxEntry).filter_by(sync_id=sync_id):
                for name, value in fields.items():
                    setattr(entry, name, value)


def test_logs_waiting_for_a_retry_never_starve_newer_ones(store_url):
    store = store_for(store_url)
    try:
        later = datetime.now(UTC) + timedelta(hours=1)
        for n in range(outbox.BATCH + 50):  # more stuck logs than one batch reads
            _enqueue(store, f"stuck-{n}", next_attempt_at=later, attempts=3)
        _enqueue(store, "new", n=3)
        sent: list[tuple[str, int]] = []

        async def send(kind: str, document: dict) -> None:
            if document["sync_id"].startswith("stuck"):  # these fail whenever they are tried
                raise RetriableRemoteError("Repzo failed on this log (500)", status=500)
            sent.append((document["sync_id"], document["step"]))

        report = asyncio.run(outbox.deliver(store, {"repzo": send}))
        assert sent == [("new", 0), ("new", 1), ("new", 2)]  # all of it, in order
        assert report.sent == 3 and report.waiting == outbox.BATCH + 50
        # Repzo accepted logs, so one stuck log was tried at once; it failed, and that was all.
        assert report.failed == 1
    finally:
        store.close()


def test_a_log_repzo_refuses_is_parked_with_the_reason_and_blocks_nothing(store_url):
    store = store_for(store_url)
    try:
        _enqueue(store, "run-1", n=2)
        _enqueue(store, "run-2")
        sent: list[tuple[str, int]] = []

        async def send(kind: str, document: dict) -> None:
            if document["sync_id"] == "run-1" and document["step"] == 0:
                raise SkippableRemoteError("app_id is required", status=400)
            sent.append((document["sync_id"], document["step"]))

        report = asyncio.run(outbox.deliver(store, {"repzo": send}))
        assert report.parked == 1 and report.sent == 2 and report.failed == 0
        assert sorted(sent) == [("run-1", 1), ("run-2", 0)]
        with store.session() as session:
            [parked] = session.query(OutboxEntry).filter(OutboxEntry.parked_at.is_not(None))
            assert parked.last_error == "app_id is required" and parked.delivered_at is None
        again = asyncio.run(outbox.deliver(store, {"repzo": send}))
        assert again.sent == again.parked == 0  # a parked log is never retried
        assert outbox.pending_count(store) == 0
        with store.session() as session:  # what `syncer status` shows a person
            shown = outbox_status(session)
        assert (shown.waiting, shown.parked, shown.last_refusal) == (0, 1, "app_id is required")
    finally:
        store.close()


def test_a_failure_that_may_pass_keeps_the_log_in_order_for_a_retry(store_url):
    store = store_for(store_url)
    try:
        _enqueue(store, "run-1", n=2)
        sent: list[int] = []

        async def send(kind: str, document: dict) -> None:
            if document["step"] == 0 and not sent:
                sent.append(-1)
                raise RetriableRemoteError("Repzo is unavailable (503)", status=503)
            sent.append(document["step"])

        report = asyncio.run(outbox.deliver(store, {"repzo": send}))
        assert report.failed == 1 and report.sent == 0  # step 1 waits behind step 0
        with store.session() as session:
            for entry in session.query(OutboxEntry):
                entry.next_attempt_at = None
        report = asyncio.run(outbox.deliver(store, {"repzo": send}))
        assert report.sent == 2 and sent == [-1, 0, 1]
    finally:
        store.close()


def test_once_repzo_accepts_a_log_the_ones_waiting_out_an_outage_go_at_once(store_url):
    store = store_for(store_url)
    try:
        later = datetime.now(UTC) + timedelta(minutes=10)
        # Two runs during an outage: their first entries failed and wait out the backoff, the
        # entries after them wait behind them.
        _enqueue(store, "during-1", n=2)
        _enqueue(store, "during-2", n=3)
        with store.session() as session:
            for entry in session.query(OutboxEntry).filter(OutboxEntry.id.in_([1, 3])):
                entry.next_attempt_at, entry.attempts = later, 3
        _enqueue(store, "after", n=2)
        sent: list[tuple[str, int]] = []

        async def send(kind: str, document: dict) -> None:
            sent.append((document["sync_id"], document["step"]))

        report = asyncio.run(outbox.deliver(store, {"repzo": send}))
        assert report.sent == 7 and report.waiting == 0 and outbox.pending_count(store) == 0
        assert sent[:2] == [("after", 0), ("after", 1)]  # what was due, first
        for sync_id, steps in (("during-1", 2), ("during-2", 3)):  # each log in its order
            assert [step for log, step in sent if log == sync_id] == list(range(steps))
    finally:
        store.close()


def test_a_log_that_keeps_failing_costs_one_request_a_delivery(store_url):
    store = store_for(store_url)
    try:
        later = datetime.now(UTC) + timedelta(minutes=10)
        _enqueue(store, "bad", next_attempt_at=later, attempts=2)
        _enqueue(store, "waiting", next_attempt_at=later, attempts=2)
        tried: list[str] = []

        async def send(kind: str, document: dict) -> None:
            tried.append(document["sync_id"])
            if document["sync_id"] == "bad":
                raise RetriableRemoteError("Repzo failed on this log (500)", status=500)

        for n in range(2):
            _enqueue(store, f"new-{n}")
            asyncio.run(outbox.deliver(store, {"repzo": send}))
        # Each delivery: its new log, then the oldest waiting one, which fails and ends it.
        assert tried == ["new-0", "bad", "new-1", "bad"]
        with store.session() as session:
            [bad] = session.query(OutboxEntry).filter_by(sync_id="bad")
            assert bad.attempts == 4 and bad.delivered_at is None
        assert outbox.pending_count(store) == 2  # "bad" and "waiting", still in the outbox
    finally:
        store.close()
