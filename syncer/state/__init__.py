"""The state store: cursors, id map, runs, dead letters, boundary records, outbox and leases."""

from syncer.state.store import (
    StateStore,
    StoreInfo,
    downgrade_store,
    inspect_store,
    open_store,
    upgrade_store,
)

__all__ = [
    "StateStore",
    "StoreInfo",
    "downgrade_store",
    "inspect_store",
    "open_store",
    "upgrade_store",
]
