"""Settings of a ``type: erp_stub`` connector."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, SecretStr

from syncer.config.models import ConnectorSettings, HttpConnectorSettings


class ErpStubSettings(HttpConnectorSettings, ConnectorSettings):
    type: Literal["erp_stub"] = "erp_stub"
    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8765")
    username: str
    password: SecretStr
    """Basic-auth password of the ERP's API user."""
