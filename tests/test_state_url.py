"""The state store's URL is read without SQLAlchemy when a configuration loads: the parser must
read every URL as SQLAlchemy's ``make_url`` does, and render one it changed (a relative SQLite
path made absolute) as SQLAlchemy would."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from syncer.config import state_url

URLS = [
    "sqlite:///syncer.db",
    "sqlite:////var/lib/syncer/state.db",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///file:state.db?mode=ro&uri=true",
    "sqlite:///with space/and+plus.db",
    "postgresql://syncer:s3cr%40t@db.internal:5432/syncer",
    "postgresql+psycopg://syncer@db/syncer?sslmode=require&sslpassword=x",
    "postgresql://u:p@[::1]:5432/db",
    "postgresql://u:p%2Fq@host/db?options=-c%20search_path%3Dsync&b=1&a=2&a=3",
    "postgresql:///db?host=/var/run/postgresql",
    "postgresql://user:@host/db",
    "postgresql://:pw@host/db",
]


def fields(text: str) -> tuple[object, ...]:
    ours = state_url.parse(text)
    return (
        ours.drivername,
        ours.username,
        ours.password,
        ours.host,
        ours.port,
        ours.database,
        sorted(ours.query),
    )


def sqlalchemy_fields(text: str) -> tuple[object, ...]:
    url = make_url(text)
    query = sorted(
        (key, value)
        for key, values in url.query.items()
        for value in ((values,) if isinstance(values, str) else values)
    )
    return (
        url.drivername,
        url.username,
        url.password,
        url.host,
        url.port,
        url.database,
        query,
    )


@pytest.mark.parametrize("text", URLS)
def test_a_url_reads_and_renders_as_sqlalchemy_reads_and_renders_it(text):
    assert fields(text) == sqlalchemy_fields(text)
    ours = state_url.parse(text)
    assert ours.render() == make_url(text).render_as_string(hide_password=False)
    moved = ours.with_database("/srv/sync/state db+1.db").render()
    assert moved == make_url(text).set(database="/srv/sync/state db+1.db").render_as_string(
        hide_password=False
    )
    assert make_url(moved).database == "/srv/sync/state db+1.db"


PART = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@given(user=PART, password=PART, database=PART, key=PART, value=PART)
def test_any_parts_read_back_as_sqlalchemy_reads_them(user, password, database, key, value):
    url = make_url("postgresql+psycopg://h:5432/x").set(
        username=user or None,
        password=password or None,
        database=database or None,
        query={key: value} if key and value else {},
    )
    text = url.render_as_string(hide_password=False)
    assert fields(text) == sqlalchemy_fields(text)
    assert state_url.parse(text).render() == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a url", "expected an SQLAlchemy URL"),
        ("mysql://h/db", "got a mysql:// URL"),
        ("postgres://h/db", "got a postgres:// URL"),
        ("postgresql+asyncpg://h/db", "is an asyncio driver"),
        ("sqlite+aiosqlite:///x.db", "is an asyncio driver"),
        ("postgresql+nosuch://h/db", "unknown database driver 'postgresql+nosuch'"),
        ("postgresql://h:five/db", "expected a port number after the host, got 'five'"),
    ],
)
def test_a_url_the_store_cannot_use_is_refused_with_what_is_expected(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        state_url.check(state_url.parse(text))


def test_a_driver_that_is_not_installed_is_named(monkeypatch):
    monkeypatch.setitem(state_url.DRIVERS, "postgresql+psycopg", state_url.Driver(("nosuchdb",)))
    with pytest.raises(ValueError, match=r"not installed \(nosuchdb\)"):
        state_url.check(state_url.parse("postgresql+psycopg://h/db"))
    state_url.check(state_url.parse("postgresql://h/db"))  # installed: psycopg, not imported


def test_the_driver_table_agrees_with_sqlalchemys_dialects():
    for name, driver in state_url.DRIVERS.items():
        dialect = make_url(f"{name}://").get_dialect()  # raises for a name SQLAlchemy lacks
        assert getattr(dialect, "is_async", False) == driver.is_async, name


def test_loading_a_configuration_imports_no_sqlalchemy(tmp_path):
    config = tmp_path / "syncer.yaml"
    config.write_text(
        "state: {url: 'postgresql://syncer:pw@db:5432/syncer'}\nconnectors: {}\nflows: []\n",
        encoding="utf-8",
    )
    code = (
        "import sys\n"
        "from syncer.config import load_config\n"
        f"load_config({str(config)!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'psycopg')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
