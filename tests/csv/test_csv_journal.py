"""The CSV write journal: batches are acknowledged once journaled, the file is rewritten once
per many batches, and nothing acknowledged is lost or written twice when the process dies."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import connectors.csv.journal as journal_module
from connectors.csv import CsvConnector, CsvSettings
from connectors.csv.journal import Journal, Layout, journal_path
from connectors.csv.reader import BadRow, CsvFormatError, Row, read_rows
from connectors.csv.writer import Change
from syncer.connector import LOCATION_FIELD, ReadRequest, WriteOp

pytestmark = pytest.mark.anyio

LEDGER = Layout(mode="append", key="number", encoding="utf-8", delimiter=",")
KEYED = Layout(mode="upsert", key="id", encoding="utf-8", delimiter=",")


def connector(folder: Path, **settings) -> CsvConnector:
    return CsvConnector("drop", CsvSettings.model_validate({"path": folder, **settings}))


def rows_of(path: Path) -> list[dict[str, str]]:
    items = list(read_rows(path, encoding="utf-8-sig", delimiter=","))
    assert not [item for item in items if isinstance(item, BadRow)]
    return [item.values for item in items if isinstance(item, Row)]


def customer(n: int, version: int = 1) -> WriteOp:
    return WriteOp(
        "create", {"id": f"C-{n}", "name": f"Customer {n}", "v": str(version)}, ref=str(n)
    )


async def test_batches_reach_the_file_at_the_end_of_the_run_or_every_rewrite_every_rows(tmp_path):
    conn = connector(tmp_path, rewrite_every=5)
    path = tmp_path / "customers.csv"
    await conn.write("customers", [customer(n) for n in range(3)])
    assert not path.exists() and journal_path(path).exists()
    await conn.write("customers", [customer(n) for n in range(3, 6)])  # 6 >= 5: rewritten
    assert [row["id"] for row in rows_of(path)] == [f"C-{n}" for n in range(6)]
    assert not journal_path(path).exists()

    await conn.write("customers", [customer(6), customer(0, version=2)])
    assert len(rows_of(path)) == 6  # not yet
    await conn.flush("customers")
    rows = rows_of(path)
    assert [row["id"] for row in rows] == [f"C-{n}" for n in range(7)]
    assert rows[0]["v"] == "2" and not journal_path(path).exists()


async def test_outcomes_and_lookups_see_journaled_rows(tmp_path):
    (tmp_path / "customers.csv").write_text("id,name,v\nC-1,Ali,1\nC-2,Omar,1\n", encoding="utf-8")
    conn = connector(tmp_path)
    results = await conn.write(
        "customers",
        [
            WriteOp("update", {"id": "C-1", "v": "2"}, ref="a", native_id="C-1"),
            WriteOp("create", {"id": "C-3", "name": "Zain", "v": "1"}, ref="b"),
            WriteOp("delete", {}, ref="c", native_id="C-2"),
            WriteOp("delete", {}, ref="d", native_id="C-9"),
        ],
    )
    assert [r.outcome for r in results] == ["updated", "created", "deleted", "deleted"]
    again = await conn.write("customers", [customer(3, version=2)])
    assert again[0].outcome == "updated"  # C-3 is in the journal, not yet in the file

    # The engine looks documents up before creating them: journaled rows count.
    found = await conn.lookup("customers", "id", ["C-1", "C-2", "C-3"])
    assert {r["id"]: r["v"] for r in found} == {"C-1": "2", "C-3": "2"}
    assert "C-3" not in (tmp_path / "customers.csv").read_text(encoding="utf-8")
    assert found[-1][LOCATION_FIELD] == ".customers.csv.journal"

    pages = [page async for page in conn.read("customers", ReadRequest())]  # reads settle first
    ids = [r["id"] for page in pages for r in page.records]
    assert ids == ["C-1", "C-3"] and not journal_path(tmp_path / "customers.csv").exists()


async def test_partial_updates_in_several_batches_all_reach_the_row(tmp_path):
    (tmp_path / "customers.csv").write_text("id,name,phone\nC-1,Ali,1\n", encoding="utf-8")
    conn = connector(tmp_path)
    await conn.write("customers", [WriteOp("update", {"id": "C-1", "name": "Ali B"}, ref="a")])
    await conn.write("customers", [WriteOp("update", {"id": "C-1", "phone": "2"}, ref="a")])
    await conn.aclose()
    assert rows_of(tmp_path / "customers.csv") == [{"id": "C-1", "name": "Ali B", "phone": "2"}]


async def test_a_journal_left_by_a_dead_process_is_replayed_by_the_next_one(tmp_path):
    first = connector(tmp_path)
    await first.write("customers", [customer(n) for n in range(3)])
    # The process dies here: no flush, no aclose.
    second = connector(tmp_path)
    assert [r["id"] for r in await second.lookup("customers", "id", ["C-0", "C-2"])] == [
        "C-0",
        "C-2",
    ]
    await second.write("customers", [customer(3)])
    await second.flush("customers")
    assert [row["id"] for row in rows_of(tmp_path / "customers.csv")] == [
        "C-0",
        "C-1",
        "C-2",
        "C-3",
    ]


async def test_a_temporary_file_left_by_a_killed_rewrite_is_removed_even_with_nothing_to_write(
    tmp_path,
):
    first = connector(tmp_path)
    await first.write("customers", [customer(0)])
    await first.flush("customers")
    # A later process died half way through a rewrite whose rows also reached the file.
    stale = tmp_path / ".customers.csv.0123abcd.tmp"
    stale.write_text("id,name\nC-0,half", encoding="utf-8")

    await connector(tmp_path).flush("customers")  # nothing pending

    assert not stale.exists()
    assert [row["id"] for row in rows_of(tmp_path / "customers.csv")] == ["C-0"]


def test_a_torn_last_line_was_never_acknowledged_and_is_dropped(tmp_path):
    path = tmp_path / "customers.csv"
    journal = Journal(path, KEYED)
    journal.upsert([Change("C-1", {"name": "Ali"})])
    with journal_path(path).open("ab") as handle:
        handle.write(b'{"u":"C-2","v":{"na')  # killed in the middle of the write
    replayed = Journal(path, KEYED)
    assert replayed.pending == 1
    replayed.upsert([Change("C-3", {"name": "Zain"})])  # appended after the cut, not glued on
    replayed.rewrite()
    assert rows_of(path) == [{"id": "C-1", "name": "Ali"}, {"id": "C-3", "name": "Zain"}]


def test_a_damaged_journal_is_refused_with_its_file_and_line(tmp_path):
    path = tmp_path / "customers.csv"
    journal_path(path).write_text('{"u":"C-1","v":null}\nnot json\n{"u":"C-2","v":null}\n')
    with pytest.raises(
        CsvFormatError, match=r"\.customers\.csv\.journal:2: the journal .* damaged"
    ):
        Journal(path, KEYED)


def test_a_ledger_is_not_appended_twice_when_the_process_dies_after_the_rename(
    tmp_path, monkeypatch
):
    path = tmp_path / "payments.csv"
    path.write_text("number,amount\r\nP-1,5\r\n", encoding="utf-8")
    journal = Journal(path, LEDGER)
    journal.append([{"number": "P-2", "amount": "7"}, {"number": "P-3", "amount": "9"}])

    def die() -> None:
        raise KeyboardInterrupt  # between the rename and the journal's removal

    monkeypatch.setattr(journal, "_discard", die)
    with pytest.raises(KeyboardInterrupt):
        journal.rewrite()
    assert journal_path(path).exists()
    assert [row["number"] for row in rows_of(path)] == ["P-1", "P-2", "P-3"]

    replayed = Journal(path, LEDGER)
    assert replayed.pending == 0 and not journal_path(path).exists()
    replayed.rewrite()
    assert [row["number"] for row in rows_of(path)] == ["P-1", "P-2", "P-3"]


def test_a_ledger_journal_whose_rewrite_never_happened_is_appended_once(tmp_path):
    path = tmp_path / "payments.csv"
    path.write_text("number,amount\r\nP-1,5\r\n", encoding="utf-8")
    Journal(path, LEDGER).append([{"number": "P-2", "amount": "7"}])
    replayed = Journal(path, LEDGER)
    assert replayed.pending == 1
    replayed.rewrite()
    assert [row["number"] for row in rows_of(path)] == ["P-1", "P-2"]


BATCHES = 200
WRITER = textwrap.dedent(
    f"""
    import asyncio, sys
    from pathlib import Path
    from connectors.csv import CsvConnector, CsvSettings
    from syncer.connector import WriteOp

    async def main() -> None:
        conn = CsvConnector(
            "drop", CsvSettings.model_validate({{"path": sys.argv[1], "rewrite_every": 500}})
        )
        for batch in range({BATCHES}):
            ops = [
                WriteOp("create", {{"id": f"C-{{batch:03d}}-{{n:02d}}", "name": "x" * 30}},
                        ref=str(n))
                for n in range(50)
            ]
            await conn.write("customers", ops)
            print(batch, flush=True)  # acknowledged: the engine would commit it now
        await conn.aclose()

    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_kill_9_while_batches_are_written_loses_no_acknowledged_row(tmp_path):
    rng = random.Random(11)
    path = tmp_path / "customers.csv"
    interrupted = 0
    for attempt in range(8):
        acknowledged = -1
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            # Timed from the first acknowledged batch, not from the start: on a loaded machine
            # the interpreter's start-up alone can outlast a fixed delay.
            acknowledged = int(child.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.8))
            child.send_signal(signal.SIGKILL)
            child.wait()
            for line in child.stdout:
                acknowledged = max(acknowledged, int(line))
        interrupted += 0 <= acknowledged < BATCHES - 1
        replayed = CsvConnector("drop", CsvSettings.model_validate({"path": tmp_path}))
        asyncio.run(replayed.flush("customers"))
        ids = [row["id"] for row in rows_of(path)] if path.exists() else []
        assert len(ids) == len(set(ids)), f"attempt {attempt}: a row was written twice"
        expected = {
            f"C-{batch:03d}-{n:02d}" for batch in range(acknowledged + 1) for n in range(50)
        }
        assert expected <= set(ids), f"attempt {attempt}: an acknowledged row is missing"
        assert not list(tmp_path.glob(".*.tmp"))
    assert interrupted >= 4, "the kills should land while batches are being written"


async def test_new_rows_are_added_without_rewriting_the_old_ones_and_new_columns_still_work(
    tmp_path, monkeypatch
):
    path = tmp_path / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbfid,name,v\r\nC-0,Customer 0,1\r\n")
    conn = connector(tmp_path)
    rewrites: list[str] = []
    for name in ("append", "upsert"):
        real = getattr(journal_module, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            rewrites.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(journal_module, name, spy)

    await conn.write("customers", [customer(1), customer(2)])
    await conn.flush("customers")
    assert rewrites == ["append"]  # the old rows are copied as bytes, not parsed again
    assert path.read_bytes() == (
        b"\xef\xbb\xbfid,name,v\r\nC-0,Customer 0,1\r\nC-1,Customer 1,1\r\nC-2,Customer 2,1\r\n"
    )

    await conn.write("customers", [WriteOp("create", {"id": "C-3", "city": "Irbid"}, ref="3")])
    await conn.write("customers", [customer(0, version=2)])
    await conn.flush("customers")
    assert rewrites == ["append", "upsert"]  # a new column, and an update: a full rewrite
    assert rows_of(path) == [
        {"id": "C-0", "name": "Customer 0", "v": "2", "city": ""},
        {"id": "C-1", "name": "Customer 1", "v": "1", "city": ""},
        {"id": "C-2", "name": "Customer 2", "v": "1", "city": ""},
        {"id": "C-3", "name": "", "v": "", "city": "Irbid"},
    ]


async def test_a_failed_rewrite_keeps_the_batch_acknowledged_and_the_rows_journaled(tmp_path):
    path = tmp_path / "payments.csv"
    path.write_text("number,amount\r\nP-0,1\r\n", encoding="utf-8")
    conn = connector(tmp_path, rewrite_every=2, streams={"payments": {"mode": "append"}})
    await conn.write("payments", [WriteOp("create", {"number": "P-1", "amount": "5"}, ref="a")])
    path.write_text("number\r\nP-0\r\n", encoding="utf-8")  # someone drops a column meanwhile

    # The second batch reaches the threshold and the rewrite fails; the batch is journaled,
    # so it is acknowledged: failing it would make the engine send it, and append it, again.
    results = await conn.write(
        "payments", [WriteOp("create", {"number": "P-2", "amount": "7"}, ref="b")]
    )
    assert [r.outcome for r in results] == ["created"]
    with pytest.raises(Exception, match=r"column 'amount' is not in payments\.csv's header"):
        await conn.flush("payments")
    assert journal_path(path).exists() and path.read_bytes() == b"number\r\nP-0\r\n"

    path.write_text("number,amount\r\nP-0,1\r\n", encoding="utf-8")  # the column is back
    await connector(tmp_path, streams={"payments": {"mode": "append"}}).flush("payments")
    assert [row["number"] for row in rows_of(path)] == ["P-0", "P-1", "P-2"]


async def test_a_row_deleted_then_written_again_is_replaced_whole(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id,name,phone\r\nC-1,Ali,0791\r\n", encoding="utf-8")
    conn = connector(tmp_path)
    await conn.write("customers", [WriteOp("delete", {}, ref="a", native_id="C-1")])
    [result] = await conn.write(
        "customers", [WriteOp("create", {"id": "C-1", "name": "Zain"}, ref="b")]
    )
    assert result.outcome == "created"
    await conn.flush("customers")
    assert rows_of(path) == [{"id": "C-1", "name": "Zain", "phone": ""}]
