"""Benchmark of the sync engine end to end: ``syncer sync`` against the sandboxes.

1. ERP stub -> sandbox Repzo, first sync of 50k customers (creates);
2. the same flow again at once: incremental (nothing new), then a full re-read of the 50k
   (``lookback`` past the seed) in which every record must be recognised as unchanged;
3. sandbox Repzo -> CSV, 100k clients.

For each: records/s, the engine's peak RSS, and the HTTP requests the sandboxes served per
record, reads and writes apart (integration log writes counted on their own). The aim: a
no-change resync makes no write request; the first sync is limited by the sandbox, not the
engine. For that comparison the sandbox's raw create rate is measured too: a bare httpx loop
posting as many clients with the engine's concurrency (8) and nothing else.

The sandboxes run as child processes (``syncer sandbox repzo|erp``) and every sync as its own
``python -m syncer sync`` child, so each peak RSS is that process's own. Records/s use the flow
run's own duration from the state store; "wall" is the whole child, start-up included.

Each figure is the median of ``--runs`` runs (3 by default); the first sync's share of the
bare create rate is the median of each run's own ratio (both measured in the same run).

    python bench/engine.py [--customers 50000] [--clients 100000] [--runs 3] [--batch 200]
                           [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _common import (
    ERP_PASSWORD,
    ERP_USER,
    KEY,
    bare_create,
    erp_process,
    median,
    run_child,
    sandbox_process,
)
from sqlalchemy import select

from syncer.state import open_store, upgrade_store
from syncer.state.models import Run

CONCURRENCY = 8
"""The connectors' default write_concurrency."""
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_DATA = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}


@dataclass
class Row:
    """One measurement."""

    label: str
    records: int
    engine_s: float
    wall_s: float
    rss_mb: float
    reads: int
    writes: int
    log_writes: int

    @property
    def rate(self) -> float:
        return self.records / self.engine_s if self.engine_s else 0.0


class Systems:
    """The two sandboxes (child processes) and their admin APIs."""

    def __init__(self, repzo_url: str, erp_url: str) -> None:
        self.repzo = httpx.Client(base_url=f"{repzo_url}/__sandbox", timeout=900)
        self.erp = httpx.Client(
            base_url=f"{erp_url}/__erp", auth=(ERP_USER, ERP_PASSWORD), timeout=900
        )
        self.repzo_url, self.erp_url = repzo_url, erp_url

    def seed_erp(self, customers: int) -> None:
        """Customers and their price lists, stamped an hour ago (well before any scan bound)."""
        self._ok(self.erp.post("/clock", json={"offset_seconds": -3600}))
        self._ok(self.erp.post("/seed", json={"customers": customers, **NO_DATA}))
        self._ok(self.erp.post("/clock", json={"offset_seconds": 0}))

    def seed_clients(self, count: int) -> None:
        hour_ago = self._ok(self.repzo.get("/clock"))["now_ms"] - 3_600_000
        body = {"resource": "client", "count": count, "updated_at": hour_ago}
        self._ok(self.repzo.post("/seed", json=body))

    def reset_repzo(self) -> None:
        self._ok(self.repzo.post("/reset"))

    def reset_stats(self) -> None:
        self._ok(self.repzo.post("/stats/reset"))
        self._ok(self.erp.post("/stats/reset"))

    def advance_clocks(self, seconds: int) -> None:
        """Past the safety margin of the last scan (5 s by default)."""
        self._ok(self.erp.post("/clock", json={"advance_seconds": seconds}))
        self._ok(self.repzo.post("/clock", json={"advance_ms": seconds * 1000}))

    def requests(self) -> tuple[int, int, int]:
        """Requests served since the last reset, both sandboxes together: (reads, data
        writes, integration log writes)."""
        reads = writes = logs = 0
        for system in (self.repzo, self.erp):
            for row in self._ok(system.get("/stats"))["requests"]:
                resource = str(row.get("resource", row.get("entity")))
                if row["method"] not in WRITES:
                    reads += row["count"]
                elif resource.startswith("integration"):
                    logs += row["count"]
                else:
                    writes += row["count"]
        return reads, writes, logs

    def documents(self, resource: str) -> int:
        return int(self._ok(self.repzo.get("/stats"))["documents"].get(resource, 0))

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()


def write_config(folder: Path, systems: Systems, batch: int, *, lookback: str = "0s") -> Path:
    """Three flows on one state store; ``lookback`` widens the customers flow's reads."""
    (folder / "drop").mkdir(exist_ok=True)
    path = folder / f"syncer-{lookback}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            state: {{url: "sqlite:///{folder / "state.db"}"}}
            logging: {{level: WARNING}}
            connectors:
              repzo: {{type: repzo, base_url: "{systems.repzo_url}", api_key: {KEY},
                       namespace: demo, page_size: {batch}}}
              erp: {{type: erp_stub, base_url: "{systems.erp_url}", username: {ERP_USER},
                     password: {ERP_PASSWORD}, page_size: {batch}}}
              drop: {{type: csv, path: "{folder / "drop"}", streams: {{customers: {{key: code}}}}}}
            flows:
              - name: price-lists
                source: {{connector: erp, stream: price_lists}}
                target: {{connector: repzo, stream: pricelists}}
              - name: customers
                source: {{connector: erp, stream: customers}}
                target: {{connector: repzo, stream: client}}
                cursor: {{lookback: {lookback}}}
              - name: clients-to-csv
                source: {{connector: repzo, stream: client}}
                target: {{connector: drop, stream: customers}}
            """
        ),
        encoding="utf-8",
    )
    return path


def sync(systems: Systems, config: Path, flow: str, *before: str) -> tuple[Run, Row]:
    """Run ``syncer sync`` on ``before`` (not measured apart) and ``flow`` in one child."""
    systems.reset_stats()
    child = run_child(
        [sys.executable, "-m", "syncer", "sync", *before, flow, "--config", str(config)]
    )
    if child.returncode != 0:
        sys.exit(f"syncer sync {flow} exited with {child.returncode}:\n{child.output}")
    run = last_run(config.parent, flow)
    assert run.finished_at is not None
    seconds = (run.finished_at - run.started_at).total_seconds()
    reads, writes, logs = systems.requests()
    row = Row(flow, run.read, seconds, child.seconds, child.rss_mb, reads, writes, logs)
    return run, row


def last_run(folder: Path, flow: str) -> Run:
    store = open_store(f"sqlite:///{folder / 'state.db'}")
    try:
        with store.session() as session:
            found = session.scalars(
                select(Run).where(Run.flow == flow).order_by(Run.started_at.desc()).limit(1)
            ).one()
            session.expunge(found)
            return found
    finally:
        store.close()


def check(condition: bool, problem: str, problems: list[str]) -> None:
    if not condition:
        problems.append(problem)


def client_body(number: int) -> dict[str, Any]:
    """A client about the size and shape of what the engine creates from an ERP customer."""
    code = f"C-{number:05d}"
    return {
        "name": f"Bench Trading {number}",
        "local_name": f"تجارة {number}",
        "client_code": code,
        "contact_name": "Rami Haddad",
        "phone": "+962 6 555 0101",
        "cell_phone": "+962 79 555 0101",
        "email": f"c{number}@example.com",
        "formatted_address": f"{number % 200} Street {number % 60}",
        "city": "Amman",
        "state": "Amman",
        "country": "Jordan",
        "zip": "11118",
        "tax_number": f"{10_000_000 + number}",
        "financials": {"credit_limit": 2_500_000},
        "integrated_client_balance": 0,
        "disabled": False,
        "company_namespace": ["demo"],
        "integration_meta": {"id": f"demo_{code}"},
    }


def one_run(systems: Systems, args: argparse.Namespace) -> tuple[list[Row], float, list[str]]:
    """Every measurement once: the rows, the bare loop's creates/s, and what went wrong."""
    problems: list[str] = []
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        folder = Path(tmp)
        upgrade_store(f"sqlite:///{folder / 'state.db'}")
        config = write_config(folder, systems, args.batch)
        systems.reset_repzo()

        # (a) First sync: every customer is created in Repzo.
        run, row = sync(systems, config, "customers", "price-lists")
        rows.append(_labelled(row, "ERP -> Repzo, first sync"))
        check(run.created == args.customers, f"first sync created {run.created}", problems)
        clients = systems.documents("client")
        check(clients == args.customers, f"Repzo holds {clients} clients", problems)

        # (b) At once again: nothing new since the watermark, so nothing to read or write...
        systems.advance_clocks(10)
        run, row = sync(systems, config, "customers")
        rows.append(_labelled(row, "resync, incremental"))
        check(row.writes == 0, f"incremental resync made {row.writes} writes", problems)
        # ...and the same flow reading all of it again: each record recognised as unchanged.
        wide = write_config(folder, systems, args.batch, lookback="2h")
        run, row = sync(systems, wide, "customers")
        rows.append(_labelled(row, "resync, full re-read"))
        check(run.read == args.customers, f"full re-read read {run.read}", problems)
        check(row.writes == 0, f"no-change resync made {row.writes} writes", problems)

        # The sandbox's own limit: the same number of creates from a bare loop.
        systems.reset_repzo()
        bodies = [client_body(n) for n in range(1, args.customers + 1)]
        bare_s, created = _timed(
            lambda: bare_create(
                systems.repzo_url, "/client", bodies, CONCURRENCY, headers={"api-key": KEY}
            )
        )
        check(created == args.customers, f"the bare loop created {created}", problems)

        # (c) Repzo -> CSV.
        systems.reset_repzo()
        systems.seed_clients(args.clients)
        run, row = sync(systems, config, "clients-to-csv")
        rows.append(_labelled(row, "Repzo -> CSV"))
        with (folder / "drop" / "customers.csv").open(encoding="utf-8-sig", newline="") as file:
            written = sum(1 for _ in csv.reader(file)) - 1
        check(written == args.clients, f"the CSV holds {written} rows", problems)
    return rows, args.customers / bare_s, problems


def _labelled(row: Row, label: str) -> Row:
    row.label = label
    return row


def _timed(work: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    done = work()
    return time.perf_counter() - started, done


def report(runs: list[list[Row]], bare_rates: list[float], args: argparse.Namespace) -> None:
    print(
        f"\nmedians of {len(runs)} run(s): {args.customers} customers, {args.clients} clients, "
        f"pages of {args.batch}, {CONCURRENCY} writes in flight\n"
    )
    header = (
        f"{'measurement':<26} {'records':>8} {'engine s':>9} {'wall s':>7} {'records/s':>10} "
        f"{'peak RSS':>9} {'reads':>7} {'writes':>7} {'reads/rec':>10} {'writes/rec':>11} "
        f"{'log writes':>11}"
    )
    print(header)
    print("-" * len(header))
    for index in range(len(runs[0])):
        rows = [run[index] for run in runs]

        def mid(value: Callable[[Row], float], rows: list[Row] = rows) -> float:
            return median([value(row) for row in rows])

        records, reads, writes = (
            mid(lambda r: r.records),
            mid(lambda r: r.reads),
            mid(lambda r: r.writes),
        )
        rate = f"{mid(lambda r: r.rate):>10,.0f}" if records else f"{'-':>10}"
        per = (
            f"{reads / records:>10.3f} {writes / records:>11.3f}"
            if records
            else f"{'-':>10} {'-':>11}"
        )
        print(
            f"{rows[0].label:<26} {records:>8,.0f} {mid(lambda r: r.engine_s):>9.1f} "
            f"{mid(lambda r: r.wall_s):>7.1f} {rate} {mid(lambda r: r.rss_mb):>6.0f} MB "
            f"{reads:>7,.0f} {writes:>7,.0f} {per} {mid(lambda r: r.log_writes):>11,.0f}"
        )
    bare = median(bare_rates)
    print(f"{'bare httpx creates':<26} {args.customers:>8,} {'':>9} {'':>7} {bare:>10,.0f}")
    # The ratio of each run (engine and bare loop measured minutes apart), then their median.
    ratios = [run[0].rate / rate for run, rate in zip(runs, bare_rates, strict=True)]
    ratio = median(ratios)
    print(
        f"\nfirst sync at {ratio:.0%} of the sandbox's bare create rate (median of the runs' "
        f"ratios: {', '.join(f'{r:.0%}' for r in ratios)}): limited by "
        + ("the sandbox" if ratio >= 0.8 else "the engine")
    )
    incremental = [run[1].writes for run in runs]
    full = [run[2].writes for run in runs]
    print(
        f"no-change resync writes: incremental {max(incremental)}, full re-read {max(full)} "
        "(the most of any run)"
    )
    if args.json:
        labels = ["first_sync", "resync_incremental", "resync_full", "repzo_to_csv"]
        summary: dict[str, Any] = {
            "customers": args.customers,
            "clients": args.clients,
            "runs": len(runs),
            "bare_creates_per_s": bare,
            "first_sync_vs_bare": ratio,
            "first_sync_vs_bare_each": ratios,
        }
        for index, label in enumerate(labels):
            rows = [run[index] for run in runs]
            summary[label] = {
                "records_per_s": median([row.rate for row in rows]),
                "engine_s": median([row.engine_s for row in rows]),
                "wall_s": median([row.wall_s for row in rows]),
                "peak_rss_mb": median([row.rss_mb for row in rows]),
                "writes": max(row.writes for row in rows),
                "reads": median([row.reads for row in rows]),
                "log_writes": median([row.log_writes for row in rows]),
            }
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument(
        "--batch", type=int, default=200, help="connectors' page_size (flows keep their batch_size)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the medians to this JSON file")
    args = parser.parse_args()

    runs: list[list[Row]] = []
    bare_rates: list[float] = []
    problems: list[str] = []
    started = datetime.now().astimezone()
    print(f"load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with (
        tempfile.TemporaryDirectory(prefix="bench-erp-") as erp_dir,
        sandbox_process() as (repzo_url, _),
        erp_process(Path(erp_dir) / "erp.db", "--no-seed") as (erp_url, _),
    ):
        systems = Systems(repzo_url, erp_url)
        systems.seed_erp(args.customers)
        for number in range(1, args.runs + 1):
            print(f"run {number} of {args.runs}...", flush=True)
            rows, bare, found = one_run(systems, args)
            runs.append(rows)
            bare_rates.append(bare)
            problems += [f"run {number}: {problem}" for problem in found]
    report(runs, bare_rates, args)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n({datetime.now().astimezone() - started} in all)")
    if problems:
        raise SystemExit("PROBLEMS:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
