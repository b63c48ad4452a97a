"""An independent, in-memory stand-in for Repzo's API, for the pull benchmark (``pull.py``).

Written from Repzo's list contract as the official SDK and the OpenAPI files describe it, and
from nothing in the project (not its sandbox): so it cannot share the project's assumptions.
It is built to be fast, so that the server is not what a benchmark measures: every client is
serialized once at start, and a page's body is the envelope around a join of those bytes.

What it serves (header ``api-key`` required everywhere, 401 otherwise; every answer has a
``Date`` header):

- ``GET /client``: N generated clients (24-hex ``_id`` growing with creation time, ``name``,
  ``client_code``, ``phone``, ``city``, ``disabled``, ``company_namespace``, ISO 8601
  ``createdAt``/``updatedAt``, ``integration_meta`` and a few more) with Repzo's paged envelope
  ``{total_result, current_count, total_pages, current_page, per_page, first_page_url,
  last_page_url, next_page_url (null at the end), prev_page_url, path, data}``. Parameters:
  ``page``, ``per_page`` (default 25, capped at 200: a request for more gets 200 and the body
  says so), ``sortBy`` (JSON ``[{"field": "_id"|"updatedAt"|"createdAt", "type":
  "asc"|"desc"}]``), ``sort`` with ``sortPageOrder`` (``asc``|``dsc``), ``from_updatedAt`` /
  ``to_updatedAt`` and ``from_createdAt`` / ``to_createdAt`` (ms since the epoch, inclusive),
  ``from__id`` / ``to__id`` (greater than / at most, as the spec files word it), and equality
  filters ``_id`` (one id or a JSON list), ``client_code``, ``disabled``, ``integration_meta.id``.
  Unknown parameters are ignored, as Repzo ignores them.
- ``GET /client/<id>``.
- ``GET /integration-app/<id>`` (``populatedKeys=["available_app"]`` populates the catalogue
  entry), ``POST /integration-command-log`` and ``POST /integration-action-log`` (upserted by
  ``sync_id``: 201 when new, 200 after; command-log ``details`` are appended to the stored
  history, as the real server does), ``GET /integration-command-log?sync_id=``.
- ``GET /__standin/stats`` (requests served by method and path) and
  ``POST /__standin/stats/reset``: for the benchmark, not part of Repzo.

    python bench/standin_repzo.py --clients 100000 [--port 0] [--api-key KEY]

It prints ``listening on http://127.0.0.1:PORT`` once it is ready, and stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 25
NAMESPACE = "demo"
CITIES = ["Amman", "Irbid", "Zarqa", "Aqaba", "Riyadh", "Jeddah", "Dubai", "Sharjah", "Doha"]
STREETS = ["King Hussein St", "Rainbow St", "Mecca St", "Gardens St", "Wasfi Al Tal St"]
APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"
AVAILABLE_APP_ID = "65f0c2a1b3c4d5e6f7a8b9ff"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class Clients:
    """N clients, generated once (deterministic for a given N and start time), each kept as
    its serialized JSON bytes, with the columns the filters need beside them."""

    def __init__(self, count: int, *, now_ms: int) -> None:
        # Created one every 2 s up to an hour ago; updated up to a day after creation, never
        # later than an hour ago: a first sync bounded by the server's clock sees them all.
        newest = now_ms - 3_600_000
        start = newest - count * 2000 - 86_400_000
        self.ids: list[str] = []
        self.created: list[int] = []
        self.updated: list[int] = []
        self.codes: list[str] = []
        self.disabled: list[bool] = []
        self.meta_ids: list[str | None] = []
        self.blobs: list[bytes] = []
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for n in range(count):
            created = start + n * 2000 + (n * 7919) % 1000
            updated = min(created + (n * 104_729) % 86_400_000, newest)
            # ObjectId: 4 bytes of creation seconds, 5 of "machine", 3 of a counter.
            oid = f"{created // 1000:08x}{0x5EED0C0DE0:010x}{n % 0xFFFFFF:06x}"
            code = f"C{n + 1:07d}"
            disabled = n % 37 == 0
            meta_id = f"{NAMESPACE}_{code}" if n % 3 else None
            record: dict[str, Any] = {
                "_id": oid,
                "name": f"Bench Trading {n + 1}",
                "local_name": f"تجارة {n + 1}",
                "client_code": code,
                "contact_name": "Rami Haddad",
                "phone": f"+962 6 5{n % 1_000_000:06d}",
                "cell_phone": f"+962 79 {n % 10_000_000:07d}",
                "email": f"c{n + 1}@example.com",
                "formatted_address": f"{n % 200 + 1} {STREETS[n % len(STREETS)]}",
                "city": CITIES[n % len(CITIES)],
                "country": "Jordan",
                "tax_number": f"{10_000_000 + n}",
                "financials": {"credit_limit": (n % 50) * 100_000},
                "integrated_client_balance": (n % 13) * 1250,
                "disabled": disabled,
                "company_namespace": [NAMESPACE],
                "integration_meta": {"id": meta_id} if meta_id else {},
                "tags": [],
                "createdAt": iso(created),
                "updatedAt": iso(updated),
                "__v": 0,
            }
            self.ids.append(oid)
            self.created.append(created)
            self.updated.append(updated)
            self.codes.append(code)
            self.disabled.append(disabled)
            self.meta_ids.append(meta_id)
            self.blobs.append(dumps(record).encode())
        self.by_id = {oid: n for n, oid in enumerate(self.ids)}
        self._orders: dict[str, list[int]] = {}
        self._selections: dict[tuple[Any, ...], list[int]] = {}
        self._lock = threading.Lock()

    def order(self, field: str, descending: bool) -> list[int]:
        """Record numbers sorted by a field (ties by ``_id``); ``_id`` order is creation order."""
        key = f"{field}:{'desc' if descending else 'asc'}"
        with self._lock:
            found = self._orders.get(key)
            if found is None:
                if field == "_id":
                    found = list(range(len(self.ids)))
                else:
                    column = self.updated if field == "updatedAt" else self.created
                    found = sorted(range(len(self.ids)), key=lambda n: (column[n], self.ids[n]))
                if descending:
                    found.reverse()
                self._orders[key] = found
            return found

    def select(self, field: str, descending: bool, filters: tuple[Any, ...]) -> list[int]:
        """Record numbers matching ``filters`` in the given order; cached, since a listing asks
        the same filters again on every page."""
        cache_key = (field, descending, filters)
        with self._lock:
            found = self._selections.get(cache_key)
        if found is not None:
            return found
        order = self.order(field, descending)
        tests = [self._test(name, value) for name, value in filters]
        found = [n for n in order if all(test(n) for test in tests)] if tests else order
        with self._lock:
            if len(self._selections) > 64:
                self._selections.clear()
            self._selections[cache_key] = found
        return found

    def _test(self, name: str, value: Any) -> Any:
        updated, created, ids = self.updated, self.created, self.ids
        tests = {
            "from_updatedAt": lambda n: updated[n] >= value,
            "to_updatedAt": lambda n: updated[n] <= value,
            "from_createdAt": lambda n: created[n] >= value,
            "to_createdAt": lambda n: created[n] <= value,
            "to__id": lambda n: ids[n] <= value,
            "_id": lambda n: ids[n] in value,
            "client_code": lambda n: self.codes[n] in value,
            "disabled": lambda n: self.disabled[n] == value,
            "integration_meta.id": lambda n: self.meta_ids[n] in value,
        }
        return tests[name]


class Logs:
    """Integration command and action logs, upserted by ``sync_id``."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, dict[str, Any]]] = {"command": {}, "action": {}}
        self.lock = threading.Lock()

    def save(self, kind: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = iso(int(time.time() * 1000))
        sync_id = str(body.get("sync_id") or uuid.uuid4())
        with self.lock:
            stored = self.documents[kind].get(sync_id)
            if stored is None:
                document = {
                    **body,
                    "sync_id": sync_id,
                    "_id": uuid.uuid4().hex[:24],
                    "createdAt": now,
                    "updatedAt": now,
                    "__v": 0,
                }
                self.documents[kind][sync_id] = document
                return 201, document
            history = stored.get("details", []) if kind == "command" else []
            stored.update(body)
            if kind == "command":
                stored["details"] = [*history, *body.get("details", [])]
            stored["updatedAt"] = now
            return 200, stored


class BadRequest(Exception):
    pass


def parse_ms(name: str, values: list[str]) -> int:
    try:
        return int(values[-1])
    except ValueError:
        try:
            moment = datetime.fromisoformat(values[-1].replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"{name} must be milliseconds since the epoch") from None
        return int(moment.timestamp() * 1000)


def list_values(values: list[str]) -> frozenset[str]:
    """``_id=a``, ``_id=a&_id=b``, ``_id[]=a`` or ``_id=["a","b"]`` (the SDK's JSON form)."""
    found: set[str] = set()
    for value in values:
        if value.startswith("["):
            try:
                items = json.loads(value)
            except ValueError:
                raise BadRequest(f"not a JSON list: {value[:40]}") from None
            found.update(str(item) for item in items)
        else:
            found.add(value)
    return frozenset(found)


class StandIn:
    def __init__(self, clients: Clients, api_key: str, *, trace: bool = False) -> None:
        self.clients = clients
        self.api_key = api_key
        self.trace = trace
        self.logs = Logs()
        self.stats: Counter[tuple[str, str]] = Counter()
        self.stats_lock = threading.Lock()

    def count(self, method: str, path: str) -> None:
        resource = path.strip("/").split("/")[0]
        with self.stats_lock:
            self.stats[method, f"/{resource}"] += 1

    def list_clients(self, base: str, path: str, query: dict[str, list[str]]) -> bytes:
        def one(name: str, default: str) -> str:
            return query.get(name, [default])[-1]

        try:
            page = max(1, int(one("page", "1")))
            asked = int(one("per_page", str(DEFAULT_PER_PAGE)))
        except ValueError:
            raise BadRequest("page and per_page must be integers") from None
        per_page = min(max(asked, 1), MAX_PER_PAGE)

        field, descending = "_id", False
        if "sortBy" in query:
            try:
                sort_by = json.loads(one("sortBy", "[]"))
                first = sort_by[0] if isinstance(sort_by, list) and sort_by else sort_by
                field = str(first.get("field", "_id"))
                descending = str(first.get("type", "asc")).lower() in ("desc", "dsc", "-1")
            except (ValueError, AttributeError, TypeError):
                raise BadRequest("sortBy must be JSON [{field, type}]") from None
        elif "sort" in query:
            field = one("sort", "_id")
            descending = one("sortPageOrder", "asc") == "dsc"
        if field not in ("_id", "updatedAt", "createdAt"):
            raise BadRequest(f"cannot sort by {field}")

        filters: list[tuple[str, Any]] = []
        for name in ("from_updatedAt", "to_updatedAt", "from_createdAt", "to_createdAt"):
            if name in query:
                filters.append((name, parse_ms(name, query[name])))
        if "to__id" in query:
            filters.append(("to__id", one("to__id", "")))
        for name in ("_id", "client_code", "integration_meta.id"):
            values = query.get(name, []) + query.get(f"{name}[]", [])
            if values:
                filters.append((name, list_values(values)))
        if "disabled" in query:
            filters.append(("disabled", one("disabled", "false").lower() in ("true", "1")))
        selected = self.clients.select(field, descending, tuple(filters))

        start = 0
        if "from__id" in query:
            after = one("from__id", "")
            ids = self.clients.ids
            if field != "_id":
                selected = [n for n in selected if ids[n] > after]
            elif descending:
                # Descending ids: keep those greater than the bound, i.e. a prefix.
                start, end = 0, bisect.bisect_left(selected, True, key=lambda n: ids[n] <= after)
                selected = selected[start:end]
            else:
                start = bisect.bisect_right(selected, after, key=lambda n: ids[n])

        total = len(selected) - start
        total_pages = math.ceil(total / per_page) if total else 0
        offset = start + (page - 1) * per_page
        chosen = selected[offset : offset + per_page] if offset < len(selected) else []
        blobs = self.clients.blobs

        def url(number: int | None) -> str | None:
            if number is None:
                return None
            params = {key: values[-1] for key, values in query.items()}
            params.update(page=str(number), per_page=str(per_page))
            return f"{base}{path}?{urlencode(params)}"

        envelope = {
            "total_result": total,
            "current_count": len(chosen),
            "total_pages": total_pages,
            "current_page": page,
            "per_page": per_page,
            "first_page_url": url(1),
            "last_page_url": url(max(total_pages, 1)),
            "next_page_url": url(page + 1 if page < total_pages else None),
            "prev_page_url": url(page - 1 if page > 1 else None),
            "path": f"{base}{path}",
        }
        head = json.dumps(envelope, separators=(",", ":"))[:-1].encode()
        return b"".join((head, b',"data":[', b",".join(blobs[n] for n in chosen), b"]}"))


def make_handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "repzo-standin/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, body: bytes | dict[str, Any] | list[Any]) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)  # adds Date and Server
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                raise BadRequest("the body is not JSON") from None

        def handle_any(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"
            query = parse_qs(parts.query, keep_blank_values=True)
            try:
                if path.startswith("/__standin/"):
                    self.admin(method, path)
                    return
                standin.count(method, path)
                if standin.trace:
                    print(f"{method} {self.path}", file=sys.stderr, flush=True)
                if self.headers.get("api-key") != standin.api_key:
                    self.answer(401, {"message": "Unauthorized", "status": 401})
                    return
                self.route(method, path, query)
            except BadRequest as error:
                self.answer(400, {"message": str(error), "status": 400})

        def route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
            segments = path.strip("/").split("/")
            resource, rest = segments[0], segments[1:]
            host = self.headers.get("Host", "127.0.0.1")
            if resource == "client" and method == "GET" and not rest:
                self.answer(200, standin.list_clients(f"http://{host}", path, query))
            elif resource == "client" and method == "GET" and len(rest) == 1:
                found = standin.clients.by_id.get(rest[0])
                if found is None:
                    self.answer(404, {"message": "Client not found", "status": 404})
                else:
                    self.answer(200, standin.clients.blobs[found])
            elif resource == "integration-app" and method == "GET" and len(rest) == 1:
                self.answer(200, self.app(rest[0], query))
            elif resource in ("integration-command-log", "integration-action-log") and not rest:
                kind = resource.split("-")[1]
                if method == "POST":
                    body = self.body()
                    if not isinstance(body, dict):
                        raise BadRequest("a log is a JSON object")
                    self.answer(*standin.logs.save(kind, body))
                elif method == "GET":
                    wanted = query.get("sync_id", [None])[-1]
                    with standin.logs.lock:
                        docs = [
                            d
                            for d in standin.logs.documents[kind].values()
                            if wanted is None or d["sync_id"] == wanted
                        ]
                    self.answer(200, page_of(docs))
                else:
                    self.answer(405, {"message": "Method not allowed", "status": 405})
            else:
                self.answer(404, {"message": f"Cannot {method} {path}", "status": 404})

        def app(self, app_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
            populated = "available_app" in "".join(query.get("populatedKeys", []))
            available: Any = AVAILABLE_APP_ID
            if populated:
                available = {"_id": AVAILABLE_APP_ID, "name": "repzo-sync", "disabled": False}
            return {
                "_id": app_id,
                "name": "repzo-sync",
                "disabled": False,
                "available_app": available,
                "formData": {},
                "options_formData": {},
                "company_namespace": [NAMESPACE],
                "createdAt": "2024-01-01T00:00:00.000Z",
                "updatedAt": "2024-01-01T00:00:00.000Z",
                "__v": 0,
            }

        def admin(self, method: str, path: str) -> None:
            if path == "/__standin/stats" and method == "GET":
                with standin.stats_lock:
                    rows = [
                        {"method": m, "path": p, "count": c} for (m, p), c in standin.stats.items()
                    ]
                self.answer(200, {"requests": rows, "clients": len(standin.clients.ids)})
            elif path == "/__standin/stats/reset" and method == "POST":
                self.body()
                with standin.stats_lock:
                    standin.stats.clear()
                self.answer(200, {"ok": True})
            else:
                self.answer(404, {"message": "unknown admin path"})

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_POST(self) -> None:
            self.handle_any("POST")

        def do_PUT(self) -> None:
            self.handle_any("PUT")

        def do_DELETE(self) -> None:
            self.handle_any("DELETE")

    return Handler


def page_of(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "total_result": len(documents),
        "current_count": len(documents),
        "total_pages": 1 if documents else 0,
        "current_page": 1,
        "per_page": max(len(documents), 1),
        "next_page_url": None,
        "prev_page_url": None,
        "data": documents,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--trace", action="store_true", help="print each request on stderr")
    args = parser.parse_args()

    clients = Clients(args.clients, now_ms=int(time.time() * 1000))
    standin = StandIn(clients, args.api_key, trace=args.trace)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(standin))
    server.daemon_threads = True
    server.request_queue_size = 64

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
