"""The ERP stub connector: talks to the stand-in ERP served by ``syncer sandbox erp``."""

from connectors.erp_stub.connector import ErpStubConnector
from connectors.erp_stub.settings import ErpStubSettings

__all__ = ["ErpStubConnector", "ErpStubSettings"]
