"""A system that goes away: the run gives up within its budgets, says where and why, and a run
that gets nowhere lets another process take its flow over."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from datetime import timedelta

from ruamel.yaml import YAML

from syncer.cli import app
from syncer.config import load_config
from syncer.engine import leases
from syncer.engine.engine import Engine
from syncer.engine.tally import RunResult
from syncer.logs import configure_logging
from tests.engine.conftest import CUSTOMER_FLOWS, T0_MS, World, store_for

SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
NAME = "erp/customers->repzo/client"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def with_repzo_settings(world: World, flows: str = CUSTOMER_FLOWS, **settings: object) -> str:
    """The world's configuration, with some settings of the Repzo connector changed."""
    world.config(flows)
    path = world.folder / "syncer.yaml"
    yaml = YAML(typ="safe", pure=True)
    document = yaml.load(path.read_text(encoding="utf-8"))
    document["connectors"]["repzo"].update(settings)
    with path.open("w", encoding="utf-8") as file:
        yaml.dump(document, file)
    return str(path)


def test_sync_against_a_closed_port_gives_up_after_max_connect_wait(world, runner):
    port = closed_port()
    # max_retry_wait stays 10m: the short wait is the one for a system that does not answer.
    path = with_repzo_settings(world, base_url=f"http://127.0.0.1:{port}", max_connect_wait="2s")
    started = time.monotonic()
    result = runner.invoke(app, ["sync", "customers-repzo-to-erp", "-c", path])
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    assert elapsed < 8
    assert (
        f"cannot connect to repzo at http://127.0.0.1:{port}/client (connection refused); "
        "gave up after " in result.stderr
    )
    assert "(max_connect_wait is 2s)" in result.stderr
    assert "rk-engine-tests" not in result.output  # the API key


def test_check_names_the_system_and_the_url_it_cannot_reach(world, runner):
    port = closed_port()
    path = with_repzo_settings(world, base_url=f"http://127.0.0.1:{port}")
    started = time.monotonic()
    result = runner.invoke(app, ["check", "-c", path])
    assert result.exit_code == 3, result.output
    assert time.monotonic() - started < 8  # a check fails fast, whatever max_connect_wait says
    assert (
        f"cannot connect to repzo at http://127.0.0.1:{port}/client (connection refused)"
        in result.stderr
    )


def test_a_run_has_one_retry_budget_for_all_its_calls_to_a_system(world):
    """Repzo stumbles at the start of the run (three 503s, waited out), then refuses every
    write-back: the run stops when its waiting in all reaches max_retry_wait, not when the
    write-back alone has waited that long again."""
    for n in range(12):
        world.repzo.insert(
            "client", [{"name": f"Field shop {n}", "client_code": f"F-{n}", "phone": "+962 79 1"}]
        )
    world.tick()
    config = load_config(with_repzo_settings(world, max_retry_wait="4s", write_concurrency=1))
    world.repzo.script_fault("5xx", 3, method="GET", path="^/client$", status=503)
    world.repzo.set_faults(rate_5xx=1.0, statuses_5xx=(503,), path="update-integration-meta")

    async def use(engine: Engine) -> tuple[RunResult, float]:
        run = await engine.flow_run("customers-repzo-to-erp").execute()
        repzo = engine.context.connector("repzo")
        return run, repzo.client.http.stats.waited  # type: ignore[attr-defined]

    run, waited = world.with_engine(config, use)
    assert run.status == "failed" and run.error_exit == 3
    # Repzo's calls are one at a time here, so their waits add up to what the run waited: never
    # more than the budget (the write-back does not get a budget of its own). The failed
    # attempts' own time is charged too, so on a loaded machine the sleeps alone come to a
    # little less; the message below says the budget itself was spent.
    assert 3.0 <= waited <= 4.01
    assert run.error is not None
    url = f"{world.repzo.url}/update-integration-meta"
    assert "repzo is temporarily unavailable (503)" in run.error and url in run.error
    assert "this run has waited 4.0s for repzo in all (max_retry_wait is 4s)" in run.error


def test_a_run_without_progress_lets_its_lease_go(world):
    world.erp.seed(customers=8, **SMALL)
    world.erp.clock.freeze(T0_MS)
    flows = CUSTOMER_FLOWS.replace(
        "  target: {connector: repzo, stream: client}\n",
        "  target: {connector: repzo, stream: client}\n  stall_timeout: 500ms\n",
        1,
    )
    config = load_config(with_repzo_settings(world, flows, max_retry_wait="60s", write_logs=False))
    world.sync(config, "price-lists")
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    world.repzo.set_faults(rate_5xx=1.0, statuses_5xx=(503,))
    store = store_for(world.store_url)

    async def use(engine: Engine) -> tuple[RunResult, float | None]:
        run = engine.flow_run("customers-erp-to-repzo")
        run.lease_ttl = timedelta(seconds=0.9)
        task = asyncio.create_task(run.execute())
        taken_after = None
        started = time.monotonic()
        while time.monotonic() - started < 10 and not task.done():
            await asyncio.sleep(0.1)
            try:
                leases.acquire(store, NAME, "replica-2:4242:abcd", timedelta(minutes=5))
            except leases.LeaseBusy:
                continue
            taken_after = time.monotonic() - started
            break
        world.repzo.clear_faults()  # Repzo is back: the stalled run goes on, then must stop
        return await task, taken_after

    try:
        result, taken_after = world.with_engine(config, use)
    finally:
        store.close()
        configure_logging("INFO", "auto")
    # The run was stuck in retries (60 s of budget), yet the other process got the flow.
    assert taken_after is not None and taken_after < 5
    assert result.status == "failed" and result.error_exit == 3
    assert result.error is not None and "another process took this flow over" in result.error
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    stalled = [line for line in lines if line["event"].startswith("the run makes no progress")]
    assert len(stalled) == 1 and stalled[0]["level"] == "error"
    assert stalled[0]["flow"] == "customers-erp-to-repzo"
    assert stalled[0]["seconds_without_progress"] >= 0.5
