"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from syncer.state.database import create_database, normalize_url

PG_URL_ENV = "SYNCER_TEST_PG_URL"
CHAOS_OPTION = "--chaos"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        CHAOS_OPTION,
        action="store_true",
        default=False,
        help="also run the tests marked chaos (minutes of faults and kill -9 over a two-way "
        "sync of 20,000 records); without it they are skipped, so a plain run stays fast",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption(CHAOS_OPTION):
        return
    skip = pytest.mark.skip(reason=f"a chaos test: run it with pytest {CHAOS_OPTION}")
    for item in items:
        if "chaos" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_logging_to_closed_streams() -> Iterator[None]:
    """A CLI test configures logging onto the CliRunner's stream, which is closed afterwards;
    later tests in the same process would each print a "Logging error" for every line."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        stream = getattr(handler, "stream", None)
        if type(handler) is logging.StreamHandler and getattr(stream, "closed", False):
            root.removeHandler(handler)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, the loop syncer itself uses."""
    return "asyncio"


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a YAML configuration (dedented) into the test's own folder and return its path."""

    def write(body: str, name: str = "syncer.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema, dropped afterwards.

    Skips when $SYNCER_TEST_PG_URL is not set; CI sets it whenever PostgreSQL answers.
    """
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"{PG_URL_ENV} is not set")
    schema = f"syncer_test_{uuid.uuid4().hex[:12]}"
    admin = create_database(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = normalize_url(make_url(base)).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and, when available, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
