"""Settings of a ``type: erp_stub`` connector."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr

from syncer.config.models import ConnectorSettings, HttpConnectorSettings


class ErpStubSettings(HttpConnectorSettings, ConnectorSettings):
    type: Literal["erp_stub"] = "erp_stub"
    base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8765")
    username: str
    password: SecretStr
    """Basic-auth password of the ERP's API user."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """Records asked for per list request (the stub answers at most 1000)."""
