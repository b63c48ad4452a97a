"""Which database errors mean the state store itself failed (exit 3, with what to do) rather
than a bug in syncer's own SQL (exit 70, with the traceback to report).

One table for every place that meets them: opening the store, a run the store fails under, and
the CLI's last line of defence.
"""

from __future__ import annotations

from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    InterfaceError,
    InternalError,
    OperationalError,
)

from syncer.errors import StateStoreError
from syncer.logs import redact

DAMAGED = ("malformed", "not a database", "disk i/o error", "file is encrypted", "corrupt")
"""What SQLite (and PostgreSQL, for ``corrupt``) say when the file or its pages are damaged."""

DAMAGED_ADVICE = (
    "the store is damaged ({reason}). Stop every syncer using it and restore the file from a "
    "backup; see the README, 'A damaged state store'"
)

DriverError = DBAPIError
"""Any error the database driver raised (as SQLAlchemy wraps it): what :func:`store_failure`
sorts into the store's failures and syncer's bugs."""

_STORE_TROUBLE = (OperationalError, InterfaceError, InternalError)
"""Connection lost, server shutting down, disk full, locked: the store, not syncer's SQL."""


def store_failure(error: BaseException, shown: str = "(configured)") -> StateStoreError | None:
    """The error to report for ``error`` when the state store itself failed, else None.

    ``shown`` is the store's URL as it may be shown. Integrity and programming errors are not
    the store's fault: they stay bugs.
    """
    if not isinstance(error, DBAPIError):
        return None
    reason = first_line(error)
    if any(marker in reason.lower() for marker in DAMAGED):
        return StateStoreError(shown, DAMAGED_ADVICE.format(reason=reason))
    # A plain DatabaseError (no subclass) is how the driver reports a file it cannot read.
    if isinstance(error, _STORE_TROUBLE) or type(error) is DatabaseError:
        return StateStoreError(shown, reason)
    return None


def first_line(error: DBAPIError) -> str:
    """The driver's own message, first line only, with secrets masked."""
    text = str(error.orig) if error.orig is not None else str(error)
    text = text.strip()
    return redact(text.splitlines()[0] if text else type(error).__name__)
