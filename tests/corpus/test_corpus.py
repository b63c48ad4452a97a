"""The bad-input corpus: every file in ``cases/`` is one hostile or broken input (a
configuration, a mapping, a CSV drop, an answer from a remote system, a damaged state store)
with the outcome syncer must give: the exit code, a message naming the file, line, field or
resource, no traceback, no secret anywhere, and nothing changed but what the case allows.

A case is a YAML file:

    about: one sentence
    env: {NAME: value}                       # optional, for the setup and the command
    files:                                   # written into a fresh folder
      syncer.yaml: text                      # a string is written as UTF-8
      drop/a.csv: {base64: "..."}            # raw bytes
      drop/b.csv: {text: "...", encoding: latin-1}        # text in that encoding
      drop/c.csv: {repeat: "x", times: 2000000, prefix: "...", suffix: "..."}
                                             # prefix + "x" * times + suffix (UTF-8 unless
                                             # `encoding` says otherwise): a huge field
                                             # without a huge case file
    setup:                                   # optional steps before anything is compared
    - run: [db, upgrade]                     # a syncer command, which must exit 0
                                             # (or `exit: N` beside `run`)
    - write: {path: value}                   # (re)write files, values as under `files`
    - sql: ["UPDATE alembic_version ..."]    # statements run on state.db
    - corrupt: {file: state.db, page: middle}   # or `page: N`, or `table: cursors` (its
                                                # root page): that page overwritten
    - readonly: state.db                     # a file nobody may write, root included
                                             # (root ignores modes: chattr +i is used then)
    command: [sync, --all]                   # the default; `-c syncer.yaml` is appended
    server: {status: 200, content_type: text/html, body: "...", headers: {...}}
                                             # optional canned API, reachable from the files
                                             # as ${CORPUS_URL}; `json:` instead of `body:`
                                             # gives a structure to send as JSON, and `body`
                                             # also takes the mappings `files` takes
    server:                                  # or a list of answers: those whose `paths`
    - {paths: ["^/client"], json: {...}}     # (regular expressions searched in path?query)
    - {methods: [POST], status: 400}         # and whose `methods` (all when absent) match a
    - {status: 404}                          # request, are served in order, the last one
                                             # repeating
    secrets: [values]                        # besides those found by themselves (below)
    xfail: "why"                             # a known product bug outside what the corpus
                                             # may fix: the case states the right outcome and
                                             # must fail until the bug is fixed (strict)
    expect:
      exit: 2
      message: [fragments, that, must, appear]   # in what syncer says, not in its log lines
      log: [fragments]                       # in its (JSON) log lines
      changes: [files the command may change]    # besides the state store
      cursor_moves: true                     # the `cursors` table may change
      state_changes: [id_map, ...]           # other tables of the store that may change
      contains: {out/customers.csv: [fragments]}   # text a file must hold after the command
      lacks: {out/customers.csv: [fragments]}      # text it must not hold

Every command runs with ``--log-level DEBUG --log-format json``, so every log line a user could
turn on is checked too.

What "nothing else changed" means: every file outside the state store is compared by content,
and every table of the SQLite state store (``state.db``) by its ordered rows, before and after
the command. The tables a failed or partial run is documented to write (``runs``,
``dead_letters``, the Repzo-log ``outbox``, ``alembic_version``) may change; so may the
``cursors`` with ``cursor_moves`` and the tables in ``state_changes``. Without
``cursor_moves`` a scan may still checkpoint its position after each page it committed (the
``scan`` column), but no watermark may move or appear. Leases are taken by every run:
``leases`` may change only by leases that end released. A store that did not exist before may
be created, with no rows in the compared tables, except by a command that exits 2 (bad
configuration or usage), which must not even create it. A store that cannot be read must stay
byte for byte as it was.

A traceback anywhere in the output fails a case, and so does a case that runs longer than
``CASE_TIME_LIMIT`` (a wait nobody capped): it is stopped rather than hanging the suite.

Secrets: every value of a key named ``api_key``, ``password``, ``token`` or ``secret`` in the
case's YAML files (``${VAR}`` expanded), plus those under ``secrets``, must not appear in the
output, in any file the command created or changed (the state store's own bytes included), or
in a dump of every table of the state store. Secrets shorter than 4 characters are not masked
by design and are not collected.

The outcome of every case is written to ``RESULTS.md`` beside this file: the same on every
run, with temporary paths, ports, attempt counts and waits taken out.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from syncer.cli import app

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "cases").glob("*.yaml"))
RESULTS: dict[str, tuple[str, int, int, str, str]] = {}
STORE = "state.db"
DOCUMENTED_WRITES = {"runs", "dead_letters", "outbox", "alembic_version"}
"""Tables a failed or partial run is documented to write."""
SECRET_KEYS = {"api_key", "password", "token", "secret"}
LOGGING = ["--log-level", "DEBUG", "--log-format", "json"]
CASE_TIME_LIMIT = 30
"""Seconds a case may take before it is stopped as hung (cases are meant to take ~3 s)."""


def load_case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return case


def _params() -> list[Any]:
    params = []
    for path in CASES:
        reason = load_case(path).get("xfail")
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.fixture(scope="module", autouse=True)
def results_table() -> Iterator[None]:
    yield
    if len(RESULTS) != len(CASES):
        return  # a partial run (-k) must not rewrite the table
    lines = [
        "# Bad-input corpus: outcomes",
        "",
        "Written by `tests/corpus/test_corpus.py` on every full run; one row per case in",
        "`tests/corpus/cases/`. A case marked xfail states the right outcome for a known bug",
        "that is not fixed yet: its row shows what syncer does today.",
        "",
        "| case | input | exit | expected | message (first lines) |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(RESULTS):
        about, code, expected, xfail, message = RESULTS[name]
        shown = message.replace("|", "\\|")
        wanted = f"{expected} (xfail: {xfail})" if xfail else str(expected)
        lines.append(f"| `{name}` | {about} | {code} | {wanted} | {shown} |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def content(value: Any) -> bytes:
    """The bytes of a file (or body) as a case gives them; see the module docstring."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if not isinstance(value, dict):
        raise TypeError(f"expected text or a mapping, got {value!r}")
    if "base64" in value:
        return base64.b64decode(value["base64"])
    text = str(value["repeat"]) * int(value["times"]) if "repeat" in value else str(value["text"])
    text = str(value.get("prefix", "")) + text + str(value.get("suffix", ""))
    return text.encode(value.get("encoding", "utf-8"))


def write_files(folder: Path, files: dict[str, Any]) -> None:
    for name, value in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content(value))


class _Canned(BaseHTTPRequestHandler):
    answers: list[dict[str, Any]] = []
    served: dict[tuple[int, ...], int] = {}
    lock = threading.Lock()

    def _answer(self) -> dict[str, Any]:
        matching = tuple(
            index
            for index, answer in enumerate(self.answers)
            if (not answer.get("paths") or any(re.search(p, self.path) for p in answer["paths"]))
            and self.command in answer.get("methods", [self.command])
        )
        if not matching:
            return {"status": 404, "body": '{"message": "no canned answer for this path"}'}
        with self.lock:
            count = self.served.get(matching, 0)
            self.served[matching] = count + 1
        return self.answers[matching[min(count, len(matching) - 1)]]

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        answer = self._answer()
        if "json" in answer:
            body = json.dumps(answer["json"]).encode()
        else:
            body = content(answer.get("body", ""))
        self.send_response(int(answer.get("status", 200)))
        headers = {"Content-Type": answer.get("content_type", "application/json")}
        headers.update({k: str(v) for k, v in (answer.get("headers") or {}).items()})
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _reply

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(server: dict[str, Any] | list[dict[str, Any]]) -> str:
        answers = server if isinstance(server, list) else [server]
        handler = type(
            "Answer", (_Canned,), {"answers": answers, "served": {}, "lock": threading.Lock()}
        )
        http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        servers.append(http)
        return f"http://127.0.0.1:{http.server_address[1]}"

    yield start
    for http in servers:
        http.shutdown()
        http.server_close()


def said(output: str) -> str:
    """What syncer says to a person: the output without its JSON log lines."""
    return "\n".join(line for line in output.splitlines() if not line.startswith("{"))


def headline(output: str, folder: Path) -> str:
    """What a person reads first: the messages, not the log lines or the summary table, with
    the case's temporary folder, ports, attempts and waits taken out so the table is the same
    on every run."""
    found = []
    for line in said(output).splitlines():
        text = line.strip().replace(f"{folder}{os.sep}", "").replace(str(folder), ".")
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
        text = re.sub(r"after \d+ attempts", "after N attempts", text)
        text = re.sub(r"waited \d+(\.\d+)?s", "waited Ns", text)
        if (
            not text
            or text[0] in "{┏┃┡│└╭╰─"
            or text.startswith(("Sync", "Some records became dead letters"))
            or re.match(r"error: \d+ problems? in the configuration:$", text)
        ):
            continue
        found.append(" ".join(text.split()))
    return " / ".join(found[:2])[:200]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file but the state store, by content hash; the store is compared by its rows."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith(STORE):
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


Dump = dict[str, tuple[list[str], list[tuple[Any, ...]]]]
"""Table name -> (column names, rows in order)."""


def dump(folder: Path) -> Dump | str | None:
    """Every table of the state store, rows in order; None without a store; the hash of its
    bytes when it cannot be read as a database (it must then stay exactly as it was)."""
    db = folder / STORE
    if not db.exists():
        return None
    if not db.is_file():
        return "not a file"
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            tables: Dump = {}
            for name in names:
                cursor = connection.execute(f'SELECT * FROM "{name}"')
                columns = [column[0] for column in cursor.description]
                tables[name] = (columns, sorted(cursor.fetchall(), key=repr))
            return tables
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        if db.is_dir():
            return "a folder"
        return "unreadable " + hashlib.sha256(db.read_bytes()).hexdigest()


def store_changes(before: Dump | str | None, after: Dump | str | None) -> set[str]:
    """The tables whose rows differ (``<store>`` when the store as a whole does)."""
    if isinstance(before, str) or isinstance(after, str):
        return set() if before == after else {"<store>"}
    if after is None:
        return set() if before is None else {"<store deleted>"}
    old = before or {}
    empty: tuple[list[str], list[tuple[Any, ...]]] = ([], [])
    return {
        name
        for name in set(old) | set(after)
        if _compared(name, old.get(name, empty)) != _compared(name, after.get(name, empty))
    }


SCAN_PROGRESS = {"scan", "fence", "updated_at"}
"""Columns of ``cursors`` that a scan checkpoints after every page it committed, failed run or
not (README, "Cursors"); the watermark itself (``value``, ``value_utc``, ``tiebreak_id``) is
what must not move."""


def _compared(name: str, table: tuple[list[str], list[tuple[Any, ...]]]) -> list[Any]:
    columns, rows = table
    if name != "cursors":
        return rows
    kept = [i for i, column in enumerate(columns) if column not in SCAN_PROGRESS]
    watermark = [i for i, column in enumerate(columns) if column in ("value", "value_utc")]
    return [
        tuple(row[i] for i in kept)
        for row in rows
        if any(row[i] is not None for i in watermark)  # no watermark yet: no cursor to move
    ]


def leases_released(after: Dump | str | None) -> bool:
    """Every lease in the store is free (its ``holder`` is null) once the command is over."""
    if not isinstance(after, dict) or "leases" not in after:
        return True
    columns, rows = after["leases"]
    holder = columns.index("holder")
    return all(row[holder] is None for row in rows)


_ENV_REF = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def collect_secrets(case: dict[str, Any], env: dict[str, str]) -> set[str]:
    """Values of keys named like secrets in the case's YAML files, plus ``secrets``."""
    found = {str(s) for s in case.get("secrets") or []}

    def expand(text: str) -> str:
        return _ENV_REF.sub(lambda m: env.get(m[1]) or m[2] or "", text)

    def walk(node: Any, seen: set[int]) -> None:
        if id(node) in seen:  # an alias bomb is a graph of shared nodes: visit each once
            return
        seen.add(id(node))
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key).lower() in SECRET_KEYS and isinstance(value, str | int):
                    found.add(expand(str(value)))
                walk(value, seen)
        elif isinstance(node, list):
            for item in node:
                walk(item, seen)

    for name, value in (case.get("files") or {}).items():
        if not name.endswith((".yaml", ".yml")) or not isinstance(value, str):
            continue
        if not re.search(r"(?i)api_key|password|token|secret", value):
            continue  # nothing to find, and a hostile file may take seconds to load
        with contextlib.suppress(Exception):  # broken YAML is what many cases are about
            walk(YAML(typ="safe").load(value), set())
        for match in re.finditer(r"\b(api_key|password|token|secret)\s*:\s*\"?([^\s,}\"]+)", value):
            found.add(expand(match[2]))
    return {s for s in found if len(s) >= 4}


def secret_leaks(
    secrets: set[str], output: str, folder: Path, changed: set[str], after: Dump | str | None
) -> list[str]:
    """Where any secret appears: the output, a file the command wrote, the store's rows."""
    spellings = {s: {s, quote(s, safe=""), quote_plus(s)} for s in secrets}
    places: dict[str, bytes] = {"the output": output.encode("utf-8", "replace")}
    for name in sorted(changed):
        path = folder / name
        if path.is_file():
            places[name] = path.read_bytes()
    for path in sorted(folder.glob(f"{STORE}*")):
        if path.is_file():
            places[path.name] = path.read_bytes()
    if isinstance(after, dict):
        places["the state store's rows"] = repr(after).encode("utf-8", "replace")
    return [
        f"{secret!r} in {place}"
        for secret, forms in sorted(spellings.items())
        for place, data in places.items()
        if any(form.encode() in data for form in forms)
    ]


class CaseTimeout(BaseException):
    """A case hung (a retry wait nobody capped): stop it rather than the whole suite."""


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise CaseTimeout(f"the case took more than {CASE_TIME_LIMIT}s")


def invoke(command: list[str], folder: Path, env: dict[str, str]) -> Any:
    config = ["-c", str(folder / "syncer.yaml")]
    return CliRunner().invoke(app, [*LOGGING, *command, *config], env={"COLUMNS": "240", **env})


def run_setup(
    steps: list[dict[str, Any]], folder: Path, env: dict[str, str], undo: list[Any]
) -> None:
    for step in steps:
        if "run" in step:
            result = invoke(list(step["run"]), folder, env)
            assert result.exit_code == step.get("exit", 0), ("setup", step, result.output)
        elif "write" in step:
            write_files(folder, step["write"])
        elif "sql" in step:
            with sqlite3.connect(folder / STORE) as connection:
                for statement in step["sql"]:
                    connection.execute(statement)
            connection.close()
        elif "corrupt" in step:
            where = step["corrupt"]
            corrupt(folder / where["file"], where.get("page"), where.get("table"))
        elif "readonly" in step:
            make_readonly(folder / step["readonly"], undo)
        else:
            raise ValueError(f"unknown setup step {step!r}")


def make_readonly(path: Path, undo: list[Any]) -> None:
    """Take write permission away from ``path``. Root writes whatever the mode says, so for
    root the file is made immutable (``chattr +i``), and made mutable again after the case."""
    path.chmod(0o444)
    if os.geteuid() != 0:
        return
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot make {path.name} read-only for root here: {done.stderr!r}")
    undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=False))


def corrupt(path: Path, page: int | str | None, table: str | None = None) -> None:
    """Overwrite one page of an SQLite file (not its header page) with garbage: a page by
    number, the middle one, or a table's root page (one a run is sure to read, wherever the
    migrations put it)."""
    if table is not None:
        with sqlite3.connect(path) as connection:
            [(page,)] = connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchall()
        connection.close()
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    size = 65536 if size == 1 else size
    pages = len(data) // size
    number = pages // 2 + 1 if page == "middle" else int(str(page))
    assert 1 < number <= pages, (number, pages)
    start = (number - 1) * size
    data[start : start + size] = bytes((7 * i + 0x5A) % 256 for i in range(size))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("path", _params())
def test_bad_input(
    path: Path,
    tmp_path: Path,
    canned: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    case = load_case(path)
    expect = case["expect"]
    env = {str(k): str(v) for k, v in (case.get("env") or {}).items()}
    if "server" in case:
        env["CORPUS_URL"] = canned(case["server"])
    write_files(tmp_path, case.get("files") or {})
    monkeypatch.chdir(tmp_path)
    undo: list[Any] = []
    request.addfinalizer(lambda: [step() for step in reversed(undo)])
    previous = signal.signal(signal.SIGALRM, _stop)
    signal.alarm(CASE_TIME_LIMIT)
    try:
        run_setup(case.get("setup") or [], tmp_path, env, undo)
        before, store_before = snapshot(tmp_path), dump(tmp_path)
        started = time.monotonic()
        result = invoke(list(case.get("command", ["sync", "--all"])), tmp_path, env)
        elapsed = time.monotonic() - started
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    RESULTS[path.stem] = (
        case["about"],
        result.exit_code,
        expect["exit"],
        case.get("xfail", ""),
        headline(result.output, tmp_path),
    )
    message = " ".join(said(result.output).split())
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == expect["exit"], result.output
    for fragment in expect.get("message", []):
        assert " ".join(fragment.split()) in message, (fragment, result.output)
    logged = "\n".join(line for line in result.output.splitlines() if line.startswith("{"))
    for fragment in expect.get("log", []):
        assert fragment in logged, (fragment, result.output)

    for name, fragments in (expect.get("contains") or {}).items():
        text = (tmp_path / name).read_text(encoding="utf-8", errors="replace")
        for fragment in fragments:
            assert fragment in text, (name, fragment, text[:2000])
    for name, fragments in (expect.get("lacks") or {}).items():
        target = tmp_path / name
        text = target.read_text(encoding="utf-8", errors="replace") if target.exists() else ""
        for fragment in fragments:
            assert fragment not in text, (name, fragment, text[:2000])

    after, store_after = snapshot(tmp_path), dump(tmp_path)
    allowed = set(expect.get("changes", []))
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert changed <= allowed, f"changed besides the state store: {sorted(changed - allowed)}"

    allowed_tables = DOCUMENTED_WRITES | set(expect.get("state_changes", []))
    if expect.get("cursor_moves", False):
        allowed_tables.add("cursors")
    if leases_released(store_after):
        allowed_tables.add("leases")
    tables = store_changes(store_before, store_after)
    assert tables <= allowed_tables, (
        f"tables of the state store changed: {sorted(tables - allowed_tables)}",
        result.output,
    )

    if expect["exit"] == 2:  # bad configuration or usage: nothing was changed, not even created
        assert (store_before is None) == (store_after is None), "exit 2 created the state store"

    leaks = secret_leaks(collect_secrets(case, env), result.output, tmp_path, changed, store_after)
    assert not leaks, leaks
    assert elapsed < CASE_TIME_LIMIT
