"""Benchmark of the CSV connector: write 1M rows (upsert, in batches), then read them back.

Batches default to the engine's own size (200 records), so the write figure is what an export
through ``syncer sync`` gets: each batch journaled and fsynced, the file rewritten every
``rewrite_every`` rows and once at the end. Each measurement runs in its own child process so
its peak RSS is its own.

    python bench/csv_rw.py [--rows 1000000] [--batch 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import median, report_worker, run_worker

from connectors.csv import CsvConnector, CsvSettings
from syncer.connector import ReadRequest, WriteOp


def connector(folder: Path) -> CsvConnector:
    settings = CsvSettings.model_validate(
        {"path": folder, "page_size": 5000, "streams": {"customers": {"key": "code"}}}
    )
    return CsvConnector("drop", settings)


async def write(folder: Path, rows: int, batch: int) -> int:
    conn = connector(folder)
    written = 0
    for start in range(0, rows, batch):
        ops = [
            WriteOp(
                "create",
                {
                    "code": f"C-{n:07d}",
                    "name": f"Customer {n} Trading Co.",
                    "phone": f"+962 6 {n % 9_999_999:07d}",
                    "city": "Amman",
                    "credit_limit": f"{n % 50_000}.000",
                    "active": "true",
                },
                ref=str(n),
            )
            for n in range(start, min(rows, start + batch))
        ]
        written += sum(r.outcome == "created" for r in await conn.write("customers", ops))
    await conn.aclose()  # the last rewrite is part of the cost
    return written


async def read(folder: Path) -> int:
    count = 0
    async for page in connector(folder).read("customers", ReadRequest()):
        count += len(page.records)
    return count


def worker(kind: str, folder: Path, rows: int, batch: int) -> None:
    started = time.perf_counter()
    done = asyncio.run(write(folder, rows, batch) if kind == "write" else read(folder))
    elapsed = time.perf_counter() - started
    report_worker(done, elapsed)


def measure(kind: str, folder: Path, rows: int, batch: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", kind, "--folder", str(folder)]
    command += ["--rows", str(rows), "--batch", str(batch)]
    return run_worker(command, rows, f"{kind} (rows)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, Path(args.folder), args.rows, args.batch)
        return
    results: dict[str, list[dict[str, float]]] = {"write": [], "read": []}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            for kind in ("write", "read"):
                results[kind].append(measure(kind, Path(folder), args.rows, args.batch))
    print(f"medians of {args.runs} runs, {args.rows:,} rows ({args.batch:,} per write batch)")
    for kind, runs in results.items():
        rate = median([r["count"] / r["seconds"] for r in runs])
        memory = median([r["rss_mb"] for r in runs])
        print(f"{kind:<6} {rate:>10,.0f} rows/s   peak RSS {memory:6.1f} MB")


if __name__ == "__main__":
    main()
