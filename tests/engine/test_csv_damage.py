"""A broken CSV file is named precisely, costs no rows for good, and fixing the file fixes its
dead letters; a person can read any window again on purpose."""

from __future__ import annotations

import json

from syncer.cli import app
from syncer.config import load_config
from syncer.engine import leases
from syncer.state.models import Cursor
from tests.engine.conftest import INVOICE_FLOWS, World, store_for

FLOW = """
- name: customers-csv-to-repzo
  source: {connector: drop, stream: customers}
  target: {connector: repzo, stream: client}
"""
HEADER = "code,name,phone,city,credit_limit,updated_at\n"


def line(code: str, name: str | None = None, credit: str = "100.5", hour: int = 10) -> str:
    shop = name or f"Shop {code}"
    return f"{code},{shop},+962 6 555,Amman,{credit},2026-11-29T{hour:02d}:00:00Z\n"


def seven(broken: bool) -> str:
    rows = [line(f"C-00{n}") for n in range(1, 8)]
    if broken:
        rows[2] = line("C-003", name='"Shop C-003')  # line 4: a quote opened, never closed
    return HEADER + "".join(rows)


def prepared(world: World, text: str) -> str:
    (world.folder / "drop" / "customers.csv").write_text(text, encoding="utf-8")
    world.config(FLOW)
    return str(world.folder / "syncer.yaml")


def codes(world: World) -> dict[str, dict]:
    return {c["client_code"]: c for c in world.repzo.documents("client")}


def summary(output: str) -> list[str]:
    """The cells of the flow's row in `syncer sync`'s table: flow, status, read, created..."""
    row = next(line for line in output.splitlines() if "customers-csv-to-repzo" in line)
    return [cell.strip() for cell in row.split("│") if cell.strip()]


def letters(runner, path: str, *extra: str) -> list[dict]:
    result = runner.invoke(app, ["dead-letters", "list", "--json", *extra, "-c", path])
    return json.loads(result.stdout)


def test_an_unclosed_quote_is_named_and_fixing_the_file_brings_every_row(world, runner):
    path = prepared(world, seven(broken=True))
    result = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert result.exit_code == 1, result.output
    assert summary(result.stdout)[1:4] == [
        "partial",
        "2",
        "2",
    ]  # read 2 (the damage is not a row), created 2
    assert set(codes(world)) == {"C-001", "C-002"}
    [letter] = letters(runner, path)
    assert letter["record"] == "customers.csv:4" and letter["kind"] == "read"
    assert "unclosed quote" in letter["reason"] and "line 4" in letter["reason"]
    assert "not valid utf-8" not in letter["reason"]
    store = store_for(world.store_url)
    with store.session() as session:
        assert session.get(Cursor, "customers-csv-to-repzo") is None  # it did not move past them
    store.close()

    # The file is fixed; the rows keep their old updated-at: they are read all the same.
    (world.folder / "drop" / "customers.csv").write_text(seven(broken=False), encoding="utf-8")
    fixed = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert fixed.exit_code == 0, fixed.output
    assert set(codes(world)) == {f"C-00{n}" for n in range(1, 8)}
    assert letters(runner, path) == []
    assert letters(runner, path, "--all")[0]["status"] == "resolved"


def test_a_dead_letter_from_a_file_is_retried_by_reading_the_file_again(world, runner):
    text = seven(broken=False).replace(line("C-002"), line("C-002", credit="lots"))
    path = prepared(world, text)
    result = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert result.exit_code == 1
    [letter] = letters(runner, path)
    assert letter["record"] == "C-002" and letter["field"] == "credit_limit"
    # Fixed by hand in the file, updated-at untouched, so no incremental read would see it.
    (world.folder / "drop" / "customers.csv").write_text(seven(broken=False), encoding="utf-8")
    retried = runner.invoke(app, ["dead-letters", "retry", "-c", path])
    assert retried.exit_code == 0, retried.output
    assert "retried 1, synced 1, still failing 0" in retried.stdout
    assert codes(world)["C-002"]["financials"]["credit_limit"] == 100500
    assert letters(runner, path) == []


def test_sync_full_and_cursor_reset_read_a_window_again(world, runner):
    path = prepared(world, seven(broken=False))
    drop = world.folder / "drop" / "customers.csv"
    assert runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path]).exit_code == 0
    # A late export adds a row stamped before the last read: incremental reads never see it.
    drop.write_text(seven(broken=False) + line("C-008", hour=9), encoding="utf-8")
    quiet = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert quiet.exit_code == 0 and "C-008" not in codes(world)

    store = store_for(world.store_url)
    with store.session() as session:
        before = session.get(Cursor, "customers-csv-to-repzo").value_utc
    full = runner.invoke(app, ["sync", "customers-csv-to-repzo", "--full", "-c", path])
    assert full.exit_code == 0, full.output
    assert summary(full.stdout)[1:5] == [
        "succeeded",
        "8",
        "1",
        "0",
    ]  # all read, one new, nothing else
    assert "C-008" in codes(world)
    with store.session() as session:
        assert session.get(Cursor, "customers-csv-to-repzo").value_utc >= before  # not back
    store.close()

    drop.write_text(drop.read_text(encoding="utf-8") + line("C-009", hour=11), encoding="utf-8")
    bad = runner.invoke(
        app, ["cursor", "reset", "customers-csv-to-repzo", "--to", "yesterday", "-c", path]
    )
    assert bad.exit_code == 2 and "expected a date such as 2026-11-30" in bad.output
    reset = runner.invoke(
        app,
        ["cursor", "reset", "customers-csv-to-repzo", "--to", "2026-11-29T10:30:00Z", "-c", path],
    )
    assert reset.exit_code == 0, reset.output
    assert "reads what changed since 2026-11-29T10:30:00+00:00" in reset.stdout
    again = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert summary(again.stdout)[1:4] == [
        "succeeded",
        "1",
        "1",
    ]  # only the row after 10:30, created
    cleared = runner.invoke(app, ["cursor", "reset", "customers-csv-to-repzo", "-c", path])
    assert cleared.exit_code == 0 and "reads the whole source" in cleared.stdout
    whole = runner.invoke(app, ["sync", "customers-csv-to-repzo", "-c", path])
    assert summary(whole.stdout)[1:4] == ["succeeded", "9", "0"]  # read again, nothing written


def test_cursor_reset_refuses_a_running_flow_and_a_time_for_an_id_cursor(world, runner):
    world.config(INVOICE_FLOWS)
    path = str(world.folder / "syncer.yaml")
    by_id = runner.invoke(app, ["cursor", "reset", "invoices", "--to", "2026-11-29", "-c", path])
    assert by_id.exit_code == 2
    assert "repzo.fullinvoices is not read by a last-modified time" in by_id.stderr
    store = store_for(world.store_url)
    try:
        name = leases.lease_name(load_config(path).flow("invoices"))
        held = leases.acquire(store, name, "elsewhere:1:x")
        busy = runner.invoke(app, ["cursor", "reset", "invoices", "-c", path])
        assert busy.exit_code == 3 and "invoices is running now" in busy.stderr
        leases.release(store, held)
        assert runner.invoke(app, ["cursor", "reset", "invoices", "-c", path]).exit_code == 0
    finally:
        store.close()
