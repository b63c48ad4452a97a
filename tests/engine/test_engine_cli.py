"""syncer sync, dead-letters and the run summary, through the command line."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from syncer.cli import app
from syncer.engine import leases
from syncer.state.models import Run
from tests.engine.conftest import CUSTOMER_FLOWS, T0_MS, World, store_for

FLOW = "customers-erp-to-repzo"
LEASE = "erp/customers->repzo/client"

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}


def prepared(world: World, customers: int = 8) -> str:
    world.erp.seed(customers=customers, **SMALL)
    world.erp.clock.freeze(T0_MS)
    world.config(CUSTOMER_FLOWS)
    return str(world.folder / "syncer.yaml")


def test_sync_all_runs_dependencies_first_and_summarises(world, runner):
    path = prepared(world)
    result = runner.invoke(app, ["sync", "--all", "-c", path])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    order = [
        name
        for name in ("price-lists", "customers-erp-to-repzo", "customers-repzo-to-erp")
        if any(name in line for line in lines)
    ]
    assert order == ["price-lists", "customers-erp-to-repzo", "customers-repzo-to-erp"]
    row = next(line for line in lines if "customers-erp-to-repzo" in line)
    assert "succeeded" in row and " 8 " in row
    status = json.loads(runner.invoke(app, ["status", "--json", "-c", path]).stdout)
    flows = {flow["name"]: flow for flow in status["flows"]}
    assert flows["customers-erp-to-repzo"]["last_run"]["created"] == 8
    assert flows["customers-erp-to-repzo"]["cursor"] is not None


def test_dead_letters_exit_1_and_can_be_listed_retried_and_dropped(world, runner):
    path = prepared(world)
    result = runner.invoke(
        app, ["sync", "customers-erp-to-repzo", "-c", path]
    )  # no price lists yet
    assert result.exit_code == 1
    assert "dead-letters list" in result.stdout
    letters = json.loads(runner.invoke(app, ["dead-letters", "list", "--json", "-c", path]).stdout)
    assert len(letters) == 8 and all(letter["kind"] == "reference" for letter in letters)
    assert letters[0]["payload"]["id"] == letters[0]["record"]

    retried = runner.invoke(app, ["dead-letters", "retry", "-c", path])
    assert retried.exit_code == 1 and "retried 8, synced 0" in retried.stdout  # still waiting

    assert runner.invoke(app, ["sync", "price-lists", "-c", path]).exit_code == 0
    first = letters[0]
    dropped = runner.invoke(app, ["dead-letters", "drop", str(first["id"]), "-c", path])
    assert dropped.exit_code == 0 and "Dropped 1 dead letter." in dropped.stdout
    retried = runner.invoke(
        app, ["dead-letters", "retry", "--flow", "customers-erp-to-repzo", "-c", path]
    )
    assert retried.exit_code == 0 and "retried 7, synced 7" in retried.stdout
    assert len(world.repzo.documents("client")) == 7
    assert (
        "No pending dead letters."
        in runner.invoke(app, ["dead-letters", "list", "-c", path]).output
    )
    unknown = runner.invoke(app, ["dead-letters", "drop", "999", "-c", path])
    assert unknown.exit_code == 2 and "no pending dead letter with id 999" in unknown.stderr


def test_an_unreachable_system_exits_3_and_keeps_the_checkpoint(world, runner):
    path = prepared(world)
    assert (
        runner.invoke(app, ["sync", "price-lists", "customers-erp-to-repzo", "-c", path]).exit_code
        == 0
    )
    text = (world.folder / "syncer.yaml").read_text()
    unreachable = text.replace(world.repzo.url, "http://127.0.0.1:1").replace(
        "namespace: demo}", "namespace: demo, max_retry_wait: 1s}"
    )
    (world.folder / "syncer.yaml").write_text(unreachable)
    world.tick()
    result = runner.invoke(app, ["sync", "customers-repzo-to-erp", "-c", path])
    assert result.exit_code == 3
    assert "cannot connect to repzo" in result.stderr
    status = json.loads(runner.invoke(app, ["status", "--json", "-c", path]).stdout)
    flows = {flow["name"]: flow for flow in status["flows"]}
    assert flows["customers-repzo-to-erp"]["last_run"]["status"] == "failed"
    assert flows["customers-repzo-to-erp"]["cursor"] is None  # nothing was marked as read
    assert flows["customers-erp-to-repzo"]["cursor"] is not None


def test_dead_letters_retry_is_a_run_of_the_flow_under_its_lease(world, runner):
    path = prepared(world)
    assert runner.invoke(app, ["sync", "customers-erp-to-repzo", "-c", path]).exit_code == 1
    assert runner.invoke(app, ["sync", "price-lists", "-c", path]).exit_code == 0
    store = store_for(world.store_url)
    try:
        # Another process holds the flow: the retry stands aside and changes nothing.
        held = leases.acquire(store, LEASE, "replica-2:1:zz", timedelta(minutes=1))
        busy = runner.invoke(app, ["dead-letters", "retry", "-c", path])
        assert busy.exit_code == 2 and "try again once that run has finished" in busy.stderr
        assert world.repzo.documents("client") == []
        leases.release(store, held)

        # Repzo unreachable: the retry run fails like a sync would, with exit 3.
        text = (world.folder / "syncer.yaml").read_text()
        (world.folder / "syncer.yaml").write_text(
            text.replace(world.repzo.url, "http://127.0.0.1:1").replace(
                "namespace: demo}", "namespace: demo, max_retry_wait: 1s}"
            )
        )
        down = runner.invoke(app, ["dead-letters", "retry", "-c", path])
        assert down.exit_code == 3 and "cannot connect to repzo" in down.stderr
        (world.folder / "syncer.yaml").write_text(text)

        retried = runner.invoke(app, ["dead-letters", "retry", "-c", path])
        assert retried.exit_code == 0 and "retried 8, synced 8" in retried.stdout
        with store.session() as session:
            kinds = [run.kind for run in session.scalars(select(Run).where(Run.flow == FLOW))]
        assert kinds.count("retry") == 2 and kinds.count("sync") == 1
        status = json.loads(runner.invoke(app, ["status", "--json", "-c", path]).stdout)
        last = {flow["name"]: flow["last_run"] for flow in status["flows"]}[FLOW]
        assert last["kind"] == "retry" and last["status"] == "succeeded"
        table = runner.invoke(app, ["status", "-c", path]).stdout
        assert "succeeded (dead-letter retry)" in table
    finally:
        store.close()


def test_a_flow_name_that_does_not_exist(world, runner):
    path = prepared(world)
    result = runner.invoke(app, ["sync", "customer", "-c", path])
    assert result.exit_code == 2 and "unknown flow 'customer'" in result.stderr
