"""An amount a write rounds to what the target keeps is counted and named in the summary of
``syncer sync``; with ``exact: true`` on the field, the record is refused instead."""

from __future__ import annotations

from pathlib import Path

from syncer.cli import app
from tests.engine.conftest import World

FLOW = """
- name: shops-from-csv
  source: {connector: drop, stream: customers}
  target: {connector: repzo, stream: client}
"""


def drop_file(world: World) -> None:
    (world.folder / "drop" / "customers.csv").write_text(
        "code,name,credit_limit\nC-1,Corner Shop,1500.0004\nC-2,Pharmacy,250.5\n",
        encoding="utf-8",
    )


def test_a_rounded_amount_is_counted_and_named(world: World, runner) -> None:
    drop_file(world)
    world.config(FLOW)
    result = runner.invoke(app, ["sync", "shops-from-csv", "-c", str(world.folder / "syncer.yaml")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert (
        "note: shops-from-csv: 1 value was rounded to what the target keeps "
        "(credit_limit 1500.0004 -> 1500)" in said
    )
    limits = {
        c["client_code"]: c["financials"]["credit_limit"] for c in world.repzo.documents("client")
    }
    assert limits == {"C-1": 1500000, "C-2": 250500}


def test_exact_refuses_the_record_instead(world: World, runner, tmp_path: Path) -> None:
    drop_file(world)
    maps = world.folder / "maps" / "repzo"
    maps.mkdir(parents=True)
    shipped = Path(__file__).resolve().parents[2] / "mappings" / "repzo" / "client.yaml"
    (maps / "client.yaml").write_text(
        shipped.read_text(encoding="utf-8").replace(
            "transform: money_x1000}", "transform: money_x1000, exact: true}"
        ),
        encoding="utf-8",
    )
    world.config(FLOW, extra="mappings: [maps]\n")
    result = runner.invoke(app, ["sync", "shops-from-csv", "-c", str(world.folder / "syncer.yaml")])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert (
        "1500.0004 cannot be written exactly: the target keeps 1500 (exact: true in the mapping)"
        in said
    )
    assert [c["client_code"] for c in world.repzo.documents("client")] == ["C-2"]
