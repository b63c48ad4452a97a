"""A number no target can store, in a CSV cell, costs its own record and nothing else: no hang,
no crash, the other rows synced, the record a dead letter that names the field and the value."""

from __future__ import annotations

import json
import time

from syncer.cli import app
from tests.engine.conftest import World

FLOW = """
- name: customers-from-csv
  source: {connector: drop, stream: customers}
  target: {connector: repzo, stream: client}
"""
HEADER = "code,name,phone,city,credit_limit,updated_at\n"


def row(code: str, credit: str) -> str:
    return f"{code},Shop {code},+962 6 555,Amman,{credit},2026-11-29T10:00:00Z\n"


def clients(world: World) -> dict[str, dict]:
    return {client["client_code"]: client for client in world.repzo.documents("client")}


def test_a_billion_digit_number_in_a_cell_is_a_dead_letter_not_a_hang(world, runner):
    # 1e999999999 is eleven characters; as an int it is a billion digits, which used to run
    # for over ten minutes (deaf to SIGTERM), and 1E+999999 exited 70 on every run.
    cells = ["100.5", "1e999999999", "1E+999999", "250"]
    text = HEADER + "".join(row(f"C-00{n}", credit) for n, credit in enumerate(cells, 1))
    path = world.user_config(FLOW)
    (world.folder / "exports" / "customers.csv").write_text(text, encoding="utf-8")

    started = time.monotonic()
    result = runner.invoke(app, ["sync", "customers-from-csv", "-c", path])
    assert time.monotonic() - started < 60
    assert result.exit_code == 1, result.output

    synced = clients(world)
    assert set(synced) == {"C-001", "C-004"}
    assert synced["C-001"]["financials"]["credit_limit"] == 100500
    listed = runner.invoke(app, ["dead-letters", "list", "--json", "-c", path])
    letters = {letter["record"]: letter for letter in json.loads(listed.stdout)}
    assert set(letters) == {"C-002", "C-003"}
    for code, cell in (("C-002", "1e999999999"), ("C-003", "1E+999999")):
        letter = letters[code]
        assert letter["field"] == "credit_limit"
        assert f"number {cell!r} is out of bounds" in letter["reason"]
        assert "at most 18 significant digits and an exponent from -30 to 30" in letter["reason"]

    # A retry reads the file again: as quick, and the same two failures.
    started = time.monotonic()
    retried = runner.invoke(app, ["dead-letters", "retry", "-c", path])
    assert time.monotonic() - started < 60
    assert "retried 2, synced 0, still failing 2" in retried.stdout, retried.output
