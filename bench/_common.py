"""Helpers shared by the benchmarks: sandbox servers in child processes, measured child
processes, memory and stats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-key"
ERP_USER, ERP_PASSWORD = "bench", "bench-erp-pw"


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of a process (this one by default), in MB. VmHWM counts only the
    process's own image; ru_maxrss would include what its parent had when it forked it."""
    status_file = Path(f"/proc/{pid or 'self'}/status")
    if pid is None and not status_file.exists():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = status_file.read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


@contextmanager
def sandbox_process(*extra: str) -> Iterator[tuple[str, int]]:
    """Run ``syncer sandbox repzo`` on a free port; yields (url, pid)."""
    command = [sys.executable, "-m", "syncer", "sandbox", "repzo", "--port", "0", "--api-key", KEY]
    with _server([*command, *extra]) as found:
        yield found


@contextmanager
def standin_process(clients: int) -> Iterator[tuple[str, int]]:
    """Run the independent Repzo stand-in (``bench/standin_repzo.py``) with ``clients``
    generated clients on a free port; yields (url, pid) once it serves them."""
    script = Path(__file__).resolve().parent / "standin_repzo.py"
    command = [sys.executable, str(script), "--clients", str(clients), "--port", "0"]
    with _server([*command, "--api-key", KEY]) as found:
        yield found


@contextmanager
def erp_process(db: Path, *extra: str) -> Iterator[tuple[str, int]]:
    """Run ``syncer sandbox erp`` on a free port with its store in ``db``; yields (url, pid).
    Its admin API takes Basic auth with ERP_USER and ERP_PASSWORD."""
    command = [
        *(sys.executable, "-m", "syncer", "sandbox", "erp", "--port", "0", "--db", str(db)),
        *("--username", ERP_USER, "--password", ERP_PASSWORD),
    ]
    with _server([*command, *extra]) as found:
        yield found


@contextmanager
def _server(command: list[str]) -> Iterator[tuple[str, int]]:
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            found = re.search(r"http://\S+", server.stdout.readline())
            if found is None:
                sys.exit(f"{' '.join(command[2:5])} did not start")
            yield found.group(0), server.pid
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


@dataclass(frozen=True)
class Child:
    """A finished child process: wall time, its own peak RSS, exit code and output."""

    seconds: float
    rss_mb: float
    returncode: int
    output: str


def run_child(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    poll: float = 0.02,
) -> Child:
    """Run a command to its end and measure it. Its peak RSS is the high-water mark of its own
    memory (VmHWM), sampled every ``poll`` seconds until it exits: wait4()'s ru_maxrss would
    also count the parent's pages the child had before its exec."""
    started = time.perf_counter()
    peak = 0.0
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    ) as child:
        assert child.stdout is not None
        chunks: list[str] = []
        reader = threading.Thread(target=lambda: chunks.append(child.stdout.read()))  # type: ignore[union-attr]
        reader.start()
        while child.poll() is None:
            with contextlib.suppress(OSError, ValueError):  # it is exiting
                peak = max(peak, peak_rss_mb(child.pid))
            time.sleep(poll)
        reader.join()
    return Child(time.perf_counter() - started, peak, child.returncode, "".join(chunks))


def bare_create(
    url: str, path: str, bodies: Sequence[dict[str, Any]], concurrency: int, **client: Any
) -> int:
    """POST every body with a bare httpx loop, ``concurrency`` in flight: what the server can
    take when the client does nothing else. Returns how many were answered 2xx."""

    async def main() -> int:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=60, **client) as http:

            async def one(body: dict[str, Any]) -> int:
                async with gate:
                    response = await http.post(path, json=body)
                    response.json()
                    return int(response.is_success)

            return sum(await asyncio.gather(*(one(body) for body in bodies)))

    return asyncio.run(main())


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def report_worker(count: int, seconds: float) -> None:
    """What a benchmark worker prints last: how many it handled, how long, its peak RSS."""
    print(json.dumps({"count": count, "seconds": seconds, "rss_mb": peak_rss_mb()}))


def run_worker(command: Sequence[str], expected: int, label: str) -> dict[str, float]:
    """Run a worker (a benchmark script in a child process, so its peak RSS is its own) and
    read its report; a worker that handled the wrong number of records ends the benchmark."""
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    if result["count"] != expected:
        sys.exit(f"{label}: expected {expected}, got {result['count']}")
    return result
