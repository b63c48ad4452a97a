"""syncer demo: the README's first command shows a real sync both ways and exits 0."""

from __future__ import annotations

import json

from syncer.cli import app


def test_the_demo_syncs_both_ways(runner, tmp_path):
    folder = tmp_path / "demo"
    result = runner.invoke(
        app, ["demo", "--dir", str(folder), "--customers", "40", "--items", "12"]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "ERP -> Repzo, first sync" in out and "Repzo -> ERP" in out and "Both ways again" in out
    assert "Once more with nothing new: 0 writes" in out
    assert (
        "C-00020 phone: ERP '+962 79 222 2020', Repzo '+962 79 222 2020'" in out
    )  # Repzo owns phones
    assert "waiting in `syncer conflicts list`" in out
    assert "integration_meta.id = 'demo_C-00041'" in out  # the field shop got an ERP code
    config = str(folder / "syncer.yaml")
    conflicts = json.loads(runner.invoke(app, ["conflicts", "list", "--json", "-c", config]).stdout)
    assert [list(c["fields"]) for c in conflicts] == [["email"]]
    status = json.loads(runner.invoke(app, ["status", "--json", "-c", config]).stdout)
    runs = {flow["name"]: flow["last_run"] for flow in status["flows"]}
    assert runs["invoices-repzo-to-erp"]["status"] == "succeeded"
    assert runs["invoices-repzo-to-csv"] is None  # disabled in the example configuration


def test_the_demo_configuration_is_the_example(tmp_path, runner):
    runner.invoke(app, ["demo", "--dir", str(tmp_path), "--customers", "30", "--items", "10"])
    from pathlib import Path

    example = (Path(__file__).resolve().parent.parent / "config.example.yaml").read_text()
    written = (tmp_path / "syncer.yaml").read_text()
    # Same file but for the sandboxes' URLs, the integration app the logs go to and the log
    # level; relative paths (the state store, the exports) land in the demo's folder as written.
    differing = [
        (a, b) for a, b in zip(example.splitlines(), written.splitlines(), strict=True) if a != b
    ]
    assert len(differing) <= 4, differing
    assert (tmp_path / "syncer.db").is_file() and (tmp_path / "exports").is_dir()
