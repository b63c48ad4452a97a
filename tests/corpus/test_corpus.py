"""The bad-input corpus: every file in ``cases/`` is one hostile or broken input (a
configuration, a mapping, a CSV drop, an answer from a remote system) with the outcome syncer
must give: the exit code, a message naming the file, line, field or resource, no traceback, and
nothing changed but what the case allows.

A case is a YAML file:

    about: one sentence
    files: {relative path: text, ...}        # written into a fresh folder
    command: [sync, --all]                   # the default; `-c syncer.yaml` is appended
    server: {status: 200, content_type: text/html, body: "..."}   # optional canned API,
                                             # reachable from the files as ${CORPUS_URL}
    expect:
      exit: 2
      message: [fragments, that, must, appear]
      changes: [files the command may change]   # besides the state store

The outcome of every case is written to ``RESULTS.md`` beside this file.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from syncer.cli import app

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "cases").glob("*.yaml"))
RESULTS: dict[str, tuple[str, int, str]] = {}


def load_case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return case


@pytest.fixture(scope="module", autouse=True)
def results_table() -> Iterator[None]:
    yield
    if len(RESULTS) != len(CASES):
        return  # a partial run (-k) must not rewrite the table
    lines = [
        "# Bad-input corpus: outcomes",
        "",
        "Written by `tests/corpus/test_corpus.py` on every full run; one row per case in",
        "`tests/corpus/cases/`.",
        "",
        "| case | input | exit | message (first line) |",
        "|---|---|---|---|",
    ]
    for name in sorted(RESULTS):
        about, code, message = RESULTS[name]
        shown = message.replace("|", "\\|")
        lines.append(f"| `{name}` | {about} | {code} | {shown} |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


class _Canned(BaseHTTPRequestHandler):
    answer: dict[str, Any] = {}

    def _reply(self) -> None:
        body = str(self.answer.get("body", "")).encode()
        self.send_response(int(self.answer.get("status", 200)))
        self.send_header("Content-Type", self.answer.get("content_type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _reply

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: dict[str, Any]) -> str:
        handler = type("Answer", (_Canned,), {"answer": answer})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def headline(output: str, folder: Path) -> str:
    """What a person reads first: the messages, not the log lines or the summary table, with
    the case's temporary folder taken out so the table is the same on every run."""
    said = []
    for line in output.splitlines():
        text = line.strip().replace(f"{folder}{os.sep}", "").replace(str(folder), ".")
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
        text = re.sub(r"after \d+ attempts", "after N attempts", text)
        if (
            not text
            or text[0] in "{┏┃┡│└╭╰─"
            or text.startswith(("Sync", "Some records became dead letters"))
            or re.match(r"error: \d+ problems? in the configuration:$", text)
        ):
            continue
        said.append(" ".join(text.split()))
    return " / ".join(said[:2])[:200]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file but the state store, by content hash; the store by its tables' rows."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("state.db"):
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def cursors(folder: Path) -> list[tuple[Any, ...]]:
    db = folder / "state.db"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as connection:
            return list(connection.execute("SELECT flow, value FROM cursors ORDER BY flow"))
    except sqlite3.DatabaseError:
        # Not a database (a case about a broken store): it must stay exactly as it was.
        return [("unreadable", hashlib.sha256(db.read_bytes()).hexdigest())]


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_bad_input(path: Path, tmp_path: Path, canned: Any, monkeypatch: pytest.MonkeyPatch):
    case = load_case(path)
    expect = case["expect"]
    if "server" in case:
        monkeypatch.setenv("CORPUS_URL", canned(case["server"]))
    for name, text in (case.get("files") or {}).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    before, cursors_before = snapshot(tmp_path), cursors(tmp_path)
    command = [*case.get("command", ["sync", "--all"]), "-c", str(tmp_path / "syncer.yaml")]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, command, env={"COLUMNS": "240"})
    output = " ".join(result.output.split())
    RESULTS[path.stem] = (case["about"], result.exit_code, headline(result.output, tmp_path))
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == expect["exit"], result.output
    for fragment in expect.get("message", []):
        assert " ".join(fragment.split()) in output, (fragment, result.output)
    after = snapshot(tmp_path)
    allowed = set(expect.get("changes", []))
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert changed <= allowed, f"changed besides the state store: {sorted(changed - allowed)}"
    if expect["exit"] == 2:
        assert not (tmp_path / "state.db").exists() or cursors(tmp_path) == cursors_before
    assert cursors(tmp_path) == cursors_before or expect.get("cursor_moves", False)
