"""Tables of the state store.

Every table exists for one of the invariants in the design brief; the docstring of each says
which. Schema changes go through Alembic migrations in ``migrations/`` (a test checks that these
models and the migrations produce the same schema).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from syncer.state.base import Base, BigId, RedactedJSON, RedactedString, RedactedText, utcnow

NAME = 100
"""Length of connector and flow names (the configuration caps them at 100 characters)."""
HASH = 64
"""A hex SHA-256 content hash."""


class Cursor(Base):
    """Where each flow's incremental read of its source stands (invariants 1 and 2).

    ``value`` is kept exactly as the source rendered it and ``value_utc`` parsed, so comparisons
    are done on aware UTC while the source always gets back the string it understands. The stored
    watermark only moves forward and never past the upper bound fixed before the scan; ``scan``
    holds the position inside a scan in progress, so a crash resumes where the last page ended.
    """

    __tablename__ = "cursors"

    flow: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    connector: Mapped[str] = mapped_column(String(NAME))
    """Source connector the cursor belongs to; a flow pointed at another source starts afresh."""
    stream: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    """``updated_at``, ``id`` (append-only streams), ``token`` (opaque) or ``fingerprint``
    (files)."""
    value: Mapped[str | None] = mapped_column(Text)
    value_utc: Mapped[datetime | None]
    tiebreak_id: Mapped[str | None] = mapped_column(String(255))
    """Last native id read at ``value``: the second half of the compound (updatedAt, _id) cursor."""
    scan: Mapped[dict[str, Any] | None]
    """A scan in progress: its frozen upper bound and the position of the last committed page."""
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    """Lease fence of the writer that committed this value: a stale replica cannot overwrite it."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdMapEntry(Base):
    """Links a record's native id in one connector stream to the canonical id shared by every
    system (invariants 1, 3 and 4).

    One row per (canonical record, connector stream). It also keeps, per side, the hash and the
    snapshot of the canonical fields as last synced, and the hash of what the engine itself last
    wrote there: a record read back with that hash is our own echo and is not sent back.
    """

    __tablename__ = "id_map"
    __table_args__ = (
        # The entity belongs to the key: one native record may be the source of records of
        # several entities (an invoice with return items is also a credit note).
        UniqueConstraint("connector", "stream", "entity", "native_id"),
        UniqueConstraint("entity", "canonical_id", "connector", "stream"),
        Index(None, "connector", "stream", "natural_key"),
        # Look-ups by canonical id use the unique key above: it begins with (entity,
        # canonical_id). A second index on them would double the cost of every insert.
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(64))
    canonical_id: Mapped[str] = mapped_column(String(36))
    connector: Mapped[str] = mapped_column(String(NAME))
    stream: Mapped[str] = mapped_column(String(200))
    native_id: Mapped[str] = mapped_column(String(255))
    natural_key: Mapped[str | None] = mapped_column(String(255))
    """A business key that finds the record without its id (a code, a document serial number),
    used to look a document up before creating it so a crash can never duplicate it."""
    content_hash: Mapped[str | None] = mapped_column(String(HASH))
    """Hash of the mapped canonical fields as last synced on this side."""
    snapshot: Mapped[dict[str, Any] | None]
    """The mapped canonical fields as last synced on this side, for per-field conflict rules."""
    written_hash: Mapped[str | None] = mapped_column(String(HASH))
    """Hash of what the engine last wrote to this side (echo detection)."""
    origin: Mapped[str | None] = mapped_column(String(NAME))
    """Who made the last change known on this side: null for the system itself, else the flow."""
    native_updated_at: Mapped[str | None] = mapped_column(String(64))
    """The side's own last-modified stamp for the synced version, verbatim."""
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_run: Mapped[str | None] = mapped_column(String(36))
    """The last run whose complete listing of the source included this record: mirror mode
    disables, in the target, what a complete listing no longer has."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Run(Base):
    """One execution of one flow, with its outcome and counts (``syncer status``, Repzo logs)."""

    __tablename__ = "runs"
    __table_args__ = (
        Index(None, "flow", "started_at"),
        Index(None, "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(20), default="sync")
    """``sync`` (scheduled or ``syncer sync``), ``backfill``, ``retry`` (dead letters only)."""
    status: Mapped[str] = mapped_column(String(20), default="running")
    """``running``, ``succeeded``, ``partial`` (finished with dead letters), ``failed``,
    ``stopped`` or ``interrupted`` (its process died; closed by the next run on the host)."""
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    read: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Added after the first release: rows that were there then read 0 (as a new store has it)."""
    error: Mapped[str | None] = mapped_column(RedactedText)
    """Why the run failed or stopped; secrets are masked as it is stored."""
    cursor_before: Mapped[str | None] = mapped_column(Text)
    cursor_after: Mapped[str | None] = mapped_column(Text)
    sync_id: Mapped[str | None] = mapped_column(String(64))
    """``sync_id`` of the Repzo integration command log that mirrors this run."""
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


class DeadLetter(Base):
    """A record that could not be synced, kept until it succeeds or a person drops it
    (invariant 5). The cursor moves on; later runs retry due dead letters with backoff."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("flow", "record_key"),
        Index(None, "flow", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(NAME))
    connector: Mapped[str] = mapped_column(String(NAME))
    stream: Mapped[str] = mapped_column(String(200))
    record_key: Mapped[str] = mapped_column(String(255))
    """The source record's native id, or ``file:line`` for a row that has none."""
    payload: Mapped[dict[str, Any] | None] = mapped_column(RedactedJSON)
    """The native source record as read: a retry must not depend on the source still having it.
    Secrets are masked in it, as in every text of the row."""
    reason: Mapped[str] = mapped_column(RedactedText)
    error_kind: Mapped[str] = mapped_column(String(40))
    """``mapping``, ``validation`` (the target refused it), ``reference`` (waiting for another
    record), ``remote`` (the target kept failing)."""
    field: Mapped[str | None] = mapped_column(RedactedString(255))
    status_code: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """``pending``, ``resolved`` (a later attempt succeeded) or ``dropped`` (by a person)."""
    first_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    run_id: Mapped[str | None] = mapped_column(String(36))


class BoundaryRecord(Base):
    """Records already read at exactly the stored watermark (invariant 2).

    The next scan re-reads the watermark instant (the filter may be inclusive or not) and drops
    these by (id, hash); a changed record at the same instant has a new hash and goes through.
    Kept as rows, not a growing blob, and cleared whenever the watermark moves on.
    """

    __tablename__ = "boundary_records"

    flow: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(HASH))
    watermark: Mapped[str] = mapped_column(Text)


class OutboxEntry(Base):
    """A pending write of a Repzo integration command or action log.

    Logs go here first and are delivered in order per ``sync_id``, so a Repzo outage delays
    them and never fails a sync or loses a log.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "delivered_at", "next_attempt_at"),
        Index(None, "sync_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(20))
    """``command_log`` or ``action_log``."""
    sync_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(RedactedJSON)
    """The whole log document, as Repzo's SDK would POST it, secrets masked: it is sent from
    here, so what Repzo keeps is masked too."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(RedactedText)
    delivered_at: Mapped[datetime | None]
    parked_at: Mapped[datetime | None]
    """Set when Repzo refused the entry itself (a 4xx): it is kept, with ``last_error``, for a
    person to read, and no longer blocks the entries after it."""


class Lease(Base):
    """Who may work on a (connector credential, stream, direction) right now (invariant 10).

    Claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, kept alive by heartbeats. ``fence``
    grows by one on every new holder, and checkpoints commit only under the fence they were
    started with, so a replica that paused past its lease cannot overwrite newer state.
    """

    __tablename__ = "leases"
    __table_args__ = (Index(None, "expires_at"),)

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    """``host:pid:uuid`` of the replica holding it; null when released."""
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    acquired_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class Conflict(Base):
    """A record changed on both sides of a two-way pair in a way the pair's policy could not
    decide (invariant 4). Listed by ``syncer conflicts list`` until a person resolves it with
    ``syncer conflicts resolve ID --take SIDE``; meanwhile the other fields keep syncing."""

    __tablename__ = "conflicts"
    __table_args__ = (
        Index(None, "status", "detected_at"),
        Index(None, "entity", "canonical_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(NAME))
    """The flow that found it (its source is one side, its target the other)."""
    entity: Mapped[str] = mapped_column(String(64))
    canonical_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20), default="fields", server_default="fields")
    """``fields``: both sides changed the same fields; ``key``: writing the target's key back to
    the source would overwrite a different key already there (another integration's link)."""
    fields: Mapped[dict[str, Any]]
    """Field (or native key path, for ``key``) -> {"<source connector>": value,
    "<target connector>": value, "synced": value}."""
    source: Mapped[str] = mapped_column(String(NAME))
    target: Mapped[str] = mapped_column(String(NAME))
    reason: Mapped[str] = mapped_column(RedactedText)
    status: Mapped[str] = mapped_column(String(20), default="open")
    """``open`` or ``resolved``."""
    resolution: Mapped[str | None] = mapped_column(String(NAME))
    """The side whose values were taken."""
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class RepzoFinding(Base):
    """What ``syncer repzo probe`` found out about a Repzo API where no document says (the page
    size it serves, whether its updatedAt bounds are inclusive...), with the evidence.

    One row per (connector, fact): a later probe replaces the facts it settles, and a probe of
    another ``base_url`` drops the rows of the old one. The engine hands the values to the
    connector when it builds it, so a page-size cap found once holds for every run.
    """

    __tablename__ = "repzo_findings"

    connector: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    fact: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    """The finding as JSON: a number, a word (``yes``, ``rejected``, ``unknown``...) or null."""
    evidence: Mapped[str] = mapped_column(RedactedText)
    """What was asked and what came back, for a person to check; never the API key."""
    base_url: Mapped[str] = mapped_column(Text)
    """The API the fact was probed on, without credentials: it holds only for that one."""
    probed_at: Mapped[datetime] = mapped_column(default=utcnow)
