"""Mirror mode disables what a complete listing no longer has, never after a partial one
(invariant 11); SIGTERM finishes the page in hand, commits and exits 0 (invariant 9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from syncer.cli import app
from syncer.config import load_config
from syncer.remote import paging
from syncer.state.models import Run
from tests.engine.conftest import T0_MS, World, store_for

MIRROR = """
- name: customers-csv-to-repzo
  source: {connector: drop, stream: customers}
  target: {connector: repzo, stream: client}
  mode: mirror
"""
HEADER = "code,name,phone,city,active\n"


def rows(codes: list[str]) -> str:
    return HEADER + "".join(
        f"{code},Customer {code},+962 6 {code[-3:]},Amman,true\n" for code in codes
    )


def clients(world: World) -> dict[str, dict]:
    return {c["client_code"]: c for c in world.repzo.documents("client")}


def test_mirror_disables_what_a_complete_listing_no_longer_has(world):
    drop = world.folder / "drop" / "customers.csv"
    drop.write_text(rows(["C-001", "C-002", "C-003", "C-004", "C-005"]), encoding="utf-8")
    config = world.config(MIRROR + "  mirror: {max_delete: 50%}\n")
    [first] = world.sync(config, "customers-csv-to-repzo")
    assert first.counts.created == 5
    assert not any(c["disabled"] for c in clients(world).values())

    drop.write_text(rows(["C-001", "C-003", "C-005"]), encoding="utf-8")
    world.tick()
    [second] = world.sync(config, "customers-csv-to-repzo")
    assert second.counts.deleted == 2
    state = {code: c["disabled"] for code, c in clients(world).items()}
    assert state == {"C-001": False, "C-002": True, "C-003": False, "C-004": True, "C-005": False}


def test_mirror_never_disables_after_a_partial_listing(world):
    config = world.config(MIRROR.replace("stream: customers}", "stream: customers}", 1))
    folder = world.folder / "drop"
    (folder / "customers.csv").write_text(rows(["C-001", "C-002", "C-003"]), encoding="utf-8")
    world.sync(config, "customers-csv-to-repzo")
    # The next export comes in two files, and the second cannot be read: the listing is partial.
    text = (world.folder / "syncer.yaml").read_text()
    (world.folder / "syncer.yaml").write_text(
        text.replace(
            "streams: {customers: {key: code}}",
            "streams: {customers: {key: code, file: 'customers*.csv'}}",
        )
    )
    (folder / "customers.csv").write_text(rows(["C-001"]), encoding="utf-8")
    (folder / "customers_b.csv").write_text("code,code\n", encoding="utf-8")  # cannot be read
    world.tick()
    from syncer.config import load_config

    [run] = world.sync(load_config(world.folder / "syncer.yaml"), "customers-csv-to-repzo")
    assert run.status == "failed"
    assert not any(c["disabled"] for c in clients(world).values())


def mirrored(world: World, codes: list[str], extra: str = "") -> str:
    """A first mirror run over ``codes``; returns the configuration's path."""
    (world.folder / "drop" / "customers.csv").write_text(rows(codes), encoding="utf-8")
    world.config(MIRROR + extra)
    path = str(world.folder / "syncer.yaml")
    [first] = world.sync(load_config(path), "customers-csv-to-repzo")
    assert first.counts.created == len(codes)
    world.tick()
    return path


def test_a_missing_folder_is_a_failed_read_that_disables_nothing(world, runner):
    path = mirrored(world, ["C-001", "C-002"])
    folder = world.folder / "drop"
    folder.rename(world.folder / "drop-unmounted")  # what an unmounted share looks like
    result = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert result.exit_code == 3, result.output
    assert f"the folder {folder} does not exist" in result.stderr
    assert not any(c["disabled"] for c in clients(world).values())

    (world.folder / "drop-unmounted").rename(folder)
    world.tick()
    [back] = world.sync(load_config(path), "customers-csv-to-repzo")
    assert back.status == "succeeded" and back.counts.deleted == 0
    assert not any(c["disabled"] for c in clients(world).values())


def test_a_missing_file_is_a_failed_read(world, runner):
    path = mirrored(world, ["C-001", "C-002"])
    (world.folder / "drop" / "customers.csv").unlink()
    result = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert result.exit_code == 3
    assert "customers.csv does not exist in" in result.stderr
    assert not any(c["disabled"] for c in clients(world).values())


def test_an_emptied_source_disables_nothing_unless_a_person_says_so(world, runner):
    path = mirrored(world, ["C-001", "C-002"])
    (world.folder / "drop" / "customers.csv").write_text(HEADER, encoding="utf-8")
    result = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert result.exit_code == 3
    assert "the complete listing of drop.customers is empty, but 2 records were there" in (
        result.stderr
    )
    assert "--allow-mass-delete" in result.stderr
    assert not any(c["disabled"] for c in clients(world).values())

    allowed = runner.invoke(
        app, ["sync", "customers-csv-to-repzo", "--allow-mass-delete", "-c", path]
    )
    assert allowed.exit_code == 0, allowed.output
    assert all(c["disabled"] for c in clients(world).values())


def test_mirror_stops_before_disabling_more_than_max_delete(world, runner):
    codes = [f"C-{n:03d}" for n in range(1, 11)]
    path = mirrored(world, codes)
    (world.folder / "drop" / "customers.csv").write_text(rows(codes[:8]), encoding="utf-8")
    result = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert result.exit_code == 3
    assert (
        "mirror would disable 2 of the 10 records of drop.customers in repzo.client, more "
        "than mirror.max_delete (10%) allows" in result.stderr
    )
    assert not any(c["disabled"] for c in clients(world).values())
    allowed = runner.invoke(
        app,
        [
            "--log-format",
            "json",
            "sync",
            "customers-csv-to-repzo",
            "--allow-mass-delete",
            "-c",
            path,
        ],
    )
    assert allowed.exit_code == 0, allowed.output
    assert "going ahead as --allow-mass-delete asks" in allowed.output
    assert {code for code, c in clients(world).items() if c["disabled"]} == {"C-009", "C-010"}


def test_a_record_disabled_by_mirror_is_enabled_when_it_comes_back(world):
    path = mirrored(world, ["C-001", "C-002"], "  mirror: {max_delete: 100%}\n")
    drop = world.folder / "drop" / "customers.csv"
    drop.write_text(rows(["C-001"]), encoding="utf-8")
    [gone] = world.sync(load_config(path), "customers-csv-to-repzo")
    assert gone.counts.deleted == 1 and clients(world)["C-002"]["disabled"] is True
    world.tick()
    drop.write_text(rows(["C-001", "C-002"]), encoding="utf-8")
    [back] = world.sync(load_config(path), "customers-csv-to-repzo")
    assert back.counts.updated == 1
    assert not any(c["disabled"] for c in clients(world).values())
    world.tick()
    [again] = world.sync(load_config(path), "customers-csv-to-repzo")
    assert again.counts.updated == again.counts.deleted == 0  # settled


def test_a_listing_with_an_unreadable_row_disables_nothing(world):
    path = mirrored(world, ["C-001", "C-002", "C-003"], "  mirror: {max_delete: 100%}\n")
    text = rows(["C-001", "C-002", "C-003"]).replace("C-002,Customer", 'C-002,"Customer', 1)
    (world.folder / "drop" / "customers.csv").write_text(text, encoding="utf-8")
    [run] = world.sync(load_config(path), "customers-csv-to-repzo")
    assert run.status == "partial" and run.counts.deleted == 0  # C-002 and C-003 are unreadable
    assert not any(c["disabled"] for c in clients(world).values())


@pytest.mark.slow
def test_sigterm_finishes_the_page_commits_and_exits_0(world):
    world.erp.seed(customers=1500, items=0, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    world.repzo.set_faults(latency_ms=15)  # slow enough to stop it halfway
    config_text = """
- name: price-lists
  source: {connector: erp, stream: price_lists}
  target: {connector: repzo, stream: pricelists}
- name: customers-erp-to-repzo
  source: {connector: erp, stream: customers}
  target: {connector: repzo, stream: client}
"""
    world.config(config_text, page_size=100)
    path = str(world.folder / "syncer.yaml")
    child = subprocess.Popen(
        [sys.executable, "-m", "syncer", "--log-format", "json", "sync", "--all", "-c", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(world.repzo.documents("client")) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err[-2000:]
    assert "stopped" in out
    created = len(world.repzo.documents("client"))
    assert 100 <= created < 1500
    store = store_for(world.store_url)
    with store.session() as session:
        from syncer.state.models import Cursor

        cursor = session.get(Cursor, "customers-erp-to-repzo")
        assert cursor is not None and cursor.scan is not None and cursor.scan["after"]  # resumable
    store.close()

    world.repzo.clear_faults()
    from syncer.config import load_config

    [rest] = world.sync(load_config(path), "customers-erp-to-repzo")
    assert rest.status == "succeeded"
    assert rest.counts.created == 1500 - created  # resumed where it stopped, nothing twice
    assert len(world.repzo.documents("client")) == 1500


def test_a_run_whose_process_died_is_closed_as_interrupted_by_the_next(world):
    config = world.config(MIRROR)
    (world.folder / "drop" / "customers.csv").write_text(rows(["A1"]), encoding="utf-8")
    world.sync(config, "customers-csv-to-repzo")  # creates the store
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            for run_id, pid in (("killed", int(dead.stdout)), ("alive", os.getppid())):
                session.add(
                    Run(
                        id=run_id,
                        flow="customers-csv-to-repzo",
                        status="running",
                        host=socket.gethostname(),
                        pid=pid,
                    )
                )
        world.tick()
        [second] = world.sync(config, "customers-csv-to-repzo")
        with store.session() as session:
            killed, alive = session.get(Run, "killed"), session.get(Run, "alive")
            assert killed is not None and alive is not None
            assert killed.status == "interrupted" and killed.finished_at is not None
            assert "ended without finishing" in (killed.error or "")
            assert alive.status == "running"  # its process is still there: not ours to close
            assert session.get(Run, second.run_id).status == "succeeded"  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_listing_shorter_than_the_source_says_disables_nothing(world, monkeypatch):
    """Repzo says how many records a listing holds (total_result): a complete listing that
    brings fewer lost a page somewhere, and mirroring it would delete what was on it."""
    world.repzo.seed("client", 30, updated_at=T0_MS - 60_000)
    flows = """
- name: clients-mirror
  source: {connector: repzo, stream: client}
  target: {connector: drop, stream: customers}
  mode: mirror
  mirror: {max_delete: 100%}
"""
    config = world.config(flows, page_size=10)
    [first] = world.sync(config, "clients-mirror")
    assert first.counts.created == 30
    real = paging.KeysetPaginator.advance

    def stop_after_two_pages(self, body, records):  # a server that ends the listing early
        following = real(self, body, records)
        return (
            None if self.after and self.after >= sorted(c["_id"] for c in docs)[19] else following
        )

    docs = world.repzo.documents("client")
    monkeypatch.setattr(paging.KeysetPaginator, "advance", stop_after_two_pages)
    world.tick()
    [short] = world.sync(config, "clients-mirror")
    assert short.status == "failed" and short.error_exit == 3
    # The listing itself notices, before mirror mode sees it (a recount still says 30).
    assert "repzo said /client holds 30 records, but the listing ended after 20" in (
        short.error or ""
    )
    rows = (world.folder / "drop" / "customers.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 31  # nothing deleted
