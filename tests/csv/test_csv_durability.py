"""CSV files are never left half-written, even on kill -9, and big files read in constant
memory. Both run in child processes: a kill, and a peak RSS, need a process of their own."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from connectors.csv.reader import BadRow, read_rows

ROWS = 20_000

WRITER = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path
    from connectors.csv.writer import Change, upsert

    path = Path(sys.argv[1])
    version = 0
    while True:
        version += 1
        changes = [Change(f"C-{{n:06d}}", {{"id": f"C-{{n:06d}}", "version": str(version),
                   "name": "x" * 40}}) for n in range({ROWS})]
        upsert(path, changes, key="id", encoding="utf-8", delimiter=",")
        print(version, flush=True)
    """
)


def versions_in(path: Path) -> tuple[set[str], int, int]:
    seen: set[str] = set()
    count = bad = 0
    for item in read_rows(path, encoding="utf-8", delimiter=","):
        if isinstance(item, BadRow):
            bad += 1
        else:
            count += 1
            seen.add(item.values["version"])
    return seen, count, bad


@pytest.mark.slow
def test_a_kill_during_a_write_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "customers.csv"
    rng = random.Random(7)
    completed_versions = 0
    for _ in range(10):
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            child.stdout.readline()  # at least one version is complete on disk
            time.sleep(rng.uniform(0.0, 0.4))  # then die at a random point of a later write
            child.send_signal(signal.SIGKILL)
            child.wait()
            completed_versions += 1
        versions, count, bad = versions_in(path)
        assert bad == 0, "a broken row: the file was left half-written"
        assert count == ROWS and len(versions) == 1, (count, versions)
    assert completed_versions == 10


@pytest.mark.slow
def test_a_million_rows_read_in_constant_memory(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    with (folder / "customers.csv").open("w", encoding="utf-8") as handle:
        handle.write("id,name,amount,city\n")
        for n in range(1_000_000):
            handle.write(f"C-{n:07d},Customer {n} Trading,{n % 9973}.250,Amman\n")
    reader = textwrap.dedent(
        f"""
        import asyncio
        from connectors.csv import CsvConnector, CsvSettings
        from syncer.connector import ReadRequest

        async def main():
            connector = CsvConnector("drop", CsvSettings(path={str(folder)!r}, page_size=2000))
            count = 0
            async for page in connector.read("customers", ReadRequest()):
                count += len(page.records)
            return count

        count = asyncio.run(main())
        # VmHWM, not ru_maxrss: the latter keeps the RSS of the parent this process was
        # forked from (a pytest process of hundreds of MB after the rest of the suite).
        with open("/proc/self/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        print(count, peak // 1024)
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", reader], capture_output=True, text=True, check=True
    )
    count, peak_mb = map(int, output.stdout.split())
    assert count == 1_000_000
    # Interpreter and imports take ~60 MB; a reader that kept rows would need well over 500 MB.
    assert peak_mb < 200, f"peak RSS {peak_mb} MB"
