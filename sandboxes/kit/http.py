"""The HTTP plumbing both sandbox servers share: a threading server that can stop in
milliseconds, a quiet JSON request handler, and the start/stop life cycle of a server on a
background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

from sandboxes.kit.replies import Reply
from syncer.logs import get_logger

log = get_logger(__name__)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its open connections, so stopping it does not wait for
    idle keep-alive connections to time out."""

    daemon_threads = True
    allow_reuse_address = True
    log_name: ClassVar[str] = "sandbox"

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)
        host, port = self.socket.getsockname()[:2]
        self.authority = f"{host}:{port}"
        """``host:port`` actually bound (the OS picks the port when 0 was asked for)."""

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads parked on idle keep-alive connections, so stopping (which
        waits for them) takes milliseconds rather than the idle timeout."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug(f"{self.log_name}.connection_error", client=str(client_address), exc_info=True)


class JsonRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no Nagle delay, no request-line logging, JSON replies."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this long

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm the second would wait
        # for the client's delayed ACK, adding ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        # Requests are counted in the stats instead; a line per request would drown the demo
        # and dominate a benchmark.
        return

    def write_reply(self, reply: Reply, *, truncate: bool = False) -> None:
        """Send ``reply``; ``truncate`` promises the full Content-Length and sends half."""
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
            self.abort()
        else:
            self.wfile.write(payload)

    def abort(self) -> None:
        """Close the connection as a crashed server or a cut network would: no more bytes."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class BackgroundServer:
    """Runs a LoopbackHTTPServer on a daemon thread: ``start``/``stop``, ``url``/``port`` and
    use as a context manager. Subclasses say how to build their server."""

    server_label: ClassVar[str] = "sandbox"

    def _init_listener(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self, address: tuple[str, int]) -> LoopbackHTTPServer:
        raise NotImplementedError

    def _release(self) -> None:
        """What ``close`` frees beyond the listener (the subclass's store)."""

    @property
    def url(self) -> str:
        """``http://host:port``, what a connector's ``base_url`` takes."""
        if self._server is None:
            raise RuntimeError(f"the {self.server_label} is not running; call start() first")
        return f"http://{self._server.authority}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = self._make_server(self._address)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.server_label,
            daemon=True,
        )
        self._thread.start()
        log.debug("sandbox.started", server=self.server_label, url=self.url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        log.debug("sandbox.stopped", server=self.server_label)

    def close(self) -> None:
        self.stop()
        self._release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
