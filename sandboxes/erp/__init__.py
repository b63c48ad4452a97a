"""A stand-in ERP on loopback, with the conventions of the ERPs Repzo customers run (SAP
Business One, Odoo, QuickBooks) rather than Repzo's: Basic auth, ids like ``C-00042``, money as
decimal strings, local-offset timestamps, keyset cursors, documents idempotent on their number.

Used by the demo and the end-to-end tests, and by users through ``syncer sandbox erp``. The
record shapes are the ones ``mappings/erp_stub/*.yaml`` read and write.
"""

from sandboxes.erp.admin import ADMIN_PREFIX
from sandboxes.erp.core import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    PASSWORD_ENV,
    ErpCore,
    MutationResult,
)
from sandboxes.erp.entities import ENTITIES, EntitySpec
from sandboxes.erp.errors import ErpError
from sandboxes.erp.localtime import DEFAULT_UTC_OFFSET, LocalTime
from sandboxes.erp.mutate import MUTATIONS
from sandboxes.erp.query import DEFAULT_LIMIT, MAX_LIMIT
from sandboxes.erp.seeding import SeedSizes, parse_sizes
from sandboxes.erp.server import ErpStub
from sandboxes.erp.service import API_PREFIX
from sandboxes.erp.stats import ErpStats, RequestCount

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
