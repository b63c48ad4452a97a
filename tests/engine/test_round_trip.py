"""What syncer writes, syncer reads back: Repzo clients exported to a CSV drop, with the stream
settings of the shipped example (a day-first updated-at in Amman's time), come back through the
reverse flow without one failure and without one write."""

from __future__ import annotations

import csv
import re

from syncer.cli import app
from tests.engine.conftest import EXPORT_FLOW, T0_MS

PAST = "2026-11-30T00:00:00.000Z"


PAIR = (
    EXPORT_FLOW
    + """
- name: customers-from-csv
  source: {connector: drop, stream: customers}
  target: {connector: repzo, stream: client}
"""
)
DROP = (
    "{type: csv, path: ./exports, streams: {customers: {updated_at: updated_at, "
    'updated_at_format: "%d/%m/%Y %H:%M", timezone: Asia/Amman}}}'
)


def test_a_csv_export_reads_back_through_the_reverse_flow(world, runner):
    world.repzo.seed("client", 15, updated_at=T0_MS - 60_000)
    world.repzo.insert(
        "client",
        [
            {  # no credit limit, no email, no phone: empty cells in the file
                "name": f"Field Shop {n}",
                "client_code": f"F-{n}",
                "integration_meta": {"id": f"demo_F-{n}"},
                "updatedAt": PAST,
            }
            for n in range(5)
        ],
    )
    path = world.user_config(PAIR, repzo="namespace: demo", drop=DROP)
    out = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])
    assert out.exit_code == 0, out.output
    with (world.folder / "exports" / "customers.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    assert all(re.fullmatch(r"\d\d/\d\d/20\d\d \d\d:\d\d", row["updated_at"]) for row in rows)
    assert {row["credit_limit"] for row in rows if row["code"].startswith("F-")} == {""}

    world.repzo.reset_stats()
    back = runner.invoke(app, ["sync", "customers-from-csv", "-c", path])
    assert back.exit_code == 0, back.output  # exit 1 would mean dead letters
    row = next(line for line in back.stdout.splitlines() if "customers-from-csv" in line)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    # Unchanged, all 20. The file stamps rows to the minute: in the first seconds of a minute
    # they are newer than the scan's bound (now minus the safety margin), so the scan leaves
    # them and the pass that reads back what the other half wrote brings them (read 0).
    assert cells[1] == "succeeded" and cells[2] in ("20", "0"), back.output
    assert cells[3:8] == ["0", "0", "20", "0", "0"], back.output
    assert world.repzo.stats().writes() == 0

    again = runner.invoke(app, ["sync", "--all", "-c", path])
    assert again.exit_code == 0, again.output
    assert world.repzo.stats().writes() == 0
