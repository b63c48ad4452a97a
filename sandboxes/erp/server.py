"""Starting and stopping the ERP stub: ``ErpStub`` is an ErpCore with an HTTP server on a
background thread.

    with ErpStub(username="sync", password="pw") as erp:   # port 0 picks a free port
        httpx.get(f"{erp.url}/api/v1/customers", auth=("sync", "pw"))
        erp.mutate(customers=10)                            # {"customers": ["C-00007", ...]}
"""

from __future__ import annotations

from collections.abc import Mapping

from sandboxes.erp.core import DEFAULT_PASSWORD, DEFAULT_USERNAME, ErpCore
from sandboxes.erp.handler import ErpHTTPServer
from sandboxes.erp.localtime import DEFAULT_UTC_OFFSET
from sandboxes.kit.http import BackgroundServer


class ErpStub(BackgroundServer, ErpCore):
    server_label = "ERP stub"

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
        dedupe_documents: bool = True,
    ) -> None:
        """See ErpCore for everything but where to listen."""
        super().__init__(
            username=username,
            password=password,
            db=db,
            utc_offset=utc_offset,
            seed=seed,
            random_seed=random_seed,
            dedupe_documents=dedupe_documents,
        )
        self._init_listener(host, port)

    def _make_server(self, address: tuple[str, int]) -> ErpHTTPServer:
        return ErpHTTPServer(address, self)

    def _release(self) -> None:
        ErpCore.close(self)
