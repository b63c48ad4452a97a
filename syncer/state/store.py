"""Opening the state store: connection, schema check, and the automatic upgrade policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from syncer.errors import StateStoreError, StoreSchemaError
from syncer.logs import get_logger
from syncer.state import migrate
from syncer.state.database import create_database, display_url, normalize_url, sqlite_path
from syncer.state.failures import first_line, store_failure

log = get_logger(__name__)


class StateStore:
    """A connected, schema-checked state store. Use :func:`open_store` to get one."""

    def __init__(self, database: Engine) -> None:
        self.database = database
        """SQLAlchemy's engine: the connection pool to the store's database."""
        self._sessions = sessionmaker(database, expire_on_commit=False)

    @property
    def url(self) -> URL:
        return self.database.url

    @property
    def display_url(self) -> str:
        return display_url(self.database.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.database.dispose()


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What ``syncer check`` can say about a store without changing it."""

    display_url: str
    exists: bool
    schema: migrate.SchemaState | None


def open_store(url: str | URL, *, auto_upgrade: bool = True) -> StateStore:
    """Connect and make sure the schema is the one this syncer runs on.

    An SQLite store that is behind (or new) is upgraded in place when ``auto_upgrade`` is set;
    a PostgreSQL store that is behind is refused with the command that fixes it, because other
    replicas may be using it.
    """
    engine = create_database(url)
    shown = display_url(engine.url)
    try:
        with _connect(engine) as conn:
            state = migrate.schema_state(conn)
            _refuse_unknown(shown, state)
            if state.behind:
                if engine.dialect.name == "sqlite" and auto_upgrade:
                    log.info(
                        "upgrading state store",
                        store=shown,
                        current=state.current,
                        target=state.head,
                    )
                    if state.current is not None or not migrate.create_empty(conn):
                        migrate.upgrade(conn)
                else:
                    raise StoreSchemaError(
                        shown,
                        f"its schema is at revision {state.current or 'none (empty database)'} "
                        f"but this syncer needs {state.head}; run `syncer db upgrade` once (with "
                        f"the daemons stopped) to migrate it",
                        state.current,
                        state.head,
                    )
    except BaseException:
        engine.dispose()
        raise
    return StateStore(engine)


def upgrade_store(url: str | URL, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``revision``; returns the revisions before and after."""
    return _migrate(url, lambda conn: migrate.upgrade(conn, revision))


def downgrade_store(url: str | URL, revision: str) -> tuple[str | None, str | None]:
    """Revert migrations down to ``revision`` (``base`` empties the store)."""
    return _migrate(url, lambda conn: migrate.downgrade(conn, revision))


def inspect_store(url: str | URL) -> StoreInfo:
    """Report a store's schema revision without creating or changing anything."""
    parsed = normalize_url(url)
    shown = display_url(parsed)
    path = sqlite_path(parsed)
    if path is not None and not path.exists():
        return StoreInfo(shown, exists=False, schema=None)
    engine = create_database(parsed)
    try:
        with _connect(engine) as conn:
            return StoreInfo(shown, exists=True, schema=migrate.schema_state(conn))
    finally:
        engine.dispose()


def _migrate(url: str | URL, action: Callable[[Connection], None]) -> tuple[str | None, str | None]:
    engine = create_database(url)
    shown = display_url(engine.url)
    try:
        with _connect(engine) as conn:
            before = migrate.schema_state(conn)
            _refuse_unknown(shown, before)
            action(conn)
            after = migrate.schema_state(conn)
        return before.current, after.current
    finally:
        engine.dispose()


def _refuse_unknown(shown: str, state: migrate.SchemaState) -> None:
    if not state.known:
        raise StoreSchemaError(
            shown,
            f"its schema is at revision {state.current}, which this syncer does not know: it was "
            f"migrated by a newer version of syncer; upgrade syncer to use it",
            state.current,
            state.head,
        )


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    shown = display_url(engine.url)
    path = sqlite_path(engine.url)
    try:
        with engine.begin() as conn:
            yield conn
    except OperationalError as exc:
        reason = first_line(exc)
        if path is not None and not path.parent.exists():
            reason = f"the folder {path.parent} does not exist"
        elif path is not None and path.is_dir():
            reason = f"{path} is a folder; the URL must name a database file (say {path}/syncer.db)"
        raise StateStoreError(shown, f"cannot open it: {reason}") from None
    except DBAPIError as exc:
        # While opening, any database error is the store's: nothing of syncer's has run yet.
        raise store_failure(exc, shown) or StateStoreError(shown, first_line(exc)) from None
