"""A native record may be the source of records of several entities: the id map's native key
includes the entity.

A Repzo invoice with return items is an invoice (its sale lines) and a credit note (its return
lines); an ERP item is a Repzo product and a Repzo variant. Each pair is linked on its own.

The natural key of rows synced before (their code or document number, from the snapshot) is
filled in, so records can refer to them by it (a payment to the invoice it settles).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NATURAL_KEYS = {
    "customer": "code",
    "rep": "code",
    "tax": "code",
    "category": "code",
    "product": "code",
    "variant": "code",
    "price_list": "code",
    "price_list_item": "code",
    "warehouse": "code",
    "stock_level": "code",
    "invoice": "number",
    "credit_note": "number",
    "payment": "number",
}
"""The canonical entities' natural keys as of this revision."""


def upgrade() -> None:
    with op.batch_alter_table("id_map") as batch:
        batch.drop_constraint("uq_id_map_connector_stream_native_id", type_="unique")
        batch.create_unique_constraint(
            "uq_id_map_connector_stream_entity_native_id",
            ["connector", "stream", "entity", "native_id"],
        )
    _fill_natural_keys()


def _fill_natural_keys() -> None:
    id_map = sa.table(
        "id_map",
        sa.column("id", sa.BigInteger),
        sa.column("entity", sa.String),
        sa.column("natural_key", sa.String),
        sa.column("snapshot", sa.JSON),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(id_map.c.id, id_map.c.entity, id_map.c.snapshot)
            .where(id_map.c.natural_key.is_(None), id_map.c.id > last)
            .order_by(id_map.c.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        for row_id, entity, snapshot in rows:
            name = NATURAL_KEYS.get(entity)
            value = (snapshot or {}).get(name) if name and isinstance(snapshot, dict) else None
            if value not in (None, ""):
                bind.execute(
                    sa.update(id_map)
                    .where(id_map.c.id == row_id)
                    .values(natural_key=str(value)[:255])
                )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("id_map") as batch:
        batch.drop_constraint("uq_id_map_connector_stream_entity_native_id", type_="unique")
        batch.create_unique_constraint(
            "uq_id_map_connector_stream_native_id", ["connector", "stream", "native_id"]
        )
