"""SIGTERM while requests are being retried ends the run within seconds, not after the retry
budget: the wait is cut short, the last checkpoint kept, exit 0. A second signal exits at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from syncer.state.models import Run
from tests.engine.conftest import T0_MS, World, store_for

FLOWS = """
- name: price-lists
  source: {connector: erp, stream: price_lists}
  target: {connector: repzo, stream: pricelists}
"""


def start_sync(world: World) -> subprocess.Popen[str]:
    world.erp.seed(customers=0, items=0, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    world.config(FLOWS)
    path = str(world.folder / "syncer.yaml")
    return subprocess.Popen(
        [sys.executable, "-m", "syncer", "--log-format", "json", "sync", "--all", "-c", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_requests(world: World, count: int) -> None:
    deadline = time.monotonic() + 60
    while world.repzo.stats().count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert world.repzo.stats().count() >= count, "the sync never reached Repzo"


def test_sigterm_while_every_request_fails_ends_the_run_at_once(world):
    # Every Repzo request answers 503: the run would retry for max_retry_wait (10 minutes).
    world.repzo.set_faults(rate_5xx=1.0)
    child = start_sync(world)
    wait_for_requests(world, 3)  # it is retrying
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)  # a hang here is the failure this test is about
    assert child.returncode == 0, err[-2000:]
    assert "stopping as asked" in err and "stopped" in out
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            [run] = session.query(Run).all()
            assert run.status == "stopped"
    finally:
        store.close()


def test_a_second_signal_exits_at_once(world):
    world.repzo.set_faults(latency_ms=3_000)  # every request takes its time
    child = start_sync(world)
    wait_for_requests(world, 1)  # answered: the process is listening, the next is in flight
    child.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=20)
    assert child.returncode == 128 + signal.SIGTERM
    assert "stopping at once" in err
