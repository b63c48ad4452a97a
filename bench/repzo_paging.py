"""Benchmark of the Repzo connector's two ways of reading a whole listing, against the strict
sandbox (100 records a page, as Repzo's specs say):

- keyset: ``client``, whose SDK Find lists ``from__id`` and ``sortBy``;
- page numbers verified by a recount: ``pricelistsitems``, which has neither, so the listing is
  counted again after its last page and read again only if it changed.

Each reading runs in its own child process so its peak RSS is its own.

    python bench/repzo_paging.py [--records 50000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import httpx
from _common import KEY, median, report_worker, run_worker, sandbox_process
from pydantic import SecretStr

from connectors.repzo import RepzoConnector, RepzoSettings
from connectors.repzo.registry import load_registry
from syncer.connector import ReadRequest

STREAMS = {"keyset": "client", "page-numbers": "pricelistsitems"}
SEEDED = {"client": "client", "pricelistsitems": "pricelistitem"}
"""Stream name -> the sandbox's resource name."""


async def read_all(url: str, stream: str) -> int:
    settings = RepzoSettings(base_url=url, api_key=SecretStr(KEY), page_size=100)  # type: ignore[arg-type]
    connector = RepzoConnector("repzo", settings)
    seen = 0
    try:
        async for page in connector.read(stream, ReadRequest()):
            seen += len(page.records)
    finally:
        await connector.aclose()
    return seen


def worker(kind: str, url: str) -> None:
    load_registry()
    started = time.perf_counter()
    done = asyncio.run(read_all(url, STREAMS[kind]))
    report_worker(done, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.url)
        return
    with sandbox_process() as (url, _pid):
        for resource in SEEDED.values():
            httpx.post(
                f"{url}/__sandbox/seed",
                json={"resource": resource, "count": args.records},
                timeout=600,
            )
        rates: dict[str, list[float]] = {}
        rss: dict[str, list[float]] = {}
        for _ in range(args.runs):
            for kind in STREAMS:
                command = [sys.executable, __file__, "--worker", kind, "--url", url]
                result = run_worker(command, args.records, f"{kind} (records)")
                rates.setdefault(kind, []).append(result["count"] / result["seconds"])
                rss.setdefault(kind, []).append(result["rss_mb"])
    print(f"medians of {args.runs} runs ({args.records} records each, 100/page, strict sandbox)")
    for kind in STREAMS:
        print(
            f"{kind:<13} {median(rates[kind]):>9,.0f} records/s   "
            f"peak RSS {median(rss[kind]):6.1f} MB"
        )
    ratio = median(rates["keyset"]) / median(rates["page-numbers"])
    print(f"keyset is {ratio:.2f}x the rate of page numbers with the recount")


if __name__ == "__main__":
    main()
