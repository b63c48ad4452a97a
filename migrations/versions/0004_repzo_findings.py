"""Findings of `syncer repzo probe`: facts about a Repzo API, with their evidence.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "repzo_findings",
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("fact", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("probed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("connector", "fact", name=op.f("pk_repzo_findings")),
    )


def downgrade() -> None:
    op.drop_table("repzo_findings")
