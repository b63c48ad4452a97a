"""The command line: help, version, check, db and status, with the documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncer import __version__
from syncer.cli import app
from syncer.state import open_store
from syncer.state.migrate import head_revision
from syncer.state.models import Cursor, DeadLetter, Run

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


@pytest.fixture
def example_config(tmp_path, monkeypatch):
    """The shipped example, with its state store inside the test's folder."""
    monkeypatch.setenv("SYNCER_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    return str(EXAMPLE)


def test_help_lists_the_commands(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("check", "status", "db"):
        assert command in result.output


def test_no_arguments_shows_help(runner):
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    assert result.exit_code == 2


def test_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"syncer {__version__}"


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "syncer", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("syncer ")


def test_unknown_command_is_usage_error(runner):
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code == 2


def test_check_on_the_example_config(runner, example_config, tmp_path):
    result = runner.invoke(app, ["check", "--config", example_config, "--offline"])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output
    assert "not checked (--offline)" in result.output
    for name in (
        "customers-erp-to-repzo",
        "invoices-repzo-to-erp",
        "erp_stub",
        "every 5m",
        "cron */2 * * * *",
        "not created yet",
    ):
        assert name in result.output
    assert not (tmp_path / "state.db").exists()  # check changes nothing


def test_check_show_config_masks_secrets(runner, example_config):
    result = runner.invoke(app, ["check", "-c", example_config, "--show-config", "--offline"])
    assert result.exit_code == 0
    assert "sandbox-api-key" not in result.output and "sandbox-password" not in result.output
    assert "api_key: '***'" in result.output


def test_check_exits_3_when_a_system_cannot_be_reached(runner, write_config):
    path = write_config(
        """
        connectors:
          repzo: {type: repzo, base_url: "http://127.0.0.1:1", api_key: rk-never-shown}
        """
    )
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 3
    assert "error: connector repzo: cannot reach Repzo at http://127.0.0.1:1/" in result.stderr
    assert "rk-never-shown" not in result.output


def test_status_before_anything_ran(runner, example_config, tmp_path):
    result = runner.invoke(app, ["status", "--config", example_config])
    assert result.exit_code == 0, result.output
    assert "does not exist yet: nothing has run" in result.output
    assert "never" in result.output
    assert not (tmp_path / "state.db").exists()


def test_status_on_an_empty_store(runner, example_config, tmp_path):
    assert runner.invoke(app, ["db", "upgrade", "--config", example_config]).exit_code == 0
    result = runner.invoke(app, ["status", "--config", example_config])
    assert result.exit_code == 0, result.output
    assert "is empty: no flow has run yet" in result.output
    report = json.loads(runner.invoke(app, ["status", "--config", example_config, "--json"]).output)
    assert report["store_empty"] is True
    assert [f["name"] for f in report["flows"]][:2] == [
        "taxes-erp-to-repzo",
        "categories-erp-to-repzo",
    ]


def test_status_shows_cursor_last_run_and_dead_letters(runner, example_config, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with store.session() as session:
        session.add(
            Cursor(
                flow="customers-erp-to-repzo",
                connector="erp",
                stream="customers",
                kind="updated_at",
                value="2026-11-29T10:00:00+03:00",
            )
        )
        session.add(
            Run(
                id="r1",
                flow="customers-erp-to-repzo",
                status="partial",
                read=10,
                created=7,
                updated=1,
                unchanged=1,
                failed=1,
                started_at=datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
                finished_at=datetime(2026, 11, 29, 7, 1, tzinfo=UTC),
            )
        )
        session.add(
            DeadLetter(
                flow="customers-erp-to-repzo",
                connector="erp",
                stream="customers",
                record_key="C-00042",
                reason="price list PL-9 not synced yet",
                error_kind="reference",
            )
        )
        session.add(Run(id="r0", flow="old-flow", status="succeeded"))
    store.close()

    result = runner.invoke(app, ["status", "--config", example_config, "--json"])
    assert result.exit_code == 0, result.output
    flows = {f["name"]: f for f in json.loads(result.output)["flows"]}
    first = flows["customers-erp-to-repzo"]
    assert first["cursor"] == "2026-11-29T10:00:00+03:00"
    assert first["last_run"]["status"] == "partial" and first["last_run"]["created"] == 7
    assert first["dead_letters"] == 1
    assert flows["old-flow"]["in_config"] is False
    table = runner.invoke(app, ["status", "--config", example_config]).output
    assert "partial 2026-11-29 07:01:00 UTC" in table
    assert "old-flow (not in config)" in table


def test_db_current_and_upgrade(runner, example_config):
    assert (
        "does not exist yet" in runner.invoke(app, ["db", "current", "-c", example_config]).output
    )
    first = runner.invoke(app, ["db", "upgrade", "-c", example_config])
    assert f"upgraded from an empty database to {head_revision()}" in first.output
    again = runner.invoke(app, ["db", "upgrade", "-c", example_config])
    assert f"already at revision {head_revision()}" in again.output
    assert "(up to date)" in runner.invoke(app, ["db", "current", "-c", example_config]).output


def test_db_downgrade_needs_confirmation(runner, example_config):
    runner.invoke(app, ["db", "upgrade", "-c", example_config])
    refused = runner.invoke(app, ["db", "downgrade", "base", "-c", example_config])
    assert refused.exit_code == 2
    done = runner.invoke(app, ["db", "downgrade", "base", "-c", example_config, "--yes"])
    assert done.exit_code == 0 and f"downgraded from {head_revision()}" in done.output


@pytest.mark.postgres
def test_status_refuses_a_postgres_store_that_is_behind(runner, write_config, pg_url):
    path = write_config(f'state: {{url: "{pg_url}"}}\n')
    result = runner.invoke(app, ["status", "--config", str(path)])
    assert result.exit_code == 2
    assert "run `syncer db upgrade`" in result.stderr
    assert runner.invoke(app, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    assert runner.invoke(app, ["status", "--config", str(path)]).exit_code == 0


def test_unreachable_store_exits_3(runner, write_config):
    path = write_config('state: {url: "postgresql://u:pw-zz9@127.0.0.1:1/x"}\n')
    result = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert result.exit_code == 3
    assert "cannot open it" in result.stderr and "pw-zz9" not in result.output


def test_bad_log_level_is_usage_error(runner, example_config):
    result = runner.invoke(app, ["--log-level", "loud", "check", "-c", example_config])
    assert result.exit_code == 2


def test_check_warns_about_plain_http_to_another_machine(tmp_path):
    from typer.testing import CliRunner

    from syncer.cli import app

    (tmp_path / "drop").mkdir()
    config = tmp_path / "syncer.yaml"
    config.write_text(
        "connectors:\n"
        "  repzo: {type: repzo, api_key: k, base_url: 'http://repzo.example.com'}\n"
        "  local: {type: repzo, api_key: k, base_url: 'http://127.0.0.1:8766'}\n"
        "  drop: {type: csv, path: ./drop}\n"
        "flows: []\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["check", "--offline", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "connector repzo: base_url http://repzo.example.com is plain http" in result.output
    assert "connector local: base_url" not in result.output  # loopback: the sandbox
