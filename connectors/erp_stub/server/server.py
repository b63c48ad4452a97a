"""Starting and stopping the ERP stub: ``ErpStub`` is an ErpCore with an HTTP server on a
background thread.

    with ErpStub(username="sync", password="pw") as erp:   # port 0 picks a free port
        httpx.get(f"{erp.url}/api/v1/customers", auth=("sync", "pw"))
        erp.mutate(customers=10)                            # {"customers": ["C-00007", ...]}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from connectors.erp_stub.server.core import DEFAULT_PASSWORD, DEFAULT_USERNAME, ErpCore
from connectors.erp_stub.server.handler import ErpHTTPServer
from connectors.erp_stub.server.localtime import DEFAULT_UTC_OFFSET
from syncer.logs import get_logger

log = get_logger(__name__)


class ErpStub(ErpCore):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        db: str = ":memory:",
        utc_offset: str = DEFAULT_UTC_OFFSET,
        seed: bool | Mapping[str, int] = True,
        random_seed: int = 0,
    ) -> None:
        """See ErpCore for everything but where to listen."""
        super().__init__(
            username=username,
            password=password,
            db=db,
            utc_offset=utc_offset,
            seed=seed,
            random_seed=random_seed,
        )
        self._address = (host, port)
        self._server: ErpHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port``, what a connector's ``base_url`` takes."""
        if self._server is None:
            raise RuntimeError("the ERP stub is not running; call start() first")
        return f"http://{self._server.authority}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = ErpHTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="erp-stub",
            daemon=True,
        )
        self._thread.start()
        log.debug("erp_stub.started", url=self.url)
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
        log.debug("erp_stub.stopped")

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
