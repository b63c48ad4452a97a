"""Schema revisions of the state store, through Alembic.

Policy: commands that use the store upgrade an SQLite store on their own (one file, one user) but
refuse a PostgreSQL store that is behind, because other replicas may be running on it: a person
runs ``syncer db upgrade`` once, deliberately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# Alembic is imported where it is used: most commands never touch the schema, and importing it
# is a good part of what starting `syncer` would otherwise cost.
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection


def migrations_dir() -> Path:
    """``migrations/`` sits next to the ``syncer`` package both in a source checkout and in
    site-packages. Found by path rather than imported, so that any other top-level package
    called ``migrations`` (common in web projects) can never shadow ours."""
    here = Path(__file__).resolve().parent.parent.parent / "migrations"
    if not (here / "env.py").is_file():  # pragma: no cover - a broken installation
        raise RuntimeError(f"syncer's migrations are missing from {here}")
    return here


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


_REVISION = re.compile(r'^revision(?:: [^=]+)? = ["\']([^"\']+)["\']', re.MULTILINE)
_DOWN = re.compile(r'^down_revision(?:: [^=]+)? = (?:["\']([^"\']+)["\']|None)', re.MULTILINE)


def revision_chain() -> dict[str, str | None]:
    """Every shipped revision and the one it follows, read from the migration files as text.

    Every command that opens the store checks its revision; importing Alembic and every
    migration module for that would cost a good part of a second and ten MiB. The migrations
    are one straight line, and a test checks this reading against Alembic's own."""
    chain: dict[str, str | None] = {}
    for path in sorted((migrations_dir() / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN.search(text)
        if revision is None or down is None:  # pragma: no cover - a broken installation
            raise RuntimeError(f"cannot read the revision of the migration {path.name}")
        chain[revision.group(1)] = down.group(1)
    return chain


def head_revision() -> str:
    chain = revision_chain()
    followed = set(chain.values())
    heads = [revision for revision in chain if revision not in followed]
    if len(heads) != 1:  # pragma: no cover - the package always ships one line of migrations
        raise RuntimeError(f"expected one head revision among the migrations, found {heads}")
    return heads[0]


def known_revisions() -> set[str]:
    return set(revision_chain())


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: str | None
    """Revision recorded in the store, None for an empty store."""
    head: str
    """Revision this version of syncer needs."""
    known: bool
    """False when the store was migrated by a newer syncer than this one."""

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def behind(self) -> bool:
        return self.known and not self.up_to_date


def schema_state(connection: Connection) -> SchemaState:
    current = current_revision(connection)
    return SchemaState(current, head_revision(), current is None or current in known_revisions())


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the store (Alembic's ``alembic_version`` table), None when
    the store is empty."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:  # pragma: no cover - only branched migrations leave several
        raise RuntimeError(f"the state store records several revisions: {sorted(rows)}")
    return rows[0] if rows else None


VERSION_TABLE = "alembic_version"


def create_empty(connection: Connection) -> bool:
    """Create the schema of an empty database at once, as Alembic's documentation advises for
    a new database: the models' tables, then the head revision recorded. True when it did;
    False (nothing done) when the database holds any table, which only the migrations may
    change.

    Replaying every migration (and importing Alembic and its templates) would cost a first run
    a good part of a second and ten MiB for the same result: a test checks that a store made
    either way has the same tables, columns, indexes and revision."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect

    from syncer.state import models  # every table, registered on the models' metadata

    if inspect(connection).get_table_names():
        return False
    models.IdMapEntry.metadata.create_all(connection)
    version = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=head_revision()))
    return True


def upgrade(connection: Connection, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)
