"""A flow's ``filter`` (and its source mapping's) decides which source records the flow takes:
the others are skipped and left alone, a record the filter fails on is a dead letter, a filter
that cannot work is refused when the configuration loads, and ``check`` shows it."""

from __future__ import annotations

import csv

import pytest

from syncer.cli import app
from syncer.errors import ConfigError
from tests.engine.conftest import World

FILTERED = """
- name: clients-to-csv
  source: {connector: repzo, stream: client}
  target: {connector: drop, stream: customers}
  filter: 'record.get("city") == "Amman"'
"""


def exported(world: World) -> dict[str, str]:
    with (world.folder / "drop" / "customers.csv").open(encoding="utf-8-sig") as file:
        return {row["code"]: row["city"] for row in csv.DictReader(file)}


def test_only_the_records_the_filter_takes_are_synced(world: World) -> None:
    world.repzo.insert(
        "client",
        [
            {"name": "A", "client_code": "C-1", "city": "Amman"},
            {"name": "B", "client_code": "C-2", "city": "Zarqa"},
            {"name": "C", "client_code": "C-3", "city": "Amman"},
        ],
    )
    world.tick()
    config = world.config(FILTERED)
    [run] = world.sync(config, "clients-to-csv")
    assert (run.counts.created, run.counts.skipped, run.counts.failed) == (2, 1, 0)
    assert exported(world) == {"C-1": "Amman", "C-3": "Amman"}


def test_a_record_the_filter_fails_on_is_a_dead_letter(world: World) -> None:
    world.repzo.insert(
        "client",
        [
            {"name": "A", "client_code": "C-1", "city": "Amman", "tags": ["vip"]},
            {"name": "B", "client_code": "C-2", "city": "Amman", "tags": 7},
        ],
    )
    world.tick()
    config = world.config(
        FILTERED.replace('record.get("city") == "Amman"', '"vip" in record["tags"]')
    )
    [run] = world.sync(config, "clients-to-csv")
    assert (run.counts.created, run.counts.failed) == (1, 1)
    assert list(exported(world)) == ["C-1"]


def test_a_filter_that_cannot_work_is_refused_at_load(world: World, runner) -> None:
    path = world.folder / "syncer.yaml"
    with pytest.raises(ConfigError):
        world.config(FILTERED.replace('record.get("city") == "Amman"', "clock() > 3"))
    result = runner.invoke(app, ["check", "--offline", "-c", str(path)])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert (
        "syncer.yaml:18: flows[0].filter: expression 'clock() > 3' uses unknown name 'clock'"
        in said
    )


def test_check_shows_what_a_flow_takes(world: World, runner) -> None:
    path = world.folder / "syncer.yaml"
    world.config(FILTERED)
    result = runner.invoke(app, ["check", "--offline", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        'clients-to-csv: takes only the repzo.client records for which record.get("city") == '
        '"Amman" (its filter)' in " ".join(result.output.split())
    )
