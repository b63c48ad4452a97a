"""Conflicts review list; last complete listing per id-map row (mirror mode); conflict counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "conflicts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("canonical_id", sa.String(36), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("resolution", sa.String(100), nullable=True),
        sa.Column("detected_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    op.create_index(op.f("ix_conflicts_status_detected_at"), "conflicts", ["status", "detected_at"])
    op.create_index(op.f("ix_conflicts_entity_canonical_id"), "conflicts", ["entity", "canonical_id"])
    with op.batch_alter_table("id_map") as batch:
        batch.add_column(sa.Column("last_seen_run", sa.String(36), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("conflicts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("conflicts")
    with op.batch_alter_table("id_map") as batch:
        batch.drop_column("last_seen_run")
    op.drop_table("conflicts")
