"""Benchmark of the mapping layer: Repzo clients -> canonical customers -> ERP customers.

Each record goes through what a sync does to it: read with the shipped Repzo client mapping
(validated by the canonical model), hashed over the fields the flow carries, and written with
the shipped ERP stub customer mapping. 10,000 distinct generated records are cycled through, so
generating them is not timed and peak RSS stays that of one page-sized batch plus the mapping.
Single process, single core.

    python bench/mapping.py [--records 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator
from typing import Any

from _common import median, peak_rss_mb

from connectors.erp_stub import ErpStubSettings
from connectors.repzo import RepzoSettings
from syncer.mapping.catalog import SHIPPED_DIR, load_mapping
from syncer.mapping.hashing import content_hash
from syncer.mapping.mapping import MappingContext

CITIES = ["Amman", "Irbid", "Zarqa", "Aqaba", "Riyadh", "Jeddah", "Dubai"]


def clients(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        yield {
            "_id": f"{0x6560000 + n:024x}",
            "name": f"Client {n} Trading Co.",
            "local_name": f"عميل {n}",
            "client_code": f"C-{n:06d}",
            "contact_name": "Ahmad Saleh",
            "phone": f"+962 6 {rng.randint(1000000, 9999999)}",
            "cell_phone": f"+962 79 {rng.randint(1000000, 9999999)}",
            "email": f"client{n}@example.com",
            "formatted_address": f"{n} King Hussein St",
            "city": rng.choice(CITIES),
            "country": "JO",
            "lat": round(rng.uniform(29, 33), 6),
            "lng": round(rng.uniform(35, 39), 6),
            "tax_number": f"TX{n:08d}",
            "credit_limit": rng.randint(0, 50_000_000),
            "integrated_client_balance": rng.randint(-1_000_000, 5_000_000),
            "sv_priceList": f"{0x6570000 + n % 7:024x}",
            "disabled": n % 50 == 0,
            "integration_meta": {"id": f"demo_C-{n:06d}"},
            "company_namespace": ["demo"],
            "createdAt": "2026-01-03T09:15:00.000Z",
            "updatedAt": "2026-11-29T10:04:05.123Z",
            "__v": 0,
        }


def run(count: int) -> tuple[float, int]:
    repzo = load_mapping(SHIPPED_DIR / "repzo" / "client.yaml", RepzoSettings.model_fields)
    erp = load_mapping(SHIPPED_DIR / "erp_stub" / "customers.yaml", ErpStubSettings.model_fields)
    fields = repzo.read_fields & erp.write_fields
    context = MappingContext(variables={"namespace": "demo"})
    batch = list(clients(min(count, 10_000)))
    written = 0
    started = time.perf_counter()
    for index in range(count):
        record = batch[index % len(batch)]
        canonical = repzo.read(record, context)
        content_hash(canonical.values, fields)
        erp.write(canonical.values, context, fields, record_key=canonical.native_id)
        written += 1
    return time.perf_counter() - started, written


def baseline(count: int) -> float:
    """What decoding the same records from JSON costs: a yardstick for this machine's speed."""
    batch = [json.dumps(record) for record in clients(min(count, 10_000))]
    started = time.perf_counter()
    for index in range(count):
        json.loads(batch[index % len(batch)])
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates, yardstick = [], []
    for _ in range(args.runs):
        seconds, written = run(args.records)
        rates.append(written / seconds)
        yardstick.append(baseline(args.records))
        print(f"run: {written:,} records in {seconds:.1f} s = {written / seconds:,.0f} records/s")
    print(
        f"median of {args.runs} runs: {median(rates):,.0f} records/s on one core "
        f"(read + validate + hash + write), peak RSS {peak_rss_mb():.0f} MB"
    )
    print(
        f"for scale: json.loads of the same records runs at {median(yardstick):,.0f} records/s "
        f"here; mapping costs {median(yardstick) / median(rates):.1f}x decoding them"
    )


if __name__ == "__main__":
    main()
