"""Settings of a ``type: repzo`` connector."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr

from syncer.config.models import ConnectorSettings, HttpConnectorSettings

PRODUCTION_URL = "https://sv.api.repzo.me"
STAGING_URL = "https://staging.sv.api.repzo.me"


class RepzoSettings(HttpConnectorSettings, ConnectorSettings):
    type: Literal["repzo"] = "repzo"
    base_url: AnyHttpUrl = AnyHttpUrl(PRODUCTION_URL)
    """Production by default; the staging URL or a local sandbox for tests."""
    api_key: SecretStr
    """The company's Repzo API key, sent as the ``api-key`` header."""
    namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    """Company namespace used to build ``integration_meta.id`` as ``<namespace>_<key>``."""
    integration_app: str | None = Field(default=None, pattern=r"^[0-9a-f]{24}$")
    """``_id`` of the Repzo integration app that command and action logs belong to."""
    page_size: int = Field(default=500, ge=1, le=50_000)
    """Records requested per list page."""
    write_logs: bool = True
    """Write an integration command log per flow run and an action log per pushed document."""

    def notes(self) -> list[str]:
        if self.write_logs and not self.integration_app:
            return [
                "integration command and action logs are not written: integration_app is not "
                "set. Set it to the _id of the integration app the logs belong to (Repzo lists "
                "the apps at GET /integration-app), or write_logs: false"
            ]
        return []
