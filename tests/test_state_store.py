"""The state store: migrations on SQLite and PostgreSQL, models equal to migrations, and the
upgrade policy (SQLite upgraded automatically, PostgreSQL refused until `syncer db upgrade`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from syncer.errors import StateStoreError, StoreSchemaError
from syncer.exit_codes import ExitCode
from syncer.state import downgrade_store, inspect_store, open_store, upgrade_store
from syncer.state.database import create_database
from syncer.state.migrate import head_revision
from syncer.state.models import Base, Cursor, DeadLetter, IdMapEntry, Run

TABLES = {
    "cursors",
    "id_map",
    "runs",
    "dead_letters",
    "boundary_records",
    "outbox",
    "repzo_findings",
    "leases",
    "conflicts",
}


def tables(url: str) -> set[str]:
    engine = create_database(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_and_downgrade_an_empty_database(store_url):
    assert upgrade_store(store_url) == (None, head_revision())
    assert tables(store_url) == TABLES
    assert upgrade_store(store_url) == (head_revision(), head_revision())  # idempotent
    assert downgrade_store(store_url, "base") == (head_revision(), None)
    assert tables(store_url) == set()
    assert upgrade_store(store_url)[1] == head_revision()  # and up again


def test_models_match_migrations(store_url):
    upgrade_store(store_url)
    engine = create_database(store_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_sqlite_store_is_created_and_upgraded_automatically(sqlite_url, tmp_path):
    store = open_store(sqlite_url)
    try:
        assert tables(sqlite_url) == TABLES
        with store.database.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        store.close()


def test_sqlite_store_behind_is_upgraded_on_open(sqlite_url):
    upgrade_store(sqlite_url)
    downgrade_store(sqlite_url, "base")
    store = open_store(sqlite_url)
    store.close()
    assert inspect_store(sqlite_url).schema.up_to_date  # type: ignore[union-attr]


@pytest.mark.postgres
def test_postgres_store_behind_is_refused_with_the_fix(pg_url):
    with pytest.raises(StoreSchemaError) as caught:
        open_store(pg_url)
    error = caught.value
    assert error.exit_code == ExitCode.BAD_CONFIG
    assert "run `syncer db upgrade`" in error.message
    assert tables(pg_url) == set()  # refused before touching anything
    upgrade_store(pg_url)
    open_store(pg_url).close()


def test_store_from_a_newer_syncer_is_refused(store_url):
    upgrade_store(store_url)
    engine = create_database(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(StoreSchemaError, match="migrated by a newer version of syncer"):
        open_store(store_url)


def test_unreachable_store_is_exit_3():
    with pytest.raises(StateStoreError) as caught:
        open_store("postgresql://syncer:pw-zz9@127.0.0.1:1/nothing")
    assert caught.value.exit_code == ExitCode.UNREACHABLE
    assert "pw-zz9" not in caught.value.message
    assert "127.0.0.1:1" in caught.value.message


def test_missing_sqlite_folder_is_explained(tmp_path):
    with pytest.raises(StateStoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'state.db'}")


def test_inspect_never_creates_a_sqlite_file(tmp_path):
    path = tmp_path / "state.db"
    info = inspect_store(f"sqlite:///{path}")
    assert not info.exists and info.schema is None
    assert not path.exists()


def ready_store(url: str):
    """A migrated store on either backend (PostgreSQL is never upgraded implicitly)."""
    upgrade_store(url)
    return open_store(url)


def test_timestamps_are_utc_aware_on_both_backends(store_url):
    store = ready_store(store_url)
    try:
        plus3 = timezone(timedelta(hours=3))
        started = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=plus3)
        with store.session() as session:
            session.add(Run(id="r1", flow="f", started_at=started))
        with store.session() as session:
            run = session.scalars(select(Run)).one()
            assert run.started_at == started
            assert run.started_at.tzinfo == UTC
            assert run.status == "running" and run.created == 0
        with pytest.raises(StatementError, match="naive datetime"), store.session() as session:
            session.add(Run(id="r2", flow="f", started_at=datetime(2026, 1, 1)))  # noqa: DTZ001
    finally:
        store.close()


def test_id_map_and_dead_letters_enforce_their_keys(store_url):
    store = ready_store(store_url)
    try:
        with store.session() as session:
            session.add(
                IdMapEntry(
                    entity="customer",
                    canonical_id="c1",
                    connector="erp",
                    stream="customers",
                    native_id="C-00042",
                    snapshot={"name": "Ali"},
                )
            )
        # One native record may be the source of records of two entities (an invoice with
        # return items is also a credit note)...
        with store.session() as session:
            session.add(
                IdMapEntry(
                    entity="variant",
                    canonical_id="c1-variant",
                    connector="erp",
                    stream="customers",
                    native_id="C-00042",
                )
            )
        # ...but not of two canonical records of one entity.
        with pytest.raises(IntegrityError), store.session() as session:
            session.add(
                IdMapEntry(
                    entity="customer",
                    canonical_id="c2",
                    connector="erp",
                    stream="customers",
                    native_id="C-00042",
                )
            )
        with store.session() as session:
            session.add(
                DeadLetter(
                    flow="f",
                    connector="erp",
                    stream="customers",
                    record_key="C-1",
                    reason="bad",
                    error_kind="mapping",
                    payload={"id": "C-1"},
                )
            )
        with pytest.raises(IntegrityError), store.session() as session:
            session.add(
                DeadLetter(
                    flow="f",
                    connector="erp",
                    stream="customers",
                    record_key="C-1",
                    reason="again",
                    error_kind="mapping",
                )
            )
        with store.session() as session:
            entry = session.scalars(select(IdMapEntry).where(IdMapEntry.entity == "customer")).one()
            assert entry.snapshot == {"name": "Ali"} and entry.deleted is False
            session.add(
                Cursor(
                    flow="f",
                    connector="erp",
                    stream="customers",
                    kind="updated_at",
                    value="2026-11-29T10:00:00+03:00",
                )
            )
        with store.session() as session:
            assert session.get(Cursor, "f").fence == 0  # type: ignore[union-attr]
    finally:
        store.close()


def test_upgrading_keeps_existing_rows(store_url):
    upgrade_store(store_url, "0001")
    engine = create_database(store_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, flow, kind, status, started_at, read, created, updated, "
                "unchanged, skipped, failed, deleted) VALUES ('r1', 'f', 'sync', 'succeeded', "
                "'2026-11-29 10:00:00', 5, 1, 2, 2, 0, 0, 0)"
            )
        )
    engine.dispose()
    upgrade_store(store_url)
    store = open_store(store_url)
    try:
        with store.session() as session:
            run = session.get(Run, "r1")
            assert run is not None and run.read == 5 and run.conflicts == 0
    finally:
        store.close()


def test_upgrading_to_entity_keys_fills_in_natural_keys(store_url):
    """Rows synced before the natural key was kept get it from their snapshot, so payments can
    refer to invoices synced before the upgrade by number."""
    upgrade_store(store_url, "0005")
    engine = create_database(store_url)
    with engine.begin() as conn:
        for row_id, entity, snapshot in (
            (1, "invoice", '{"number": "INV-1", "total": "5.000"}'),
            (2, "customer", '{"code": "C-00042"}'),
            (3, "customer", None),
        ):
            conn.execute(
                text(
                    "INSERT INTO id_map (id, entity, canonical_id, connector, stream, native_id, "
                    "snapshot, deleted, created_at, updated_at) VALUES (:id, :entity, :c, 'repzo', "
                    ":stream, :n, :snapshot, false, '2026-11-29 10:00:00', '2026-11-29 10:00:00')"
                ),
                {
                    "id": row_id,
                    "entity": entity,
                    "c": f"c{row_id}",
                    "stream": entity,
                    "n": f"n{row_id}",
                    "snapshot": snapshot,
                },
            )
    engine.dispose()
    upgrade_store(store_url)
    store = open_store(store_url)
    try:
        with store.session() as session:
            keys = dict(session.execute(select(IdMapEntry.id, IdMapEntry.natural_key)).all())
    finally:
        store.close()
    assert keys == {1: "INV-1", 2: "C-00042", 3: None}


def test_revisions_read_from_the_files_are_alembics_own():
    from alembic.script import ScriptDirectory

    from syncer.state.migrate import alembic_config, known_revisions, revision_chain

    script = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == script.get_current_head()
    assert known_revisions() == {rev.revision for rev in script.walk_revisions()}
    assert revision_chain() == {rev.revision: rev.down_revision for rev in script.walk_revisions()}


def test_the_recorded_revision_is_read_as_alembic_reads_it(store_url):
    from syncer.state.migrate import current_revision

    engine = create_database(store_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) is None  # an empty store
        upgrade_store(store_url)
        downgrade_store(store_url, "0005")
        with engine.connect() as connection:
            alembic = MigrationContext.configure(connection).get_current_revision()
            assert current_revision(connection) == alembic == "0005"
    finally:
        engine.dispose()


def _schema(url: str) -> dict[str, object]:
    """Everything a schema is made of, as the database reports it."""
    engine = create_database(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            return {
                table: {
                    # Column order aside: migrations add columns at the end of a table.
                    "columns": sorted(
                        (c["name"], str(c["type"]), c["nullable"], c["default"])
                        for c in found.get_columns(table)
                    ),
                    "pk": found.get_pk_constraint(table)["constrained_columns"],
                    "indexes": sorted(
                        (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in found.get_indexes(table)
                    ),
                    "unique": sorted(
                        (u["name"], tuple(u["column_names"]))
                        for u in found.get_unique_constraints(table)
                    ),
                }
                for table in sorted(found.get_table_names())
            } | {"revision": conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()}
    finally:
        engine.dispose()


def test_a_new_store_is_created_as_the_migrations_would_make_it(tmp_path, monkeypatch):
    # A first run creates an empty SQLite store from the models and records the head revision,
    # without replaying (and importing) the migrations: the result must be the same store.
    from syncer.state import migrate

    replayed = f"sqlite:///{tmp_path / 'replayed.db'}"
    upgrade_store(replayed)
    created = f"sqlite:///{tmp_path / 'created.db'}"
    monkeypatch.setattr(migrate, "upgrade", None)  # the migrations must not run for it
    open_store(created).close()
    assert _schema(created) == _schema(replayed)
    monkeypatch.undo()
    # And the migrations take it from there, down and up again.
    assert downgrade_store(created, "base") == (head_revision(), None)
    assert upgrade_store(created) == (None, head_revision())


def test_a_store_with_tables_but_no_revision_is_left_to_the_migrations(tmp_path):
    # Not syncer's empty store: creating tables beside someone else's would hide the problem.
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = create_database(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE id_map (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(StateStoreError):
        open_store(url)
