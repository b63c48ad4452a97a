"""Initial schema: cursors, id map, runs, dead letters, boundary records, outbox, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations spell their types out rather than importing the application's, so that a later
# change to the models can never rewrite history.
TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("stream", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("value_utc", TIMESTAMP, nullable=True),
        sa.Column("tiebreak_id", sa.String(255), nullable=True),
        sa.Column("scan", sa.JSON(), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("flow", name=op.f("pk_cursors")),
    )

    op.create_table(
        "id_map",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("canonical_id", sa.String(36), nullable=False),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("stream", sa.String(200), nullable=False),
        sa.Column("native_id", sa.String(255), nullable=False),
        sa.Column("natural_key", sa.String(255), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("written_hash", sa.String(64), nullable=True),
        sa.Column("origin", sa.String(100), nullable=True),
        sa.Column("native_updated_at", sa.String(64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_map")),
        sa.UniqueConstraint(
            "connector", "stream", "native_id", name=op.f("uq_id_map_connector_stream_native_id")
        ),
        sa.UniqueConstraint(
            "entity", "canonical_id", "connector", "stream",
            name=op.f("uq_id_map_entity_canonical_id_connector_stream"),
        ),
    )
    op.create_index(
        op.f("ix_id_map_connector_stream_natural_key"), "id_map", ["connector", "stream", "natural_key"]
    )
    op.create_index(op.f("ix_id_map_entity_canonical_id"), "id_map", ["entity", "canonical_id"])

    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cursor_before", sa.Text(), nullable=True),
        sa.Column("cursor_after", sa.Text(), nullable=True),
        sa.Column("sync_id", sa.String(64), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_flow_started_at"), "runs", ["flow", "started_at"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])

    op.create_table(
        "dead_letters",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("stream", sa.String(200), nullable=False),
        sa.Column("record_key", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error_kind", sa.String(40), nullable=False),
        sa.Column("field", sa.String(255), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_failed_at", TIMESTAMP, nullable=False),
        sa.Column("last_failed_at", TIMESTAMP, nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("flow", "record_key", name=op.f("uq_dead_letters_flow_record_key")),
    )
    op.create_index(
        op.f("ix_dead_letters_flow_status_next_attempt_at"),
        "dead_letters",
        ["flow", "status", "next_attempt_at"],
    )

    op.create_table(
        "boundary_records",
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("watermark", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("flow", "record_id", name=op.f("pk_boundary_records")),
    )

    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("sync_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        op.f("ix_outbox_delivered_at_next_attempt_at"), "outbox", ["delivered_at", "next_attempt_at"]
    )
    op.create_index(op.f("ix_outbox_sync_id"), "outbox", ["sync_id"])

    op.create_table(
        "leases",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(255), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", TIMESTAMP, nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_index(op.f("ix_leases_expires_at"), "leases", ["expires_at"])


def downgrade() -> None:
    for table in ("leases", "outbox", "boundary_records", "dead_letters", "runs", "id_map", "cursors"):
        op.drop_table(table)
