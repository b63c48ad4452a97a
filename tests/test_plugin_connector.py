"""A connector from another package plugs in through the ``syncer.connectors`` entry point,
exactly as the shipped ones do. The example in ``examples/jsonl_connector`` (the one the README
shows) is installed into this test's environment and used by a flow."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from syncer import plugins
from syncer.cli import app
from syncer.config import load_config
from syncer.connector import Connector, ReadRequest, WriteOp

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "jsonl_connector"


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The example package as pip would lay it out: the module plus a dist-info directory whose
    entry_points.txt is what makes syncer find it."""
    site = tmp_path / "site-packages"
    shutil.copytree(EXAMPLE / "syncer_jsonl", site / "syncer_jsonl")
    info = site / "syncer_jsonl-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: syncer-jsonl\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[syncer.connectors]\njsonl = syncer_jsonl:JsonlConnector\n"
    )
    monkeypatch.syspath_prepend(str(site))
    plugins.connector_types.cache_clear()
    yield
    plugins.connector_types.cache_clear()


@pytest.fixture
def project(tmp_path, write_config):
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    (tmp_path / "a" / "customers.jsonl").write_text(
        json.dumps({"id": "C-1", "name": "Al Noor", "limit": "1500.500"}) + "\n", encoding="utf-8"
    )
    mappings = tmp_path / "my-mappings" / "jsonl"
    mappings.mkdir(parents=True)
    (mappings / "customers.yaml").write_text(
        "connector: jsonl\nstream: customers\nentity: customer\nkey: id\n"
        "fields:\n  code: id\n  name: name\n"
        "  credit_limit: {path: limit, transform: decimal_string}\n",
        encoding="utf-8",
    )
    return write_config(
        f"""
        mappings: [{tmp_path / "my-mappings"}]
        connectors:
          a: {{type: jsonl, path: {tmp_path / "a"}}}
          b: {{type: jsonl, path: {tmp_path / "b"}}}
        flows:
          - name: copy-customers
            source: {{connector: a, stream: customers}}
            target: {{connector: b, stream: customers}}
        """
    )


def test_the_plugin_is_found_through_its_entry_point(installed):
    types = plugins.connector_types()
    assert {"repzo", "csv", "erp_stub", "jsonl"} <= set(types)
    assert types["jsonl"].__module__ == "syncer_jsonl"


def test_a_flow_uses_the_plugin(installed, project, runner, tmp_path):
    config = load_config(project)
    assert config.connectors["a"].type == "jsonl"

    check = runner.invoke(app, ["check", "--config", str(project)])
    assert check.exit_code == 0, check.output
    assert "folder" in check.output and "found" in check.output

    sample = tmp_path / "sample.json"
    sample.write_text(
        json.dumps({"id": "C-1", "name": "Al Noor", "limit": "1500.500"}), encoding="utf-8"
    )
    tried = runner.invoke(
        app, ["mapping", "test", "copy-customers", "-i", str(sample), "-c", str(project), "--json"]
    )
    assert tried.exit_code == 0, tried.output
    assert json.loads(tried.output)["target"] == {
        "id": "C-1",
        "name": "Al Noor",
        "limit": "1500.5",
    }

    connector = plugins.create_connector("b", config)
    assert isinstance(connector, Connector)

    async def round_trip() -> list[dict]:
        await connector.write(
            "customers", [WriteOp("create", {"id": "C-1", "name": "Al Noor"}, ref="r")]
        )
        return [
            r async for page in connector.read("customers", ReadRequest()) for r in page.records
        ]

    assert asyncio.run(round_trip()) == [{"id": "C-1", "name": "Al Noor"}]


def test_a_broken_plugin_names_itself(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    info = site / "broken_connector-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-connector\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[syncer.connectors]\nbroken = no_such_module:Connector\n"
    )
    monkeypatch.syspath_prepend(str(site))
    plugins.connector_types.cache_clear()
    try:
        with pytest.raises(
            plugins.PluginError, match=r"connector type 'broken' \(no_such_module:Connector\)"
        ):
            plugins.connector_types()
    finally:
        plugins.connector_types.cache_clear()


def test_the_readme_shows_the_tested_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = (EXAMPLE / "syncer_jsonl" / "__init__.py").read_text(encoding="utf-8")
    assert code.strip() in readme
