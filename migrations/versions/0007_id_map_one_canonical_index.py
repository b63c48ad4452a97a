"""The id map's index on (entity, canonical_id) goes: the unique key (entity, canonical_id,
connector, stream) begins with the same columns and serves every look-up by canonical id.

Canonical ids are spread evenly (hashes and random UUIDs), so each index on them is written
at random places: a first sync that inserts 200,000 rows spent about a third of its commits
keeping this duplicate one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_id_map_entity_canonical_id", table_name="id_map")


def downgrade() -> None:
    op.create_index("ix_id_map_entity_canonical_id", "id_map", ["entity", "canonical_id"])
