"""The HTTP side: a threading server whose handler reads a request, applies faults, checks the
api-key, routes to the admin API or a registry operation, and writes the JSON reply.

Faults live here because only the handler owns the socket: a dropped connection is closed with
no reply at all, a truncated reply promises its full Content-Length and sends half.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from connectors.repzo.sandbox.admin import handle_admin, is_admin
from connectors.repzo.sandbox.core import SandboxCore
from connectors.repzo.sandbox.faults import Decision
from connectors.repzo.sandbox.protocol import ApiError, Reply, Request
from connectors.repzo.sandbox.service import UPDATE_META_PATH
from connectors.repzo.sandbox.stats import NO_RESPONSE
from connectors.sandboxkit.clock import http_date
from syncer.logs import get_logger

log = get_logger(__name__)

API_KEY_HEADER = "api-key"
UNKNOWN_RESOURCE = "(unknown)"
_MAX_BODY = 64 * 1024 * 1024


def dispatch(core: SandboxCore, request: Request) -> Reply:
    """Answer one Repzo API request (not an admin one): auth, routing, the operation."""
    try:
        if not core.key_matches(request.headers.get(API_KEY_HEADER)):
            raise ApiError(401, "Unauthorized")
        if request.method == "POST" and request.path == UPDATE_META_PATH:
            return core.service.update_integration_meta(request)
        return core.service.handle(core.router.resolve(request.method, request.path), request)
    except ApiError as exc:
        return exc.reply()


def resource_label(core: SandboxCore, method: str, path: str) -> str:
    """The resource a request is counted under in the statistics."""
    if path == UPDATE_META_PATH:
        return UPDATE_META_PATH.strip("/")
    try:
        return core.router.resolve(method, path).resource.name
    except ApiError:
        return UNKNOWN_RESOURCE


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], core: SandboxCore) -> None:
        self.core = core
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, RepzoRequestHandler)
        host, port = self.socket.getsockname()[:2]
        self.authority = f"{host}:{port}"
        """``host:port`` actually bound (the port is chosen by the OS when 0 was asked for)."""

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake the handler threads parked on idle keep-alive connections so a stop is quick."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sandbox.connection_error", client=str(client_address), exc_info=True)


class RepzoRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "repzo-sandbox"
    sys_version = ""
    # Idle keep-alive connections are closed after this long.
    timeout = 120

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm the second would wait
        # for the client's delayed ACK, adding ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    @property
    def _core(self) -> SandboxCore:
        return cast(SandboxHTTPServer, self.server).core

    def date_time_string(self, timestamp: float | None = None) -> str:
        # Clients compare the Date header with record timestamps, so it follows the sandbox clock.
        return http_date(self._core.clock.now_ms())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (unsupported method, malformed request line) would be HTML.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._write(ApiError(code, message or HTTPStatus(code).phrase).reply())

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines go nowhere: they are counted in the stats, and logging them per
        # request would dominate a benchmark.
        return

    def _handle(self) -> None:
        try:
            request = self._read_request()
        except ApiError as exc:
            self.close_connection = True
            self._write(exc.reply())
            return
        try:
            if is_admin(request.path):
                self._write(self._admin(request))
            else:
                self._serve(request)
        except OSError:
            # The client went away mid-reply; nothing left to tell it.
            self.close_connection = True

    def _admin(self, request: Request) -> Reply:
        try:
            return handle_admin(self._core, request)
        except ApiError as exc:
            return exc.reply()

    def _serve(self, request: Request) -> None:
        core = self._core
        label = resource_label(core, request.method, request.path)
        decision = core.faults.decide(request.method, request.path)
        if decision.delay_s:
            core.recorder.fault("latency")
            time.sleep(decision.delay_s)
        if decision.kind is not None:
            core.recorder.fault(decision.kind)
        if decision.kind in ("429", "reject") or (
            decision.kind in ("5xx", "drop") and not decision.after
        ):
            status = self._fail(decision)
        else:
            reply = self._run(request)
            status = reply.status
            if decision.kind == "truncate":
                self._write(reply, truncate=True)
            elif decision.kind is not None:
                status = self._fail(decision)
            else:
                self._write(reply)
        core.recorder.request(request.method, label, status)

    def _run(self, request: Request) -> Reply:
        try:
            return dispatch(self._core, request)
        except Exception as exc:
            # A bug in the sandbox still answers like Repzo's GeneralError, and says what broke.
            log.exception("sandbox.internal_error", method=request.method, path=request.path)
            return ApiError(500, f"Sandbox error: {type(exc).__name__}: {exc}").reply()

    def _fail(self, decision: Decision) -> int:
        """Carry out a 429, 5xx or dropped connection; returns the status to record."""
        if decision.kind == "drop" or decision.status is None:
            self._abort()
            return NO_RESPONSE
        if decision.status == 429:
            message = "Too Many Requests"
        elif decision.status < 500:
            message = "Validation failed: the record was refused (injected by the sandbox)"
        else:
            message = "Injected server error"
        reply = ApiError(decision.status, message).reply()
        if decision.retry_after is not None:
            reply.headers["Retry-After"] = str(decision.retry_after)
        self._write(reply)
        return decision.status

    def _write(self, reply: Reply, *, truncate: bool = False) -> None:
        payload = reply.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if truncate:
            self.wfile.write(payload[: len(payload) // 2])
            self._abort()
        else:
            self.wfile.write(payload)

    def _abort(self) -> None:
        """Close the connection as a crashed server or a cut network would: no more bytes."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_request(self) -> Request:
        parts = urlsplit(self.path)
        path = unquote(parts.path).rstrip("/") or "/"
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        host = headers.get("host") or cast(SandboxHTTPServer, self.server).authority
        return Request(
            method=self.command,
            path=path,
            query=query,
            headers=headers,
            body=self._read_body(headers),
            base_url=f"http://{host}",
        )

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked()
        raw_length = headers.get("content-length", "0") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            raise ApiError(400, f"Invalid Content-Length {raw_length!r}") from None
        if not 0 <= length <= _MAX_BODY:
            raise ApiError(400, f"Content-Length {length} is out of range")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ApiError(400, "Malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                raise ApiError(400, "Request body is too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)
