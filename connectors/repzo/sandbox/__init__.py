"""A stand-in Repzo API on loopback: every registry resource served from its own store with
Repzo's semantics, plus fault injection, a controllable clock and request statistics.

Used by the demo and the end-to-end tests, and by users through ``syncer sandbox repzo``.
"""

from connectors.repzo.sandbox.admin import ADMIN_PREFIX
from connectors.repzo.sandbox.core import SandboxCore
from connectors.repzo.sandbox.faults import (
    FaultKind,
    FaultPlan,
    FaultRule,
    FaultSettings,
    LatencyRule,
    ScriptedFault,
)
from connectors.repzo.sandbox.mutations import PagingMutation
from connectors.repzo.sandbox.options import DEFAULT_API_KEY, SandboxOptions
from connectors.repzo.sandbox.server import RepzoSandbox
from connectors.repzo.sandbox.stats import RequestCount, Stats
from connectors.sandboxkit.clock import SandboxClock

__all__ = [
    "ADMIN_PREFIX",
    "DEFAULT_API_KEY",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "FaultSettings",
    "LatencyRule",
    "PagingMutation",
    "RepzoSandbox",
    "RequestCount",
    "SandboxClock",
    "SandboxCore",
    "SandboxOptions",
    "ScriptedFault",
    "Stats",
]
