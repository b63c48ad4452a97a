"""A state store that refuses the first write of a run (a read-only file, a full disk) is named
in the error, as a store failing under a run is: exit 3, never a bug report."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from syncer.cli import app
from syncer.engine import leases

CONFIG = """
state: {url: "sqlite:///state.db"}
connectors:
  drop: {type: csv, path: ./drop}
  out: {type: csv, path: ./out}
flows:
  - name: customers
    source: {connector: drop, stream: customers}
    target: {connector: out, stream: customers}
"""
ROWS = """
code,name,phone,email,city,country,tax_number,credit_limit,active,updated_at
C-1,Shop 1,+962790000001,,Amman,Jordan,,100.5,true,2026-11-30T10:00:00+00:00
"""


def _sync(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["sync", "--all", "-c", str(folder / "syncer.yaml")], env={"COLUMNS": "240"}
    )
    return result.exit_code, result.output


def test_a_store_refusing_the_lease_is_named(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "drop" / "customers.csv").write_text(ROWS.lstrip(), encoding="utf-8")
    (tmp_path / "syncer.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _sync(tmp_path)[0] == 0

    def read_only(*args: object, **kwargs: object) -> None:
        orig = sqlite3.OperationalError("attempt to write a readonly database")
        raise OperationalError("UPDATE leases SET ...", {}, orig)

    monkeypatch.setattr(leases, "acquire", read_only)
    code, output = _sync(tmp_path)

    assert code == 3, output
    assert "Traceback" not in output
    assert f"error: state store sqlite:///{tmp_path}/state.db: attempt to write a readonly " in (
        " ".join(output.split())
    )
