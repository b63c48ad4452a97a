"""The ERP stub connector: talks to the stand-in ERP served by ``syncer sandbox erp``."""

from __future__ import annotations

from typing import ClassVar

from connectors.erp_stub.settings import ErpStubSettings


class ErpStubConnector:
    """Reads and writes the ERP stub's customers, items, price lists and documents."""

    type_name: ClassVar[str] = "erp_stub"
    settings_model: ClassVar[type[ErpStubSettings]] = ErpStubSettings


__all__ = ["ErpStubConnector", "ErpStubSettings"]
