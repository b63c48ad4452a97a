"""Benchmark of the Repzo connector against the sandbox, next to a bare httpx loop.

Reads N clients (keyset paging, 500 per page) and writes M new ones (8 in flight), first through
the connector (retry loop, error table, shape checks, bounded concurrency), then with a bare
httpx loop making the same requests and nothing else: the practical limit. Each measurement runs
in its own child process so its peak RSS is its own; the sandbox runs in another.

    python bench/repzo_connector.py [--read 100000] [--write 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx
from _common import KEY, median, report_worker, run_worker, sandbox_process
from pydantic import SecretStr

from connectors.repzo import RepzoConnector, RepzoSettings
from connectors.repzo.registry import load_registry
from syncer.connector import ReadRequest, WriteOp

PAGE = 500
CONCURRENCY = 8


async def engine_read(url: str, count: int) -> int:
    settings = RepzoSettings(base_url=url, api_key=SecretStr(KEY), page_size=PAGE)  # type: ignore[arg-type]
    connector = RepzoConnector("repzo", settings)
    seen = 0
    try:
        async for page in connector.read("client", ReadRequest()):
            seen += len(page.records)
    finally:
        await connector.aclose()
    return seen


async def bare_read(url: str, count: int) -> int:
    sort = json.dumps([{"field": "_id", "type": "asc"}])
    seen, after = 0, None
    async with httpx.AsyncClient(base_url=url, headers={"api-key": KEY}) as client:
        while True:
            params = {"per_page": PAGE, "sortBy": sort}
            if after:
                params["from__id"] = after
            body = (await client.get("/client", params=params)).json()
            data = body["data"]
            seen += len(data)
            if body.get("next_page_url") is None or not data:  # never a short page: a cap
                return seen
            after = data[-1]["_id"]


def new_clients(count: int, tag: str) -> list[dict[str, str]]:
    return [{"name": f"Bench {tag} {n}", "client_code": f"B{tag}-{n}"} for n in range(count)]


async def engine_write(url: str, count: int) -> int:
    settings = RepzoSettings(  # type: ignore[arg-type]
        base_url=url, api_key=SecretStr(KEY), write_concurrency=CONCURRENCY
    )
    connector = RepzoConnector("repzo", settings)
    written = 0
    bodies = new_clients(count, f"e{time.time_ns()}")
    try:
        for start in range(0, count, PAGE):  # the engine writes one page's worth at a time
            ops = [
                WriteOp("create", body, ref=str(i))
                for i, body in enumerate(bodies[start : start + PAGE])
            ]
            results = await connector.write("client", ops)
            written += sum(result.outcome == "created" for result in results)
    finally:
        await connector.aclose()
    return written


async def bare_write(url: str, count: int) -> int:
    gate = asyncio.Semaphore(CONCURRENCY)
    bodies = new_clients(count, f"b{time.time_ns()}")
    async with httpx.AsyncClient(base_url=url, headers={"api-key": KEY}) as client:

        async def one(body: dict[str, str]) -> int:
            async with gate:
                response = await client.post("/client", json=body)
                response.json()
                return int(response.status_code == 201)

        return sum(await asyncio.gather(*(one(body) for body in bodies)))


WORKERS = {
    "engine-read": engine_read,
    "bare-read": bare_read,
    "engine-write": engine_write,
    "bare-write": bare_write,
}


def worker(kind: str, url: str, count: int) -> None:
    load_registry()  # a daemon loads it once at start; it is not part of a sync's cost
    started = time.perf_counter()
    done = asyncio.run(WORKERS[kind](url, count))
    elapsed = time.perf_counter() - started
    report_worker(done, elapsed)


def measure(kind: str, url: str, count: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", kind, "--url", url, "--count", str(count)]
    return run_worker(command, count, f"{kind} (records)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--read", type=int, default=100_000)
    parser.add_argument("--write", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker")
    parser.add_argument("--url")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.url, args.count)
        return

    # The same 500-record pages as the bare loop; Repzo's own cap (100 in many spec files) is
    # what `syncer repzo probe` finds on a tenant, and here it would only multiply requests.
    with sandbox_process("--max-per-page", str(PAGE)) as (url, _pid):
        httpx.post(
            f"{url}/__sandbox/seed", json={"resource": "client", "count": args.read}, timeout=600
        )
        rates: dict[str, list[float]] = {}
        rss: dict[str, list[float]] = {}
        for _ in range(args.runs):
            for kind in WORKERS:
                count = args.read if kind.endswith("read") else args.write
                result = measure(kind, url, count)
                rates.setdefault(kind, []).append(result["count"] / result["seconds"])
                rss.setdefault(kind, []).append(result["rss_mb"])
                # Writes add clients; take them out so every read run reads the same N.
                if kind.endswith("write"):
                    httpx.post(f"{url}/__sandbox/reset", timeout=60)
                    httpx.post(
                        f"{url}/__sandbox/seed",
                        json={"resource": "client", "count": args.read},
                        timeout=600,
                    )
    print(
        f"medians of {args.runs} runs ({args.read} reads, {args.write} writes, {PAGE}/page, "
        f"{CONCURRENCY} writes in flight)"
    )
    for kind in WORKERS:
        rate, memory = median(rates[kind]), median(rss[kind])
        print(f"{kind:<13} {rate:>9,.0f} records/s   peak RSS {memory:6.1f} MB")
    for op in ("read", "write"):
        ratio = median(rates[f"bare-{op}"]) / median(rates[f"engine-{op}"])
        print(f"{op}: the bare loop is {ratio:.2f}x the connector's rate")


if __name__ == "__main__":
    main()
