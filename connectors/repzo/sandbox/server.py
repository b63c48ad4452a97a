"""Starting and stopping a sandbox: ``RepzoSandbox`` is a SandboxCore with an HTTP server on a
background thread.

    with RepzoSandbox(api_key="k") as sandbox:        # port 0 picks a free port
        sandbox.seed("client", 10_000)
        httpx.get(f"{sandbox.url}/client", headers={"api-key": "k"})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.repzo.registry import Registry
from connectors.repzo.sandbox.app import SandboxHTTPServer
from connectors.repzo.sandbox.core import SandboxCore
from connectors.repzo.sandbox.options import DEFAULT_API_KEY
from connectors.sandboxkit.http import BackgroundServer


class RepzoSandbox(BackgroundServer, SandboxCore):
    server_label = "sandbox"

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
        self._init_listener(host, port)

    def _make_server(self, address: tuple[str, int]) -> SandboxHTTPServer:
        return SandboxHTTPServer(address, self)

    def _release(self) -> None:
        SandboxCore.close(self)
