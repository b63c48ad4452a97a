"""The state store failing under a run (a damaged page, a read-only file, a full disk), or the
host running out of memory, is a system that cannot be used (exit 3, with what to do), never a
bug report with a traceback (exit 70)."""

from __future__ import annotations

import os
import sqlite3
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from syncer.cli import app
from syncer.engine import leases
from syncer.mapping.mapping import CompiledMapping
from syncer.state.failures import store_failure

HEADER = "code,name,phone,email,city,country,tax_number,credit_limit,active,updated_at"
PAGE = 4096


def _folder(tmp_path: Path, rows: int) -> Path:
    (tmp_path / "drop").mkdir()
    (tmp_path / "out").mkdir()
    lines = [HEADER] + [
        f"C-{i},Shop {i},+96279{i:07d},,Amman,Jordan,,100.5,true,2026-11-30T10:00:00+00:00"
        for i in range(rows)
    ]
    (tmp_path / "drop" / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "syncer.yaml").write_text(
        textwrap.dedent(
            """
            state: {url: "sqlite:///state.db"}
            connectors:
              drop: {type: csv, path: ./drop}
              out: {type: csv, path: ./out}
            flows:
              - name: customers
                source: {connector: drop, stream: customers}
                target: {connector: out, stream: customers}
            """
        ),
        encoding="utf-8",
    )
    return tmp_path


def _sync(folder: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["sync", *extra, "-c", str(folder / "syncer.yaml")], env={"COLUMNS": "240"}
    )
    return result.exit_code, result.output


def _damage_id_map(db: Path) -> None:
    """Overwrite one page in the middle of the id map's table: the file still opens, and its
    header and schema are fine; a run fails when it reads that page."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = [
            page
            for (page,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'id_map' AND pagetype = 'leaf'"
            )
        ]
    assert len(pages) > 4, "the id map should span many pages for this test"
    with db.open("r+b") as file:
        file.seek((pages[len(pages) // 2] - 1) * PAGE)
        file.write(os.urandom(PAGE))


def test_a_damaged_store_page_is_exit_3_naming_the_file_and_what_to_do(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 3000)
    monkeypatch.chdir(folder)
    assert _sync(folder, "--all")[0] == 0
    _damage_id_map(folder / "state.db")
    exported = (folder / "out" / "customers.csv").read_bytes()

    code, output = _sync(folder, "customers", "--full")

    assert code == 3, output
    assert "a bug in syncer" not in output  # the last line of defence, with its traceback
    assert "state.db" in output and "damaged" in output and "backup" in output
    assert (folder / "out" / "customers.csv").read_bytes() == exported


def test_running_out_of_memory_closes_the_run_and_exits_3(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 20)
    monkeypatch.chdir(folder)

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(CompiledMapping, "read", exhausted)
    code, output = _sync(folder, "--all")

    assert code == 3, output
    assert "a bug in syncer" not in output  # the last line of defence, with its traceback
    assert "ran out of memory while running flow customers" in output
    with sqlite3.connect(folder / "state.db") as conn:
        (status, error), *_ = conn.execute("SELECT status, error FROM runs")
        assert conn.execute("SELECT count(*) FROM cursors").fetchone() == (0,)
    assert status == "failed" and "ran out of memory" in error


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (sqlite3.DatabaseError("database disk image is malformed"), "damaged"),
        (sqlite3.DatabaseError("file is not a database"), "damaged"),
        (sqlite3.OperationalError("database is locked"), "database is locked"),
        (sqlite3.IntegrityError("UNIQUE constraint failed: id_map.x"), None),
        (sqlite3.ProgrammingError("no such column"), None),
    ],
)
def test_which_database_errors_are_the_stores_and_which_are_bugs(orig, expected):
    from sqlalchemy.exc import DBAPIError

    error = DBAPIError.instance("SELECT 1", {}, orig, sqlite3.DatabaseError)
    failure = store_failure(error, "sqlite:///state.db")
    if expected is None:
        assert failure is None
    else:
        assert failure is not None and expected in failure.message
        assert failure.exit_code == 3


def test_a_store_refusing_the_lease_is_named(tmp_path: Path, monkeypatch) -> None:
    """The first write of a run (taking the lease) comes before the run is recorded."""
    folder = _folder(tmp_path, 1)
    monkeypatch.chdir(folder)
    assert _sync(folder, "--all")[0] == 0

    def read_only(*args: object, **kwargs: object) -> None:
        orig = sqlite3.OperationalError("attempt to write a readonly database")
        raise OperationalError("UPDATE leases SET ...", {}, orig)

    monkeypatch.setattr(leases, "acquire", read_only)
    code, output = _sync(folder, "--all")

    assert code == 3, output
    assert "a bug in syncer" not in output  # the last line of defence, with its traceback
    assert f"error: state store sqlite:///{folder}/state.db: attempt to write a readonly " in (
        " ".join(output.split())
    )
