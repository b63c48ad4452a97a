"""What the CSV writer promises about the disk, checked where a crash test cannot see it.

- A rewritten file is complete and fsynced before it is renamed over the old one, and the folder
  is fsynced after the rename, so a power cut leaves the old file or the new one, never an empty
  or half-written one, and never loses the rename itself.
- A batch is acknowledged only once its journal lines are fsynced (and a new journal's folder
  entry too); before a rewritten file replaces the old one, the journal's note of the new size
  is on disk as well.
- The file is replaced, never written into: a reader that opened it before a rewrite keeps
  reading the complete old content, and a reader that opens it during rewrites only ever finds
  a complete version.

``os.fsync`` and ``os.replace``/``os.rename`` are wrapped to log what reached the disk, and in
which order; the real calls still happen.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.csv import CsvConnector, CsvSettings
from connectors.csv.journal import journal_path
from connectors.csv.writer import Change, append, upsert
from syncer.connector import WriteOp

pytestmark = pytest.mark.anyio

FileId = tuple[int, int]
"""(st_dev, st_ino): a file, whatever name it has at the moment."""


@dataclass(frozen=True)
class Synced:
    file: FileId
    size: int
    folder: bool


@dataclass(frozen=True)
class Renamed:
    file: FileId
    size: int
    target: Path


class DiskLog:
    """Every fsync and rename, in order, with what each one covered."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[Synced | Renamed] = []
        real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

        def fsync(fd) -> None:
            info = os.fstat(fd if isinstance(fd, int) else fd.fileno())
            real_fsync(fd)
            self.events.append(
                Synced((info.st_dev, info.st_ino), info.st_size, stat.S_ISDIR(info.st_mode))
            )

        def renaming(real):
            def rename(src, dst, *args, **kwargs) -> None:
                info = os.stat(src)
                real(src, dst, *args, **kwargs)
                self.events.append(Renamed((info.st_dev, info.st_ino), info.st_size, Path(dst)))

            return rename

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", renaming(real_replace))
        monkeypatch.setattr(os, "rename", renaming(real_rename))

    def mark(self) -> int:
        return len(self.events)

    def since(self, start: int) -> list[Synced | Renamed]:
        return self.events[start:]


def file_id(path: Path) -> FileId:
    info = path.stat()
    return info.st_dev, info.st_ino


def connector(folder: Path, mode: str = "upsert") -> CsvConnector:
    settings = {
        "path": folder,
        "rewrite_every": 1_000_000,
        "streams": {"customers": {"mode": mode}},
    }
    return CsvConnector("drop", CsvSettings.model_validate(settings))


def customers(numbers: range, version: int) -> list[WriteOp]:
    return [
        WriteOp("create", {"id": f"C-{n:05d}", "name": f"Customer {n}", "v": str(version)}, str(n))
        for n in numbers
    ]


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


# How a rewrite is made: only new rows (old bytes copied), a changed row (the file streamed
# through), and a ledger in append mode. Each gives the batches of the first and second write.
REWRITES = {
    "new rows": ("upsert", range(0, 300), range(300, 400)),
    "changed rows": ("upsert", range(0, 300), range(100, 400)),
    "ledger": ("append", range(0, 300), range(300, 400)),
}


def assert_published_durably(events: list[Synced | Renamed], path: Path) -> None:
    renames = [i for i, event in enumerate(events) if isinstance(event, Renamed)]
    published = [i for i in renames if events[i].target == path]
    assert published, f"{path.name} was not published by renaming a complete file over it"
    folder = file_id(path.parent)
    for index in published:
        renamed = events[index]
        assert any(
            isinstance(event, Synced) and event.file == renamed.file and event.size == renamed.size
            for event in events[:index]
        ), "the new content was renamed over the old file before it was fsynced"
        assert any(
            isinstance(event, Synced) and event.folder and event.file == folder
            for event in events[index + 1 :]
        ), "the folder was not fsynced after the rename: a power cut could undo it"


@pytest.mark.parametrize("kind", list(REWRITES))
async def test_a_rewrite_is_fsynced_before_it_replaces_the_file_and_the_folder_after(
    tmp_path, monkeypatch, kind
):
    mode, first, second = REWRITES[kind]
    conn = connector(tmp_path, mode)
    path = tmp_path / "customers.csv"
    disk = DiskLog(monkeypatch)

    await conn.write("customers", customers(first, version=1))
    start = disk.mark()
    await conn.flush("customers")
    assert_published_durably(disk.since(start), path)

    await conn.write("customers", customers(second, version=2))
    journal = journal_path(path)
    waiting = file_id(journal), journal.stat().st_size
    start = disk.mark()
    await conn.flush("customers")
    events = disk.since(start)
    assert_published_durably(events, path)
    # The journal notes the new file's size, on disk, before the rename: a crash between the
    # rename and the journal's removal must not append a ledger's rows a second time.
    rename = next(i for i, event in enumerate(events) if isinstance(event, Renamed))
    assert any(
        isinstance(event, Synced) and event.file == waiting[0] and event.size > waiting[1]
        for event in events[:rename]
    ), "the journal's note of the rewrite was not fsynced before the rename"
    assert not journal.exists()
    assert len(rows(path.read_bytes())) == 400


@pytest.mark.parametrize("function", ["upsert", "append"])
def test_the_writer_syncs_the_new_file_before_the_rename_and_the_folder_after(
    tmp_path, monkeypatch, function
):
    # Without the journal around it: the writer's own promise, whoever calls it.
    path = tmp_path / "customers.csv"
    disk = DiskLog(monkeypatch)
    for version in (1, 2):
        values = [{"id": f"C-{n:05d}", "v": str(version)} for n in range(200)]
        start = disk.mark()
        if function == "upsert":
            changes = [Change(row["id"], row) for row in values]
            upsert(path, changes, key="id", encoding="utf-8", delimiter=",")
        else:
            append(path, values, encoding="utf-8", delimiter=",")
        assert_published_durably(disk.since(start), path)
    assert len(rows(path.read_bytes())) == (200 if function == "upsert" else 400)


@pytest.mark.parametrize("mode", ["upsert", "append"])
async def test_a_batch_is_acknowledged_only_once_its_journal_lines_are_on_disk(
    tmp_path, monkeypatch, mode
):
    conn = connector(tmp_path, mode)
    journal = journal_path(tmp_path / "customers.csv")
    disk = DiskLog(monkeypatch)
    folder = file_id(tmp_path)
    for batch, numbers in enumerate((range(0, 50), range(50, 120), range(120, 121)), start=1):
        start = disk.mark()
        await conn.write("customers", customers(numbers, version=batch))
        events = disk.since(start)
        synced = [
            event
            for event in events
            if isinstance(event, Synced) and event.file == file_id(journal)
        ]
        assert synced, f"batch {batch} was acknowledged without fsyncing the journal"
        assert synced[-1].size == journal.stat().st_size, (
            f"batch {batch} was acknowledged with journal lines not yet fsynced"
        )
        if batch == 1:  # a new journal: its name must survive a power cut too
            assert any(
                isinstance(event, Synced) and event.folder and event.file == folder
                for event in events
            ), "the new journal's folder entry was not fsynced"


@pytest.mark.parametrize("kind", list(REWRITES))
async def test_a_rewrite_replaces_the_file_and_never_writes_into_it(tmp_path, kind):
    mode, first, second = REWRITES[kind]
    conn = connector(tmp_path, mode)
    path = tmp_path / "customers.csv"
    await conn.write("customers", customers(first, version=1))
    await conn.flush("customers")
    before = path.read_bytes()
    old_file = file_id(path)
    with path.open("rb") as reader:  # a reader that opened the file before the rewrite
        await conn.write("customers", customers(second, version=2))
        await conn.flush("customers")
        assert reader.read() == before, "the old file was written into instead of replaced"
    assert file_id(path) != old_file, "the rewrite kept the old file's inode: written in place"
    after = rows(path.read_bytes())
    assert len(after) == 400
    assert after[-1] == {"id": "C-00399", "name": "Customer 399", "v": "2"}


@pytest.mark.slow
def test_readers_never_see_a_partial_file_while_it_is_rewritten_again_and_again(tmp_path):
    path = tmp_path / "customers.csv"
    count, rewrites = 3_000, 40

    def version(number: int) -> list[Change]:
        return [
            Change(f"C-{n:05d}", {"id": f"C-{n:05d}", "name": "x" * 30, "v": str(number)})
            for n in range(count)
        ]

    upsert(path, version(0), key="id", encoding="utf-8", delimiter=",")
    done = threading.Event()
    seen: list[str] = []
    reads = 0

    def read_constantly() -> None:
        nonlocal reads
        while not done.is_set():
            content = path.read_bytes()
            reads += 1
            found = rows(content)
            versions = {row["v"] for row in found}
            if len(found) != count or len(versions) != 1 or not content.endswith(b"\r\n"):
                seen.append(f"{len(content)} bytes, {len(found)} rows, versions {versions}")

    reader = threading.Thread(target=read_constantly)
    reader.start()
    try:
        for number in range(1, rewrites + 1):
            upsert(path, version(number), key="id", encoding="utf-8", delimiter=",")
    finally:
        done.set()
        reader.join()
    assert not seen, f"a reader saw {len(seen)} partial files, e.g. {seen[:3]}"
    assert reads > 0
    assert {row["v"] for row in rows(path.read_bytes())} == {str(rewrites)}
