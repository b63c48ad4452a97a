"""Schema revisions of the state store, through Alembic.

Policy: commands that use the store upgrade an SQLite store on their own (one file, one user) but
refuse a PostgreSQL store that is behind, because other replicas may be running on it: a person
runs ``syncer db upgrade`` once, deliberately.
"""

from __future__ import annotations

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


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


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
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(connection).get_current_revision()
    return SchemaState(current, head_revision(), current is None or current in known_revisions())


def upgrade(connection: Connection, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)
