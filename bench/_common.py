"""Helpers shared by the benchmarks: a sandbox server in a child process, memory and stats."""

from __future__ import annotations

import re
import resource
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

KEY = "bench-key"


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of a process (this one by default), in MB."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


@contextmanager
def sandbox_process(*extra: str) -> Iterator[tuple[str, int]]:
    """Run ``syncer sandbox repzo`` on a free port; yields (url, pid)."""
    command = [sys.executable, "-m", "syncer", "sandbox", "repzo", "--port", "0", "--api-key", KEY]
    with subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            found = re.search(r"http://\S+", server.stdout.readline())
            if found is None:
                sys.exit("the sandbox did not start")
            yield found.group(0), server.pid
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
