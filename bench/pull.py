"""Benchmark of a Repzo -> CSV first sync: ``syncer sync`` next to a bare httpx loop and dlt.

Every contender reads the same N clients from an independent stand-in Repzo
(``standin_repzo.py``, a child process, 200 records a page at most) and ends with them in a
file or database of its own:

- bare: a bare httpx loop making the reads ``syncer sync`` makes (the server-time request,
  then keyset pages ``per_page=200, sortBy=[{_id asc}], to_updatedAt, from__id``) and writing
  the CSV file the shipped mappings produce (``repzo/client.yaml`` -> ``csv/customers.yaml``:
  disabled clients left out, ``money_x1000`` credit limits as decimals, formula cells quoted,
  an ``updated_at`` stamp), to a temporary file renamed into place, fsynced once;
- syncer: ``python -m syncer sync clients-to-csv`` with a configuration in a temporary folder
  (SQLite state store, a ``csv`` connector, the Repzo connector at ``page_size: 200`` with an
  ``integration_app``, so its command log is written as a user's would be);
- dlt: dlt 1.x's REST API source (``dlt.sources.rest_api``) with page-number pagination
  (``page``/``per_page=200``, ``total_pages``; the same sort and time bound) into duckdb, with
  dlt's defaults (``pipeline.run(source)``: for duckdb the ``insert_values`` loader format);
- dlt-jsonl: the same with ``loader_file_format="jsonl"``, dlt's faster way into duckdb
  without pyarrow (its load step goes from most of the time to a second or so).

Each contender runs as its own child process, started and timed from outside (wall time,
interpreter start-up included), in turns (bare, syncer, dlt, dlt-jsonl; then again), so each
run's ratios compare figures measured minutes apart at most. Peak RSS is the child's own
high-water mark (``VmHWM`` in ``/proc/<pid>/status``) polled every 20 ms until it exits; not
``getrusage(RUSAGE_CHILDREN)``, whose ``ru_maxrss`` would count the parent's pages the child
had before its exec. After each run the syncer's CSV is checked against the bare loop's
(same rows and cells but the ``updated_at`` stamp) and dlt's table for N rows.

    python bench/pull.py [--clients 100000] [--runs 3] [--tools bare,syncer,dlt,dlt-jsonl]
    python bench/pull.py --clients 1000000 --runs 1 --tools bare,syncer   # the memory row
    python bench/pull.py --profile profile.txt [--clients 100000]   # py-spy, top hotspots

``--profile`` runs one ``syncer sync`` under ``py-spy record --format raw`` (py-spy must be
installed) and prints the functions with the most samples, self and inclusive.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from _common import KEY, median, run_child, standin_process

PER_PAGE = 200
SAFETY_MARGIN_MS = 5000
"""The flow's default cursor safety margin: a first sync reads up to Repzo's clock minus it."""
FLOW = "clients-to-csv"
SORT_BY = json.dumps([{"field": "_id", "type": "asc"}], separators=(",", ":"))
COLUMNS = [
    "code",
    "name",
    "phone",
    "email",
    "city",
    "country",
    "tax_number",
    "credit_limit",
    "active",
    "updated_at",
]
"""The columns of ``mappings/csv/customers.yaml`` in its order, and the updated-at stamp."""
TOOLS = ("bare", "syncer", "dlt", "dlt-jsonl")
APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"


# -- the bare loop (a worker: runs in its own process) -------------------------------------


def _cell(value: Any) -> str:
    """A cell as the CSV connector writes it: text, a formula quoted (OWASP), None empty."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text and text[0] in "=+-@\t\r":
        try:
            float(text.replace(",", "."))
        except ValueError:
            return "'" + text
    return text


def _decimal(value: Any, scale: int) -> str:
    if value is None:
        return ""
    text = f"{(Decimal(value) / scale).normalize():f}"
    return "0" if text in ("-0", "") else text


def bare_worker(url: str, out: Path) -> int:
    """Read every client as ``syncer sync`` does and write the CSV the shipped mappings give;
    returns the records read."""
    import httpx

    target = out / "customers.csv"
    partial = out / ".customers.csv.partial"
    read = 0
    with (
        httpx.Client(base_url=url, headers={"api-key": KEY}, timeout=60) as http,
        partial.open("w", encoding="utf-8-sig", newline="") as file,
    ):
        # Repzo's clock from a cheap request's Date header: the scan's upper bound.
        now = http.get("/client", params={"per_page": 1})
        now.raise_for_status()
        server_ms = int(parsedate_to_datetime(now.headers["date"]).timestamp() * 1000)
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        params: dict[str, Any] = {
            "to_updatedAt": server_ms - SAFETY_MARGIN_MS,
            "per_page": PER_PAGE,
            "sortBy": SORT_BY,
        }
        while True:
            response = http.get("/client", params=params)
            response.raise_for_status()
            body = response.json()
            data = body["data"]
            read += len(data)
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            writer.writerows(
                [
                    _cell(c.get("client_code")),
                    _cell(c.get("name")),
                    _cell(c.get("phone")),
                    _cell(c.get("email")),
                    _cell(c.get("city")),
                    _cell(c.get("country")),
                    _cell(c.get("tax_number")),
                    _decimal((c.get("financials") or {}).get("credit_limit"), 1000),
                    "true",
                    stamp,
                ]
                for c in data
                if not c.get("disabled")  # the mapping's `deleted: disabled`: not exported
            )
            if body.get("next_page_url") is None or not data:
                break
            params["from__id"] = data[-1]["_id"]
        file.flush()
        os.fsync(file.fileno())
    partial.replace(target)
    return read


# -- dlt (a worker) ------------------------------------------------------------------------


def dlt_worker(url: str, out: Path, to_ms: int, file_format: str | None) -> int:
    """dlt's REST API source reading every client page by page number into duckdb; returns the
    rows of the ``client`` table. ``file_format``: dlt's loader file format (None: dlt's
    default for duckdb, ``insert_values``)."""
    import dlt
    from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": url,
                "auth": {
                    "type": "api_key",
                    "name": "api-key",
                    "api_key": KEY,
                    "location": "header",
                },
            },
            "resources": [
                {
                    "name": "client",
                    "endpoint": {
                        "path": "client",
                        "params": {
                            "per_page": PER_PAGE,
                            # dlt reads {...} in params as a template: braces doubled.
                            "sortBy": SORT_BY.replace("{", "{{").replace("}", "}}"),
                            "to_updatedAt": to_ms,
                        },
                        "data_selector": "data",
                        "paginator": PageNumberPaginator(
                            base_page=1, page_param="page", total_path="total_pages"
                        ),
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="repzo_pull",
        destination=dlt.destinations.duckdb(str(out / "pull.duckdb")),
        dataset_name="repzo",
        pipelines_dir=str(out / "pipelines"),
    )
    pipeline.run(source, loader_file_format=file_format)  # type: ignore[arg-type]
    for step in pipeline.last_trace.steps:
        seconds = (step.finished_at - step.started_at).total_seconds()
        print(f"dlt {step.step}: {seconds:.2f} s", file=sys.stderr)
    with pipeline.sql_client() as client:
        rows = client.execute_sql("select count(*) from client")
    return int(rows[0][0])


def dlt_env(folder: Path) -> dict[str, str]:
    """dlt's environment for a run: no telemetry (no network here), its files in ``folder``."""
    return {
        **os.environ,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(folder / "dlt-data"),
        "RUNTIME__LOG_LEVEL": "WARNING",
    }


# -- syncer --------------------------------------------------------------------------------


def write_config(folder: Path, url: str) -> Path:
    """A user's Repzo -> CSV export, as the README and config.example.yaml write one."""
    (folder / "exports").mkdir()
    path = folder / "syncer.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            state: {{url: "sqlite:///{folder / "state.db"}"}}
            logging: {{level: WARNING}}
            connectors:
              repzo:
                type: repzo
                base_url: "{url}"
                api_key: {KEY}
                namespace: demo
                integration_app: {APP_ID}
                page_size: {PER_PAGE}
              drop:
                type: csv
                path: ./exports
                streams:
                  customers: {{key: code}}
            flows:
              - name: {FLOW}
                source: {{connector: repzo, stream: client}}
                target: {{connector: drop, stream: customers}}
            """
        ),
        encoding="utf-8",
    )
    return path


def syncer_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "syncer", "sync", FLOW, "--config", str(config)]


def last_run(folder: Path) -> dict[str, Any]:
    """The flow's run as the state store recorded it (read with sqlite3, not syncer)."""
    with sqlite3.connect(folder / "state.db") as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "select * from runs where flow = ? order by started_at desc limit 1", (FLOW,)
        ).fetchone()
    found = dict(row)
    started, finished = (datetime.fromisoformat(found[k]) for k in ("started_at", "finished_at"))
    found["seconds"] = (finished - started).total_seconds()
    return found


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Measured:
    seconds: float
    rss_mb: float
    records: int
    in_run_s: float | None = None
    note: str = ""


@dataclass
class Results:
    runs: list[dict[str, Measured]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def worker_command(kind: str, url: str, out: Path, *extra: str) -> list[str]:
    script = str(Path(__file__).resolve())
    return [sys.executable, script, "--worker", kind, "--url", url, "--out", str(out), *extra]


def measure(kind: str, url: str, folder: Path, clients: int, results: Results) -> Measured:
    """One contender once, in ``folder``."""
    env = None
    if kind == "bare":
        command = worker_command("bare", url, folder)
    elif kind.startswith("dlt"):
        env = dlt_env(folder)
        to_ms = int(time.time() * 1000) - SAFETY_MARGIN_MS
        command = worker_command("dlt", url, folder, "--to-ms", str(to_ms))
        if kind == "dlt-jsonl":
            command += ["--dlt-format", "jsonl"]
    else:
        command = syncer_command(write_config(folder, url))
    child = run_child(command, env=env, cwd=folder)
    if child.returncode != 0:
        sys.exit(f"{kind} exited with {child.returncode}:\n{child.output[-3000:]}")
    if kind == "syncer":
        run = last_run(folder)
        if run["status"] != "succeeded" or run["read"] != clients:
            results.problems.append(f"syncer: {run['status']}, read {run['read']} of {clients}")
        return Measured(child.seconds, child.rss_mb, int(run["read"]), run["seconds"])
    lines = child.output.strip().splitlines()
    reported = json.loads(next(line for line in reversed(lines) if line.startswith('{"count"')))
    if reported["count"] != clients:
        results.problems.append(f"{kind}: {reported['count']} records, expected {clients}")
    steps = ", ".join(line[4:] for line in lines if line.startswith("dlt "))
    return Measured(child.seconds, child.rss_mb, int(reported["count"]), note=steps)


def compare_csv(bare: Path, syncer: Path) -> str | None:
    """What differs between the two exports, apart from the updated_at stamps."""

    def rows(path: Path) -> list[list[str]]:
        with path.open(encoding="utf-8-sig", newline="") as file:
            return [row[:-1] for row in csv.reader(file)]

    ours, theirs = rows(bare), rows(syncer)
    if ours == theirs:
        return None
    if len(ours) != len(theirs):
        return f"the bare CSV has {len(ours)} lines, syncer's {len(theirs)}"
    first = next(n for n, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
    return f"line {first + 1} differs: bare {ours[first]} vs syncer {theirs[first]}"


def one_run(
    url: str,
    clients: int,
    tools: list[str],
    results: Results,
    keep: Path | None,
) -> None:
    measured: dict[str, Measured] = {}
    folders: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        for kind in tools:
            folder = Path(tmp) / kind
            folder.mkdir()
            folders[kind] = folder
            measured[kind] = measure(kind, url, folder, clients, results)
            got = measured[kind]
            print(
                f"  {kind:<9} {got.seconds:8.2f} s wall  {got.records / got.seconds:>9,.0f} rec/s"
                f"  peak RSS {got.rss_mb:6.1f} MiB"
                + (f"  (in-run {got.in_run_s:.2f} s)" if got.in_run_s is not None else "")
                + (f"  ({got.note})" if got.note else ""),
                flush=True,
            )
        if "bare" in folders and "syncer" in folders:
            problem = compare_csv(
                folders["bare"] / "customers.csv", folders["syncer"] / "exports" / "customers.csv"
            )
            if problem:
                results.problems.append(f"CSV: {problem}")
        if keep is not None:
            shutil.copytree(tmp, keep, dirs_exist_ok=True)
    results.runs.append(measured)


def report(results: Results, args: argparse.Namespace, tools: list[str]) -> dict[str, Any]:
    runs = results.runs
    print(
        f"\nRepzo -> CSV first sync, {args.clients:,} clients, {PER_PAGE} a page: "
        f"medians of {len(runs)} run(s)\n"
    )
    header = (
        f"{'contender':<10} {'wall s':>8} {'records/s':>10} {'peak RSS MiB':>13} {'in-run s':>9}"
    )
    print(header)
    print("-" * len(header))
    summary: dict[str, Any] = {"clients": args.clients, "runs": len(runs)}
    for kind in tools:
        got = [run[kind] for run in runs]
        seconds = median([m.seconds for m in got])
        rate = median([m.records / m.seconds for m in got])
        rss = median([m.rss_mb for m in got])
        in_run = [m.in_run_s for m in got if m.in_run_s is not None]
        shown = f"{median(in_run):>9.2f}" if in_run else f"{'':>9}"
        print(f"{kind:<10} {seconds:>8.2f} {rate:>10,.0f} {rss:>13.1f} {shown}")
        summary[kind] = {
            "wall_s": seconds,
            "records_per_s": rate,
            "peak_rss_mib": rss,
            "max_peak_rss_mib": max(m.rss_mb for m in got),
            **({"in_run_s": median(in_run)} if in_run else {}),
        }
    ratios = {
        "syncer/bare": ("syncer", "bare"),
        "dlt/syncer": ("dlt", "syncer"),
        "dlt-jsonl/syncer": ("dlt-jsonl", "syncer"),
    }
    print()
    for name, (top, bottom) in ratios.items():
        if top in tools and bottom in tools:
            each = [run[top].seconds / run[bottom].seconds for run in runs]
            summary[name] = median(each)
            shown = ", ".join(f"{value:.2f}" for value in each)
            print(f"{name} wall: median {median(each):.2f}x (per run: {shown})")
    return summary


# -- profiling -----------------------------------------------------------------------------


def profile(url: str, clients: int, out: Path, top: int) -> None:
    """One ``syncer sync`` under py-spy (raw collapsed stacks), then the hottest functions."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="bench-pull-profile-") as tmp:
        folder = Path(tmp)
        command = syncer_command(write_config(folder, url))
        started = time.perf_counter()
        subprocess.run(
            [
                *(spy, "record", "--format", "raw", "--nonblocking", "--full-filenames"),
                *("-o", str(out), "--", *command),
            ],
            check=True,
            cwd=folder,
            stdout=subprocess.DEVNULL,
        )
        print(f"profiled {clients:,} clients in {time.perf_counter() - started:.1f} s -> {out}")
        print(f"(in-run {last_run(folder)['seconds']:.2f} s)")
    hotspots(out, top)


PLUMBING = ("<frozen runpy>", "typer/", "asyncio/", "contextlib.py", "threading.py", "runpy.py")
"""Frames every sample passes through (start-up, the CLI, the event loop), left out of the
inclusive list; ``syncer/cli/`` and ``syncer/__main__`` are added there too."""
IDLE = ("concurrent/futures/thread.py:_worker",)
"""Leaf frames that are a thread waiting for work (py-spy cannot always tell it is idle)."""


_WHERE = re.compile(
    r"(?:.*/site-packages/|.*/lib/python3\.\d+/|.*/(?=(?:syncer|connectors|bench)/))"
)


def _frame(text: str) -> str:
    """``func (/a/b/site-packages/pkg/file.py:12)`` -> ``pkg/file.py:func``: the path from its
    package (py-spy's ``--full-filenames``), no machine path."""
    name, _, where = text.rpartition(" (")
    where = _WHERE.sub("", where.rstrip(")").rsplit(":", 1)[0], count=1)
    return f"{where}:{name or text}"


def hotspots(path: Path, top: int) -> None:
    """Self and inclusive sample counts per function from py-spy's raw (collapsed) output,
    idle pool threads left out."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = main = idle = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            _frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        if frames[-1] in IDLE:
            idle += count
            continue
        total += count
        main += count if "runpy" in frames[0] or "syncer/__main__" in frames[0] else 0
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        print("no samples")
        return
    print(
        f"\n{total} samples (main thread {main / total:.0%}, pool threads {1 - main / total:.0%};"
        f" {idle} samples of idle pool threads left out)\n\ntop {top} by self time:"
    )
    for name, count in own.most_common(top):
        print(f"  {count / total:6.1%}  {name}")
    plumbing = (*PLUMBING, "syncer/cli/", "syncer/__main__")
    ours = [
        (n, c)
        for n, c in inclusive.most_common()
        if n.startswith(("syncer/", "connectors/")) and not n.startswith(plumbing)
    ]
    print(f"\ntop {top} of syncer's own functions by inclusive time (CLI frames left out):")
    for name, count in ours[:top]:
        print(f"  {count / total:6.1%}  {name}")
    theirs = [
        (n, c)
        for n, c in inclusive.most_common()
        if not n.startswith(("syncer/", "connectors/", *plumbing))
    ]
    print(f"\ntop {top} of the libraries' functions by inclusive time (event loop left out):")
    for name, count in theirs[:top]:
        print(f"  {count / total:6.1%}  {name}")


# -- main ----------------------------------------------------------------------------------


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}"
    )
    parser.add_argument("--json", type=Path, help="also write the medians to this JSON file")
    parser.add_argument("--keep", type=Path, help="copy the last run's files here")
    parser.add_argument("--profile", type=Path, help="py-spy one syncer sync into this file")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--hotspots", type=Path, help="only summarize an existing py-spy file")
    parser.add_argument("--worker", choices=["bare", "dlt"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dlt-format", choices=["jsonl"], help=argparse.SUPPRESS)
    parser.add_argument("--to-ms", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        count = (
            bare_worker(args.url, args.out)
            if args.worker == "bare"
            else dlt_worker(args.url, args.out, args.to_ms, args.dlt_format)
        )
        print(json.dumps({"count": count}))
        return
    if args.hotspots:
        hotspots(args.hotspots, args.top)
        return

    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    print(f"load average at the start: {_load()}")
    print(f"generating {args.clients:,} clients in the stand-in...", flush=True)
    with standin_process(args.clients) as (url, _pid):
        print(f"stand-in ready in {time.perf_counter() - started:.1f} s", flush=True)
        if args.profile:
            profile(url, args.clients, args.profile, args.top)
            return
        results = Results()
        for number in range(1, args.runs + 1):
            print(f"run {number} of {args.runs}:", flush=True)
            keep = args.keep if number == args.runs else None
            one_run(url, args.clients, tools, results, keep)
    summary = report(results, args, tools)
    print(f"load average at the end: {_load()}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"\n({time.perf_counter() - started:.0f} s in all)")
    if results.problems:
        raise SystemExit("PROBLEMS:\n  " + "\n  ".join(results.problems))


if __name__ == "__main__":
    main()
