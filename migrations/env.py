"""Alembic environment: runs on the connection syncer hands over, or on $SYNCER_STATE_URL when
a developer runs the ``alembic`` command directly (``alembic revision --autogenerate``)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from syncer.state.database import create_database
from syncer.state.models import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    url = os.environ.get("SYNCER_STATE_URL", "sqlite:///syncer.db")
    engine = create_database(url)
    with engine.connect() as conn:
        run_on(conn)
    engine.dispose()
