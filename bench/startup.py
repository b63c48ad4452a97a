"""Benchmark of syncer's start-up: ``syncer --version`` and ``syncer check --offline``.

Each command runs ``--runs`` times (5 by default) as a fresh child process after one untimed
warm-up (which writes the bytecode caches), and the median wall time is reported, with the
fastest and slowest. ``syncer`` is the console script beside this interpreter (the one pip
installed), as a user runs it; ``check --offline`` reads a configuration like the demo's:
``config.example.yaml`` with an integration app, logging at WARNING, in a temporary folder
(its SQLite store is not created by a check).

``--importtime`` also prints the modules that take longest to import for ``syncer --version``
(``python -X importtime``, cumulative), to show where the time goes.

    python bench/startup.py [--runs 5] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"
DEMO_APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"


def syncer_script() -> list[str]:
    """The console script beside this interpreter, else ``python -m syncer``."""
    beside = Path(sys.executable).parent / "syncer"
    found = str(beside) if beside.exists() else shutil.which("syncer")
    return [found] if found else [sys.executable, "-m", "syncer"]


def demo_like_config(folder: Path) -> Path:
    """config.example.yaml as ``syncer demo`` writes it (minus the sandboxes' ports)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace(f"# integration_app: {DEMO_APP_ID}", f"integration_app: {DEMO_APP_ID}")
    text = re.sub(r"(?m)^(\s*)level: INFO(\s*#.*)?$", r"\1level: WARNING\2", text)
    (folder / "exports").mkdir()
    path = folder / "syncer.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def clean_env() -> dict[str, str]:
    """The environment without the variables config.example.yaml reads: its defaults apply."""
    names = ("SYNCER_", "REPZO_", "ERP_")
    return {key: value for key, value in os.environ.items() if not key.startswith(names)}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    return seconds


def import_times(command: list[str], cwd: Path, env: dict[str, str], top: int) -> None:
    """The slowest imports of ``command`` (cumulative microseconds, from -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "syncer", *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), len(match.group(3)), match.group(4)))
    total = sum(cumulative for cumulative, depth, _ in rows if depth == 1)
    print(f"\nslowest imports of `syncer {' '.join(command)}` ({total / 1e6:.2f} s in all):")
    for cumulative, depth, name in sorted(rows, reverse=True)[:top]:
        print(f"  {cumulative / 1e6:6.3f} s  {'  ' * (depth - 1)}{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    syncer = syncer_script()
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        config = demo_like_config(folder)
        commands = {
            "syncer --version": [*syncer, "--version"],
            "syncer check --offline": [*syncer, "check", "--config", str(config), "--offline"],
        }
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"medians of {args.runs} runs, after one warm-up run each (load average {load})\n")
        print(f"{'command':<24} {'median s':>9} {'min s':>7} {'max s':>7}")
        for label, command in commands.items():
            timed(command, folder, env)  # warm-up: bytecode caches written
            times = [timed(command, folder, env) for _ in range(args.runs)]
            print(
                f"{label:<24} {statistics.median(times):>9.3f} {min(times):>7.3f} "
                f"{max(times):>7.3f}"
            )
        bare = [timed([sys.executable, "-c", "pass"], folder, env) for _ in range(args.runs)]
        print(f"{'(python -c pass)':<24} {statistics.median(bare):>9.3f}")
        if args.importtime:
            import_times(["--version"], folder, env, args.top)


if __name__ == "__main__":
    main()
