"""A stand-in Repzo API on loopback: every registry resource served from its own store with
Repzo's semantics, plus fault injection, a controllable clock and request statistics.

Used by the demo and the end-to-end tests, and by users through ``syncer sandbox repzo``.

It is as strict as Repzo's official SDK by default, because a server kinder than Repzo hides a
client's mistakes: a list parameter the SDK does not name for that resource is a 400 (ranges
and ``sortBy``/``from__id`` included), a list asked for no order comes newest first, a page holds
at most 100 records (a larger ``per_page`` is served at 100 and the reply says so), a body field
the SDK's create or update body does not name is a 400, as is a missing required field (the
logs' ``app_id`` included), and ``update-integration-meta`` takes only the ``type`` values the
SDK uses. ``lenient=True`` (``--lenient``) brings back the forgiving behaviour for experiments:
unknown parameters as filters, ``_id`` order, 50,000 records a page, any body, a guessed type.
See ``SandboxOptions`` for the single switches.
"""

from sandboxes.kit.clock import SandboxClock
from sandboxes.kit.faults import (
    FaultKind,
    FaultPlan,
    FaultRule,
    FaultSettings,
    LatencyRule,
    ScriptedFault,
)
from sandboxes.repzo.admin import ADMIN_PREFIX
from sandboxes.repzo.core import SandboxCore
from sandboxes.repzo.mutations import PagingMutation
from sandboxes.repzo.options import (
    DEFAULT_API_KEY,
    LENIENT_MAX_PER_PAGE,
    STRICT_MAX_PER_PAGE,
    SandboxOptions,
)
from sandboxes.repzo.server import RepzoSandbox
from sandboxes.repzo.stats import RequestCount, Stats

__all__ = [
    "ADMIN_PREFIX",
    "DEFAULT_API_KEY",
    "LENIENT_MAX_PER_PAGE",
    "STRICT_MAX_PER_PAGE",
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
