"""The HTTP side: a threading server whose handler parses a request, routes it, counts it and
writes the JSON reply. Everything it answers, its own protocol errors included, is JSON in the
ERP's error shape.

API requests go through the injected faults (``ErpCore.set_faults``, ``script_fault``), carried
out by the shared ``serve_with_faults``: 429 with Retry-After, 5xx, dropped connections,
truncated replies, latency. Held and dropped answers of applied writes (``hold_answers``,
``drop_answers``) come after them, on a write the ERP applied.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

from sandboxes.erp.core import ErpCore
from sandboxes.erp.entities import ENTITIES
from sandboxes.erp.errors import ErpError
from sandboxes.erp.routes import ApiRequest, Routed, entity_label, is_admin, route
from sandboxes.erp.stats import UNKNOWN_ENTITY
from sandboxes.kit.clock import http_date
from sandboxes.kit.faults import serve_with_faults
from sandboxes.kit.http import JsonRequestHandler, LoopbackHTTPServer
from sandboxes.kit.replies import Reply
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

    @property
    def _core(self) -> ErpCore:
        return cast(ErpHTTPServer, self.server).core

    def _handle(self) -> None:
        core = self._core
        try:
            request = self._read()
        except ErpError as exc:
            # The body may be left unread on the socket: the connection cannot be reused.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.write_reply(exc.reply())
            return
        try:
            if is_admin(request):  # the control API is never faulted, never counted
                self.write_reply(self._route(request).reply)
                return
            label = entity_label(request)
            path = unquote(urlsplit(self.path).path).rstrip("/") or "/"
            serve_with_faults(
                self,
                core.request_faults.decide(request.method, path),
                serve=lambda: self._route(request).reply,
                refusal=_refusal,
                count=lambda status: core.recorder.request(request.method, label, status),
                count_fault=core.recorder.fault,
                answer=lambda reply: self._answered(request.method, label, reply),
            )
        except OSError:
            # The client went away mid-reply; nothing left to tell it.
            self.close_connection = True

    def _route(self, request: ApiRequest) -> Routed:
        try:
            return route(self._core, request)
        except Exception as exc:
            # A bug in the stub still answers in the ERP's shape, and says what broke. The
            # log line carries the method and path only: never headers, so never credentials.
            log.exception("erp_stub.internal_error", method=request.method, path=self.path)
            return Routed(
                ErpError(500, "internal_error", f"ERP stub error: {type(exc).__name__}").reply(),
                UNKNOWN_ENTITY,
            )

    def _answered(self, method: str, entity: str, reply: Reply) -> bool:
        """Whether to send the reply of an applied write, or to drop it as ``drop_answers``
        asked (after holding it, while ``hold_answers`` says so)."""
        if (
            entity in ENTITIES
            and method != "GET"
            and reply.status < 300
            and self._core.faults.after_write(entity) == "drop"
        ):
            self.abort()  # applied, never answered
            return False
        return True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

    def date_time_string(self, timestamp: float | None = None) -> str:
        # Clients take the Date header as the ERP's "now", so it follows the stub's clock.
        return http_date(self._core.clock.now_ms())

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


def _refusal(status: int, message: str) -> Reply:
    """An injected failure in the ERP's error shape (``too_many_requests``, ``bad_gateway``...)."""
    return ErpError(status, HTTPStatus(status).name.lower(), message).reply()
