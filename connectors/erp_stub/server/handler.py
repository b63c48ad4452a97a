"""The HTTP side: a threading server whose handler parses a request, routes it, counts it and
writes the JSON reply. Everything it answers, its own protocol errors included, is JSON in the
ERP's error shape.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

from connectors.erp_stub.server.core import ErpCore
from connectors.erp_stub.server.entities import ENTITIES
from connectors.erp_stub.server.errors import ErpError
from connectors.erp_stub.server.routes import ApiRequest, Routed, route
from connectors.erp_stub.server.stats import UNKNOWN_ENTITY
from connectors.sandboxkit.clock import http_date
from connectors.sandboxkit.http import JsonRequestHandler, LoopbackHTTPServer
from syncer.logs import get_logger

log = get_logger(__name__)

_MAX_BODY = 16 * 1024 * 1024


class ErpHTTPServer(LoopbackHTTPServer):
    log_name = "erp_stub"

    def __init__(self, address: tuple[str, int], core: ErpCore) -> None:
        self.core = core
        super().__init__(address, ErpRequestHandler)


class ErpRequestHandler(JsonRequestHandler):
    server_version = "erp-stub"

    def _handle(self) -> None:
        core = cast(ErpHTTPServer, self.server).core
        try:
            request = self._read()
        except ErpError as exc:
            # The body may be left unread on the socket: the connection cannot be reused.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.write_reply(exc.reply())
            return
        try:
            routed = route(core, request)
        except Exception as exc:
            # A bug in the stub still answers in the ERP's shape, and says what broke. The
            # log line carries the method and path only: never headers, so never credentials.
            log.exception("erp_stub.internal_error", method=request.method, path=self.path)
            routed = Routed(
                ErpError(500, "internal_error", f"ERP stub error: {type(exc).__name__}").reply(),
                UNKNOWN_ENTITY,
            )
        if routed.entity is not None:
            core.recorder.request(request.method, routed.entity, routed.reply.status)
        if (
            routed.entity in ENTITIES
            and request.method != "GET"
            and routed.reply.status < 300
            and core.faults.after_write(routed.entity) == "drop"
        ):
            self.abort()  # applied, never answered
            return
        with contextlib.suppress(OSError):  # the client went away mid-reply
            self.write_reply(routed.reply)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

    def date_time_string(self, timestamp: float | None = None) -> str:
        # Clients take the Date header as the ERP's "now", so it follows the stub's clock.
        return http_date(cast(ErpHTTPServer, self.server).core.clock.now_ms())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (unknown method, malformed request line) would be HTML.
        self.close_connection = True
        phrase = message or HTTPStatus(code).phrase
        with contextlib.suppress(OSError):
            self.write_reply(ErpError(code, HTTPStatus(code).name.lower(), phrase).reply())

    def _read(self) -> ApiRequest:
        parts = urlsplit(self.path)
        segments = tuple(unquote(part) for part in parts.path.split("/") if part)
        return ApiRequest(
            method=self.command,
            segments=segments,
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
            authorization=self.headers.get("Authorization"),
            body=self._read_body(),
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise ErpError(411, "length_required", "Send the body with a Content-Length.")
        raw = self.headers.get("Content-Length", "0") or "0"
        if not raw.strip().isdigit():
            raise ErpError(400, "bad_request", f"Content-Length {raw!r} is not a number.")
        length = int(raw)
        if length > _MAX_BODY:
            raise ErpError(413, "payload_too_large", f"Bodies are limited to {_MAX_BODY} bytes.")
        return self.rfile.read(length) if length else b""
