"""The errors syncer raises on purpose, and the exit code each one maps to.

    SyncerError                     base; carries an exit code and a message meant for the user
    +-- ConfigError                 the configuration (or a mapping) is wrong; exit 2
    +-- PluginError                 a connector package could not be loaded; exit 2
    +-- RecordError                 one record cannot be synced (bad value, unresolved reference);
    |                               the engine dead-letters it and goes on
    +-- StateStoreError             the state store cannot be opened or reached; exit 3
    |   +-- StoreSchemaError        the store's schema is not the one this syncer needs; exit 2
    +-- SuspectListing              a complete listing looks incomplete (empty, or it would
    |                               delete more than mirror.max_delete allows); exit 3
    +-- OutOfMemory                 the host could not give syncer the memory it needed; exit 3

Anything else that escapes to the CLI is a bug in syncer and exits 70 with its traceback.
Remote-system failures (fatal / retriable / skippable) live with the HTTP client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from syncer.exit_codes import ExitCode


class SyncerError(Exception):
    """Base of every error syncer raises deliberately; its message is written for the user."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a configuration or mapping file, located as precisely as we can."""

    file: str
    line: int | None
    """1-based line, or None when the problem is not tied to a place in the file."""
    path: str
    """Key path inside the document, e.g. ``flows[1].schedule.every``; empty for the whole file."""
    message: str
    """What was expected (and, when it is not secret, what was found)."""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(SyncerError):
    """The configuration is invalid. Holds every issue found in one pass."""

    exit_code = ExitCode.BAD_CONFIG

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration:"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in self.issues)]))


class PluginError(SyncerError):
    """A connector registered under the ``syncer.connectors`` entry point could not be loaded."""

    exit_code = ExitCode.BAD_CONFIG

    def __init__(self, name: str, target: str, reason: str) -> None:
        self.name = name
        self.target = target
        super().__init__(f"connector type {name!r} ({target}) could not be loaded: {reason}")


class StateStoreError(SyncerError):
    """The state store cannot be opened or reached."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        """The store URL with any password hidden."""
        self.reason = reason
        super().__init__(f"state store {url}: {reason}")


class StoreSchemaError(StateStoreError):
    """The store's schema revision is not the one this version of syncer runs on."""

    exit_code = ExitCode.BAD_CONFIG

    def __init__(self, url: str, reason: str, current: str | None, expected: str) -> None:
        self.current = current
        self.expected = expected
        super().__init__(url, reason)


class RecordError(SyncerError):
    """One record cannot be synced; the run goes on and the record becomes a dead letter."""

    exit_code = ExitCode.DEAD_LETTERS

    def __init__(
        self, reason: str, *, record_key: str | None = None, field: str | None = None
    ) -> None:
        self.reason = reason
        self.record_key = record_key
        """The record's native id (or file:line), when known."""
        self.field = field
        """The canonical field (or native path) at fault, when there is one."""
        where = ", ".join(
            part
            for part in (
                f"record {record_key}" if record_key else "",
                f"field {field}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)


class SuspectListing(SyncerError):
    """A complete listing of a source that looks broken rather than emptied: it is empty while
    the source had records, or mirroring it would disable more than ``mirror.max_delete``.
    Nothing is disabled; a person decides (``--allow-mass-delete``)."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(
        self, message: str, *, flow: str, source: str, listed: int, present: int, deleting: int
    ) -> None:
        super().__init__(message)
        self.flow = flow
        self.source = source
        """``connector.stream`` of the listing."""
        self.listed = listed
        self.present = present
        """Records of the source that were live before this listing."""
        self.deleting = deleting


class OutOfMemory(SyncerError):
    """The machine could not give syncer the memory a step needed. Not a user mistake and not
    a bug to report with a traceback: a resource of this host ran out; exit 3 like any system
    syncer cannot use."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, doing: str) -> None:
        super().__init__(
            f"syncer ran out of memory while {doing}: nothing was committed past the last "
            f"checkpoint, so the next run goes on from there. Give the process more memory, or "
            f"lower the flow's batch_size or the source connector's page_size; a record with a "
            f"field of many megabytes needs that much memory at least"
        )
        self.doing = doing
