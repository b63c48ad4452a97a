"""A stand-in ERP on loopback, with the conventions of the ERPs Repzo customers run (SAP
Business One, Odoo, QuickBooks) rather than Repzo's: Basic auth, ids like ``C-00042``, money as
decimal strings, local-offset timestamps, keyset cursors, documents idempotent on their number.

Used by the demo and the end-to-end tests, and by users through ``syncer sandbox erp``. The
record shapes are the ones ``mappings/erp_stub/*.yaml`` read and write.
"""

from connectors.erp_stub.server.admin import ADMIN_PREFIX
from connectors.erp_stub.server.core import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    PASSWORD_ENV,
    ErpCore,
    MutationResult,
)
from connectors.erp_stub.server.entities import ENTITIES, EntitySpec
from connectors.erp_stub.server.errors import ErpError
from connectors.erp_stub.server.localtime import DEFAULT_UTC_OFFSET, LocalTime
from connectors.erp_stub.server.mutate import MUTATIONS
from connectors.erp_stub.server.query import DEFAULT_LIMIT, MAX_LIMIT
from connectors.erp_stub.server.seeding import SeedSizes, parse_sizes
from connectors.erp_stub.server.server import ErpStub
from connectors.erp_stub.server.service import API_PREFIX
from connectors.erp_stub.server.stats import ErpStats, RequestCount

__all__ = [
    "ADMIN_PREFIX",
    "API_PREFIX",
    "DEFAULT_LIMIT",
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "DEFAULT_UTC_OFFSET",
    "ENTITIES",
    "MAX_LIMIT",
    "MUTATIONS",
    "PASSWORD_ENV",
    "EntitySpec",
    "ErpCore",
    "ErpError",
    "ErpStats",
    "ErpStub",
    "LocalTime",
    "MutationResult",
    "RequestCount",
    "SeedSizes",
    "parse_sizes",
]
