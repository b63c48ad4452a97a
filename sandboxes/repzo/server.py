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
from sandboxes.kit.http import BackgroundServer
from sandboxes.repzo.app import SandboxHTTPServer
from sandboxes.repzo.core import SandboxCore
from sandboxes.repzo.options import DEFAULT_API_KEY
from syncer.config.models import is_loopback


class SandboxExposed(ValueError):
    """A sandbox asked to listen beyond this machine without an admin token: its admin API
    (reset, seed, faults) would be open to the network."""

    def __init__(self, host: str) -> None:
        super().__init__(
            f"the sandbox would listen on {host}, beyond this machine, with its admin API "
            "(/__sandbox/: reset, seed, faults) open to anyone who can reach it; give an admin "
            "token (--admin-token) or listen on 127.0.0.1"
        )
        self.host = host


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
        admin_token: str | None = None,
        **options: Any,
    ) -> None:
        if not is_loopback(host) and not admin_token:
            raise SandboxExposed(host)
        super().__init__(api_key=api_key, namespace=namespace, db=db, registry=registry, **options)
        self.admin_token = admin_token
        self._init_listener(host, port)

    def _make_server(self, address: tuple[str, int]) -> SandboxHTTPServer:
        return SandboxHTTPServer(address, self)

    def _release(self) -> None:
        SandboxCore.close(self)
