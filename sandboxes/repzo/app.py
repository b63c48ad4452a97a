"""The HTTP side: a threading server whose handler reads a request, applies faults, checks the
api-key, routes to the admin API or a registry operation, and writes the JSON reply.

Faults are carried out here, through the shared ``serve_with_faults``, because only the handler
owns the socket: a dropped connection is closed with no reply at all, a truncated reply promises
its full Content-Length and sends half.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

from sandboxes.kit.clock import http_date
from sandboxes.kit.faults import serve_with_faults
from sandboxes.kit.http import JsonRequestHandler, LoopbackHTTPServer
from sandboxes.repzo.admin import handle_admin, is_admin
from sandboxes.repzo.core import SandboxCore
from sandboxes.repzo.protocol import ApiError, Reply, Request
from sandboxes.repzo.service import UPDATE_META_PATH
from syncer.logs import get_logger

log = get_logger(__name__)

API_KEY_HEADER = "api-key"
ADMIN_TOKEN_HEADER = "x-sandbox-admin-token"  # noqa: S105  (a header name, not a secret)
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


class SandboxHTTPServer(LoopbackHTTPServer):
    log_name = "sandbox"

    def __init__(self, address: tuple[str, int], core: SandboxCore) -> None:
        self.core = core
        super().__init__(address, RepzoRequestHandler)


class RepzoRequestHandler(JsonRequestHandler):
    server_version = "repzo-sandbox"

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
            self.write_reply(ApiError(code, message or HTTPStatus(code).phrase).reply())

    def _handle(self) -> None:
        try:
            request = self._read_request()
        except ApiError as exc:
            self.close_connection = True
            self.write_reply(exc.reply())
            return
        try:
            if is_admin(request.path):
                self.write_reply(self._admin(request))
            else:
                self._serve(request)
        except OSError:
            # The client went away mid-reply; nothing left to tell it.
            self.close_connection = True

    def _admin(self, request: Request) -> Reply:
        try:
            if not self._core.admin_allowed(request.headers.get(ADMIN_TOKEN_HEADER)):
                raise ApiError(401, f"The admin API needs the {ADMIN_TOKEN_HEADER} header")
            return handle_admin(self._core, request)
        except ApiError as exc:
            return exc.reply()

    def _serve(self, request: Request) -> None:
        core = self._core
        label = resource_label(core, request.method, request.path)
        serve_with_faults(
            self,
            core.faults.decide(request.method, request.path),
            serve=lambda: self._run(request),
            refusal=lambda status, message: ApiError(status, message).reply(),
            count=lambda status: core.recorder.request(request.method, label, status),
            count_fault=core.recorder.fault,
        )

    def _run(self, request: Request) -> Reply:
        try:
            return dispatch(self._core, request)
        except Exception as exc:
            # A bug in the sandbox still answers like Repzo's GeneralError, and says what broke.
            log.exception("sandbox.internal_error", method=request.method, path=request.path)
            return ApiError(500, f"Sandbox error: {type(exc).__name__}: {exc}").reply()

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
