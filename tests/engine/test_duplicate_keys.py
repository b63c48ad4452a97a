"""The same record twice in a source, or two source records that would be one target record,
never crash a run: the last one read wins where it is the same record (a key on two rows of a
CSV file, an ERP page that repeats a record), and records syncer cannot tell apart become dead
letters naming each other. A run that dies of anything unexpected is closed as failed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from connectors.erp_stub import ErpStubConnector
from syncer.cli import app
from syncer.connector import Page, ReadRequest
from syncer.engine import identity, idmap
from syncer.state.models import IdMapEntry, Run
from tests.engine.conftest import CUSTOMER_FLOWS, EXPORT_FLOW, T0_MS, World, store_for
from tests.engine.test_csv_damage import HEADER, codes, letters, line, prepared, summary

CSV_FLOW = "customers-csv-to-repzo"


def runs(world: World, flow: str) -> list[Run]:
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            return list(session.scalars(select(Run).where(Run.flow == flow)))
    finally:
        store.close()


def warnings(result: Any, event: str) -> list[dict[str, Any]]:
    """Log lines (JSON, off a terminal) whose event mentions ``event``."""
    found = []
    for text in (result.stdout + result.stderr).splitlines():
        if text.startswith("{") and event in text:
            found.append(json.loads(text))
    return found


def test_a_key_twice_in_a_csv_file_syncs_the_last_row_and_skips_the_earlier(world, runner):
    rows = [
        line("C-001", name="First"),  # line 2
        line("C-002"),
        line("C-001", name="Second"),  # line 4
        line("C-003"),
        line("C-001", name="Last"),  # line 6: the newest in the file
    ]
    path = prepared(world, HEADER + "".join(rows))

    result = runner.invoke(app, ["sync", CSV_FLOW, "-c", path])

    assert result.exit_code == 0, result.output
    # read 5, created 3, updated 0, unchanged 0, skipped 2, failed 0
    assert summary(result.stdout)[1:8] == ["succeeded", "5", "3", "0", "0", "2", "0"]
    assert codes(world)["C-001"]["name"] == "Last"
    assert set(codes(world)) == {"C-001", "C-002", "C-003"}
    [warning] = warnings(result, "more than once")
    assert warning["record"] == "C-001" and warning["times"] == 3
    assert warning["skipped"] == ["customers.csv:2", "customers.csv:4"]
    assert warning["synced"] == "customers.csv:6"
    assert letters(runner, path) == []
    assert [run.status for run in runs(world, CSV_FLOW)] == ["succeeded"]

    # Read again whole: nothing to write, the same rule, no error.
    again = runner.invoke(app, ["sync", CSV_FLOW, "--full", "-c", path])
    assert again.exit_code == 0, again.output
    assert summary(again.stdout)[1:8] == ["succeeded", "5", "0", "0", "3", "2", "0"]


def test_a_key_twice_across_pages_ends_with_the_last_row_too(world, runner):
    # Pages of two rows: the repeat is in the next page, which syncs it as an update.
    rows = [line("C-001", name="First"), line("C-002"), line("C-001", name="Last")]
    (world.folder / "drop" / "customers.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    path = world.user_config(
        """
        - name: customers-csv-to-repzo
          source: {connector: drop, stream: customers}
          target: {connector: repzo, stream: client}
        """,
        repzo="namespace: demo",
        drop=f'{{type: csv, path: "{world.folder / "drop"}", page_size: 2, '
        "streams: {customers: {key: code}}}",
    )
    result = runner.invoke(app, ["sync", CSV_FLOW, "-c", path])
    assert result.exit_code == 0, result.output
    assert codes(world)["C-001"]["name"] == "Last"


def test_an_erp_page_that_repeats_a_record_syncs_it_once(world, runner, monkeypatch):
    world.erp.seed(customers=3, items=0, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    real_read = ErpStubConnector.read

    async def repeating(
        self: ErpStubConnector, stream: str, request: ReadRequest
    ) -> AsyncIterator[Page]:
        async for page in real_read(self, stream, request):
            if stream == "customers" and page.records:
                # The first record again at the end of the page, as a later version of it.
                again = {**page.records[0], "name": "Renamed in the same page"}
                page = Page([*page.records, again], page.position, page.rejected, page.total)
            yield page

    monkeypatch.setattr(ErpStubConnector, "read", repeating)
    world.config(CUSTOMER_FLOWS)
    path = str(world.folder / "syncer.yaml")

    result = runner.invoke(app, ["sync", "price-lists", "customers-erp-to-repzo", "-c", path])

    assert result.exit_code == 0, result.output
    row = next(r for r in summary_rows(result.stdout) if r[0] == "customers-erp-to-repzo")
    assert row[1:8] == ["succeeded", "4", "3", "0", "0", "1", "0"]
    first = world.erp.records("customers")[0]["id"]
    assert codes(world)[first]["name"] == "Renamed in the same page"
    [warning] = warnings(result, "more than once")
    assert warning["record"] == first and "skipped" not in warning  # no lines to name


def summary_rows(output: str) -> list[list[str]]:
    rows = []
    for text in output.splitlines():
        cells = [cell.strip() for cell in text.split("│") if cell.strip()]
        if len(cells) > 8:
            rows.append(cells)
    return rows


def test_two_source_records_that_would_be_one_csv_row_are_both_dead_letters(world, runner):
    # Repzo allows two clients with one client_code; the CSV export is keyed by code.
    world.repzo.insert(
        "client",
        [
            {"name": "Shop A", "client_code": "C-1"},
            {"name": "Shop B", "client_code": "C-1"},
            {"name": "Shop C", "client_code": "C-2"},
        ],
    )
    world.tick()
    world.config(EXPORT_FLOW)
    path = str(world.folder / "syncer.yaml")

    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])

    assert result.exit_code == 1, result.output
    exported = (world.folder / "drop" / "customers.csv").read_text(encoding="utf-8-sig")
    assert "C-2,Shop C" in exported and "C-1" not in exported  # neither overwrote the other
    found = letters(runner, path)
    assert len(found) == 2 and {letter["kind"] for letter in found} == {"identity"}
    ids = sorted(client["_id"] for client in world.repzo.documents("client")[:2])
    for letter in found:
        assert "2 records of repzo.client" in letter["reason"]
        assert all(native in letter["reason"] for native in ids)
        assert "drop.customers record with the key 'C-1'" in letter["reason"]

    again = runner.invoke(app, ["sync", "clients-to-csv", "--full", "-c", path])
    assert again.exit_code == 1, again.output
    assert [run.status for run in runs(world, "clients-to-csv")] == ["partial", "partial"]


def test_two_records_for_one_csv_row_in_different_batches_do_not_overwrite(world, runner):
    """The later record finds the row already linked to the earlier one (committed by the
    batch before) and is parked, not written over it."""
    world.repzo.insert("client", [{"name": "Shop A", "client_code": "C-1"}])
    world.tick()
    world.repzo.insert(
        "client",
        [{"name": "Shop B", "client_code": "C-1"}, {"name": "Shop C", "client_code": "C-2"}],
    )
    world.tick()
    one_a_batch = EXPORT_FLOW.rstrip() + "\n  batch_size: 1\n"
    world.config(one_a_batch, page_size=1)
    path = str(world.folder / "syncer.yaml")

    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])

    assert result.exit_code == 1, result.output
    exported = (world.folder / "drop" / "customers.csv").read_text(encoding="utf-8-sig")
    assert "C-1,Shop A" in exported and "Shop B" not in exported
    assert "C-2,Shop C" in exported
    [letter] = letters(runner, path)
    assert letter["kind"] == "identity" and "already the counterpart" in letter["reason"]


def test_the_last_guard_parks_what_a_target_stored_over_a_linked_record(world, runner, monkeypatch):
    # A target may answer a write with a record that is already linked (one that keys records
    # by a value it was sent) where nothing could tell before writing: the id map keeps one
    # link per record, and the other record is parked rather than crashing the run.
    monkeypatch.setattr(identity, "one_target_each", lambda scope, decisions: decisions)
    world.repzo.insert(
        "client",
        [{"name": "Shop A", "client_code": "C-1"}, {"name": "Shop B", "client_code": "C-1"}],
    )
    world.tick()
    world.config(EXPORT_FLOW)
    path = str(world.folder / "syncer.yaml")

    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])

    assert result.exit_code == 1, result.output
    [letter] = letters(runner, path)
    assert letter["kind"] == "identity"
    assert "drop.customers stored this record as its record C-1" in letter["reason"]
    assert "written but is not linked" in letter["reason"]
    assert [run.status for run in runs(world, "clients-to-csv")] == ["partial"]


def test_a_record_another_source_already_links_is_not_overwritten(world, runner):
    # ERP C-00001 is in Repzo; a CSV drop then brings its own C-00001 to the same stream.
    world.erp.seed(customers=2, items=0, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    erp_id = world.erp.records("customers")[0]["id"]
    (world.folder / "drop" / "customers.csv").write_text(
        HEADER + line(erp_id, name="From the CSV drop"), encoding="utf-8"
    )
    world.config(
        CUSTOMER_FLOWS
        + """
- name: customers-csv-to-repzo
  source: {connector: drop, stream: customers}
  target: {connector: repzo, stream: client}
"""
    )
    path = str(world.folder / "syncer.yaml")
    first = runner.invoke(app, ["sync", "price-lists", "customers-erp-to-repzo", "-c", path])
    assert first.exit_code == 0, first.output
    name = codes(world)[erp_id]["name"]

    result = runner.invoke(app, ["sync", CSV_FLOW, "-c", path])

    assert result.exit_code == 1, result.output
    assert codes(world)[erp_id]["name"] == name  # not overwritten
    [letter] = letters(runner, path, "--flow", CSV_FLOW)
    assert letter["record"] == erp_id and letter["kind"] == "identity"
    assert f"already the counterpart of erp.customers {erp_id}" in letter["reason"]
    assert [run.status for run in runs(world, CSV_FLOW)] == ["partial"]


@pytest.mark.parametrize(
    ("error", "exit_code", "fragment"),
    [
        (
            IntegrityError("INSERT INTO id_map ...", {}, Exception("UNIQUE constraint failed")),
            70,
            "IntegrityError: (builtins.Exception) UNIQUE constraint failed",
        ),
        (OperationalError("UPDATE runs ...", {}, Exception("disk I/O error")), 3, "disk I/O"),
        (RuntimeError("a bug"), 70, "RuntimeError: a bug (a bug in syncer"),
    ],
    ids=["integrity", "store-down", "bug"],
)
def test_a_run_that_dies_of_an_unexpected_error_is_closed_as_failed(
    world, runner, monkeypatch, error, exit_code, fragment
):
    path = prepared(world, HEADER + line("C-001") + line("C-002"))

    def broken(*args: Any, **kwargs: Any) -> IdMapEntry:
        raise error

    monkeypatch.setattr(idmap, "link", broken)
    result = runner.invoke(app, ["sync", CSV_FLOW, "-c", path])

    assert result.exit_code == exit_code, result.output
    [run] = runs(world, CSV_FLOW)
    assert run.status == "failed" and run.finished_at is not None
    assert fragment in (run.error or ""), run.error
    if exit_code == 3:
        assert "state store" in result.stderr and "Traceback" not in result.stderr
    else:
        assert "this is a bug in syncer" in result.stderr

    monkeypatch.undo()
    fixed = runner.invoke(app, ["sync", CSV_FLOW, "-c", path])
    assert fixed.exit_code == 0, fixed.output
    assert set(codes(world)) == {"C-001", "C-002"}


def test_a_key_that_finds_two_target_records_parks_the_record_and_writes_neither(world, runner):
    # Two Repzo clients carry the identity key of one ERP customer (one made by hand, say):
    # updating either would be a guess, and creating a third would be a duplicate.
    world.erp.seed(customers=2, items=0, vans=0, invoices=0, credit_notes=0, payments=0)
    world.erp.clock.freeze(T0_MS)
    code = world.erp.records("customers")[0]["id"]
    twins = world.repzo.insert(
        "client",
        [
            {"name": name, "client_code": code, "integration_meta": {"id": f"demo_{code}"}}
            for name in ("By hand", "Imported once")
        ],
    )
    world.config(CUSTOMER_FLOWS)
    path = str(world.folder / "syncer.yaml")

    result = runner.invoke(app, ["sync", "price-lists", "customers-erp-to-repzo", "-c", path])

    assert result.exit_code == 1, result.output
    same_code = [c for c in world.repzo.documents("client") if c["client_code"] == code]
    assert sorted(c["name"] for c in same_code) == ["By hand", "Imported once"]  # untouched
    [letter] = letters(runner, path, "--flow", "customers-erp-to-repzo")
    assert letter["record"] == code and letter["kind"] == "identity"
    assert f"integration_meta.id 'demo_{code}'" in letter["reason"]
    assert all(twin in letter["reason"] for twin in twins)
    assert len(world.repzo.documents("client")) == 3  # the other customer was created
