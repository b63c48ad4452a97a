"""Configuration: the models of ``syncer.yaml`` and the loader that validates it."""

from syncer.config.loader import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    load_config,
    resolve_config_path,
)
from syncer.config.models import (
    ConnectorSettings,
    DaemonConfig,
    FlowConfig,
    HttpConnectorSettings,
    LoggingConfig,
    Schedule,
    StateConfig,
    StreamRef,
    SyncerConfig,
    secret_values,
)
from syncer.config.types import Duration

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "ConnectorSettings",
    "DaemonConfig",
    "Duration",
    "FlowConfig",
    "HttpConnectorSettings",
    "LoggingConfig",
    "Schedule",
    "StateConfig",
    "StreamRef",
    "SyncerConfig",
    "load_config",
    "resolve_config_path",
    "secret_values",
]
