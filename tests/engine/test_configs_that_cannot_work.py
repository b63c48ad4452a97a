"""Configurations that cannot work are refused when they load, with every place named; the ones
that look right do what they say: relative paths mean the configuration's folder, and the
connector's page_size is the size of a page."""

from __future__ import annotations

from pathlib import Path

from syncer.cli import app
from tests.engine.conftest import EXPORT_FLOW, KEY, T0_MS


def test_a_csv_key_that_contradicts_the_mapping_names_both_places(world, runner):
    path = world.user_config(drop="{type: csv, path: ./exports, streams: {customers: {key: id}}}")
    result = runner.invoke(app, ["check", "--offline", "-c", path])
    assert result.exit_code == 2
    assert "user.yaml:4: connectors.drop.streams.customers.key: is 'id', but the mapping" in (
        result.stderr
    )
    assert "mappings/csv/customers.yaml:5 says key: 'code'" in result.stderr


def test_a_key_template_that_needs_an_unset_namespace_is_refused(world, runner):
    into_repzo = """
- name: customers-to-repzo
  source: {connector: drop, stream: customers}
  target: {connector: repzo, stream: client}
"""
    path = world.user_config(into_repzo, repzo="")
    result = runner.invoke(app, ["sync", "customers-to-repzo", "-c", path])
    assert result.exit_code == 2
    assert "connectors.repzo.namespace: required by flow 'customers-to-repzo'" in result.stderr
    assert "'{namespace}_{code}'" in result.stderr
    # A one-way export from Repzo needs no namespace: nothing is written to Repzo.
    export = world.user_config(repzo="", name="export.yaml")
    assert runner.invoke(app, ["check", "--offline", "-c", export]).exit_code == 0


def test_relative_paths_are_relative_to_the_configuration_file(world, runner, monkeypatch):
    world.repzo.seed("client", 12, updated_at=T0_MS - 60_000)
    home = world.folder / "etc" / "syncer"
    (home / "exports").mkdir(parents=True)
    config = home / "syncer.yaml"
    config.write_text(
        f"""
state: {{url: "sqlite:///state/syncer.db"}}
connectors:
  repzo: {{type: repzo, base_url: "{world.repzo.url}", api_key: {KEY}, namespace: acme}}
  drop: {{type: csv, path: exports}}
flows:
  - name: clients-to-csv
    source: {{connector: repzo, stream: client}}
    target: {{connector: drop, stream: customers}}
""",
        encoding="utf-8",
    )
    (home / "state").mkdir()
    elsewhere = world.folder / "cron-starts-here"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert (home / "state" / "syncer.db").is_file()
    assert (home / "exports" / "customers.csv").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing made where syncer happened to start


def test_the_connectors_page_size_is_the_size_of_a_page(world, runner):
    world.repzo.seed("client", 120, updated_at=T0_MS - 60_000)
    path = world.user_config(
        EXPORT_FLOW + "  batch_size: 7\n", repzo="namespace: acme, page_size: 50"
    )
    world.repzo.reset_stats()
    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])
    assert result.exit_code == 0, result.output
    # One request for the server's clock, then pages of 50: 50, 50, 20.
    assert world.repzo.stats().count("GET", "client") == 4
    rows = (Path(world.folder) / "exports" / "customers.csv").read_text(encoding="utf-8-sig")
    assert len(rows.splitlines()) == 121


def test_a_server_that_caps_page_sizes_still_gives_every_record(world, runner):
    """Repzo may serve fewer records than asked for (16 of its spec files say 100 at most): the
    end of a listing is what the server says, never a page shorter than the one asked for."""
    world.repzo.seed("client", 450, updated_at=T0_MS - 60_000)
    world.repzo.set_options(max_per_page=100)
    path = world.user_config()
    result = runner.invoke(app, ["sync", "clients-to-csv", "-c", path])
    assert result.exit_code == 0, result.output
    rows = (Path(world.folder) / "exports" / "customers.csv").read_text(encoding="utf-8-sig")
    assert len(rows.splitlines()) == 451  # the header and all 450, not the first 100
