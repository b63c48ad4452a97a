"""Connector types, discovered through the ``syncer.connectors`` entry-point group.

The shipped connectors (repzo, csv, erp_stub) register exactly like a third-party package would,
so the engine never holds a list of connectors: adding an ERP means installing a package whose
``pyproject.toml`` says ``[project.entry-points."syncer.connectors"] myerp = "pkg:MyErpConnector"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

from syncer.config.models import ConnectorSettings, SyncerConfig
from syncer.errors import PluginError

if TYPE_CHECKING:
    from syncer.connector import Connector

ENTRY_POINT_GROUP = "syncer.connectors"


class ConnectorType(Protocol):
    """What the engine needs from a connector class before it builds one."""

    type_name: ClassVar[str]
    """The ``type:`` users write in the configuration; equals the entry-point name."""
    settings_model: ClassVar[type[ConnectorSettings]]
    """Validates the connector's block in the configuration."""


@cache
def connector_types() -> Mapping[str, type[ConnectorType]]:
    """Load every registered connector type once per process."""
    found: dict[str, type[ConnectorType]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:
            raise PluginError(ep.name, ep.value, f"{type(exc).__name__}: {exc}") from exc
        settings = getattr(loaded, "settings_model", None)
        if not (isinstance(settings, type) and issubclass(settings, ConnectorSettings)):
            raise PluginError(
                ep.name, ep.value, "it has no settings_model (a ConnectorSettings subclass)"
            )
        if getattr(loaded, "type_name", None) != ep.name:
            raise PluginError(
                ep.name,
                ep.value,
                f"its type_name is {getattr(loaded, 'type_name', None)!r}, "
                f"but it is registered as {ep.name!r}",
            )
        found[ep.name] = loaded
    return dict(sorted(found.items()))


def create_connector(name: str, config: SyncerConfig) -> Connector:
    """Build the connector called ``name`` in the configuration."""
    settings = config.connectors[name]
    factory = cast(
        "Callable[[str, ConnectorSettings], Connector]", connector_types()[settings.type]
    )
    return factory(name, settings)


def can_connect(name: str, config: SyncerConfig) -> bool:
    """Whether this connector type implements the full connector protocol yet."""
    return hasattr(connector_types()[config.connectors[name].type], "check")
