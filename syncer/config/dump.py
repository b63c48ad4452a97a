"""Write a validated configuration back out as plain data (``syncer check --show-config``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePath
from typing import Any

from pydantic import AnyUrl, BaseModel, SecretStr

from syncer.config import state_url
from syncer.config.models import SyncerConfig, secret_values
from syncer.config.types import DeleteLimit, format_duration
from syncer.logs import MASK, redact_url, redact_value, register_secrets


def dump_config(config: SyncerConfig, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """The effective configuration, defaults filled in. Secrets are masked unless asked for;
    with ``reveal_secrets`` the result loads back into an equal configuration."""
    data: dict[str, Any] = _plain(config, reveal_secrets)
    if reveal_secrets:
        return data
    data["state"]["url"] = state_url.display(config.state.url)
    # Besides the settings typed as secrets: every configured secret wherever it sits (in a
    # connector's URL, from a ${PASSWORD} variable) and settings named like credentials.
    register_secrets(secret_values(config))
    masked: dict[str, Any] = redact_value(data)
    return masked


def _plain(value: Any, reveal: bool) -> Any:
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name), reveal) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {key: _plain(item, reveal) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, reveal) for item in value]
    if isinstance(value, SecretStr):
        return value.get_secret_value() if reveal else MASK
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, AnyUrl):
        return str(value) if reveal else redact_url(str(value))
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, DeleteLimit):
        return value.as_config()
    return value
