"""Benchmark of the Repzo sandbox: seed 200k clients, then time random 100-record pages.

Runs the real server (``syncer sandbox repzo``) in a child process so its peak RSS is its own.

    python bench/sandbox_repzo.py [--records 200000] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import httpx
from _common import KEY, peak_rss_mb, sandbox_process

PER_PAGE = 100


def timed(client: httpx.Client, requests: list[dict[str, str | int]]) -> list[float]:
    times = []
    for params in requests:
        started = time.perf_counter()
        response = client.get("/client", params=params)
        body = response.json()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, body
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)]
    print(f"{label:<34} median {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(42)

    with sandbox_process() as (url, pid):
        with httpx.Client(base_url=url, headers={"api-key": KEY}, timeout=600) as client:
            started = time.perf_counter()
            seeded = client.post(
                "/__sandbox/seed",
                json={"resource": "client", "count": args.records, "return_ids": True},
            ).json()
            print(f"seeded {seeded['inserted']} clients in {time.perf_counter() - started:.1f} s")
            ids = seeded["ids"]
            sort = json.dumps([{"field": "_id", "type": "asc"}])
            keyset = [
                {"per_page": PER_PAGE, "sortBy": sort, "from__id": rng.choice(ids)}
                for _ in range(args.requests)
            ]
            pages = max(1, args.records // PER_PAGE)
            numbered = [
                {"per_page": PER_PAGE, "page": rng.randint(1, pages)} for _ in range(args.requests)
            ]
            lookups = [
                {
                    "integration_meta.id": json.dumps(
                        [f"demo_C{rng.randint(1, args.records):06d}" for _ in range(PER_PAGE)]
                    ),
                    "per_page": PER_PAGE,
                }
                for _ in range(args.requests)
            ]
            timed(client, keyset[:10])  # warm up the connection and SQLite's page cache
            report("keyset (from__id, 100/page)", timed(client, keyset))
            report("page number (100/page)", timed(client, numbered))
            report("integration_meta.id in 100 ids", timed(client, lookups))
        print(f"server peak RSS {peak_rss_mb(pid):.0f} MB")


if __name__ == "__main__":
    main()
