"""Conflicts of two kinds: fields both sides changed, and a key that would overwrite another.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(20), nullable=False, server_default="fields")
        )


def downgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("kind")
