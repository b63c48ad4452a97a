"""Starting and stopping a sandbox: ``RepzoSandbox`` is a SandboxCore with an HTTP server on a
background thread.

    with RepzoSandbox(api_key="k") as sandbox:        # port 0 picks a free port
        sandbox.seed("client", 10_000)
        httpx.get(f"{sandbox.url}/client", headers={"api-key": "k"})
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from connectors.repzo.registry import Registry
from connectors.repzo.sandbox.app import SandboxHTTPServer
from connectors.repzo.sandbox.core import SandboxCore
from connectors.repzo.sandbox.options import DEFAULT_API_KEY
from syncer.logs import get_logger

log = get_logger(__name__)


class RepzoSandbox(SandboxCore):
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        namespace: Sequence[str] = ("demo",),
        host: str = "127.0.0.1",
        port: int = 0,
        db: str = ":memory:",
        registry: Registry | None = None,
        **options: Any,
    ) -> None:
        super().__init__(api_key=api_key, namespace=namespace, db=db, registry=registry, **options)
        self._address = (host, port)
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return f"http://{self._server.authority}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return int(self._server.authority.rsplit(":", 1)[1])

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = SandboxHTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="repzo-sandbox",
            daemon=True,
        )
        self._thread.start()
        log.debug("sandbox.started", url=self.url)
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
        log.debug("sandbox.stopped")

    def close(self) -> None:
        self.stop()
        super().close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
