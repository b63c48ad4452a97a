"""The state store's URL, read and checked without SQLAlchemy.

Loading a configuration (``syncer check --offline``, every command's start) must not pay for
importing SQLAlchemy, nor for importing the database driver it would check: the URL is parsed
here the way SQLAlchemy's ``make_url`` parses it (a test holds the two equal), and a driver is
checked by looking for its module, not by importing it. Running the store still goes through
SQLAlchemy (``syncer.state.database``)."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from syncer.logs import redact_url

_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)
"""SQLAlchemy's own pattern (``sqlalchemy.engine.url._parse_url``), so both read a URL alike."""

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
EXPECTED = "expected sqlite://, postgresql:// or postgresql+psycopg://"


@dataclass(frozen=True, slots=True)
class Driver:
    modules: tuple[str, ...]
    """The DB-API module SQLAlchemy imports for it (the first of these it finds)."""
    is_async: bool = False


DRIVERS: dict[str, Driver] = {
    # A bare postgresql:// runs on psycopg 3 (``database.normalize_url``), not SQLAlchemy's
    # default psycopg2.
    "sqlite": Driver(("sqlite3",)),
    "sqlite+pysqlite": Driver(("sqlite3",)),
    "sqlite+pysqlcipher": Driver(("sqlcipher3", "pysqlcipher3")),
    "sqlite+aiosqlite": Driver(("aiosqlite",), is_async=True),
    "postgresql": Driver(("psycopg",)),
    "postgresql+psycopg": Driver(("psycopg",)),
    "postgresql+psycopg2": Driver(("psycopg2",)),
    "postgresql+psycopg2cffi": Driver(("psycopg2cffi",)),
    "postgresql+pg8000": Driver(("pg8000",)),
    "postgresql+psycopg_async": Driver(("psycopg",), is_async=True),
    "postgresql+asyncpg": Driver(("asyncpg",), is_async=True),
}
"""SQLAlchemy's dialects of the two backends, by the name a URL gives them."""


@dataclass(frozen=True, slots=True)
class StateUrl:
    drivername: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    query: tuple[tuple[str, str], ...]

    @property
    def backend(self) -> str:
        return self.drivername.split("+", 1)[0]

    def with_database(self, database: str) -> StateUrl:
        return replace(self, database=database)

    @property
    def sqlite_file(self) -> Path | None:
        """The file behind an SQLite URL; None for an in-memory database or another backend."""
        if self.backend != "sqlite" or self.database in (None, "", ":memory:"):
            return None
        return Path(self.database)

    def render(self, *, hide_password: bool = False) -> str:
        """The URL as text, as SQLAlchemy's ``render_as_string`` writes it."""
        text = f"{self.drivername}://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:
            grouped: dict[str, list[str]] = {}
            for key, value in self.query:
                grouped.setdefault(key, []).append(value)
            text += "?" + "&".join(
                f"{quote_plus(key)}={quote_plus(value)}"
                for key in sorted(grouped)
                for value in grouped[key]
            )
        return text


def parse(text: str) -> StateUrl:
    """Raises ValueError for text that is not such a URL."""
    match = _URL.match(text)
    if match is None:
        raise ValueError(
            "expected an SQLAlchemy URL such as sqlite:///syncer.db or "
            "postgresql://user:password@host:5432/dbname"
        )
    parts = match.groupdict()
    port = parts["port"]
    if port and not port.isdigit():
        raise ValueError(f"expected a port number after the host, got {port!r}")
    return StateUrl(
        drivername=parts["name"],
        username=_unquoted(parts["username"]),
        password=_unquoted(parts["password"]),
        host=parts["ipv4host"] or parts["ipv6host"],
        port=int(port) if port else None,
        database=_unquoted(parts["database"]),
        query=tuple(parse_qsl(parts["query"])) if parts["query"] is not None else (),
    )


def display(text: str) -> str:
    """The URL as it may be shown to people and written to logs: the password hidden, and so
    are ``?password=`` and ``?sslpassword=`` (libpq takes both from the query) and any
    configured secret wherever it is (a password from ``${VAR}`` in the user part)."""
    try:
        return redact_url(parse(text).render(hide_password=True))
    except ValueError:
        return redact_url(text)


def check(url: StateUrl) -> None:
    """Raises ValueError, with what is expected, for a backend or driver the store cannot use:
    another database, an asyncio driver, an unknown or missing one."""
    if url.backend not in SUPPORTED_BACKENDS:
        raise ValueError(f"expected a sqlite:// or postgresql:// URL, got a {url.backend}:// URL")
    driver = DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            f"unknown database driver {url.drivername!r}; {EXPECTED} (install the postgres "
            "extra for PostgreSQL)"
        )
    if driver.is_async:
        raise ValueError(
            f"{url.drivername!r} is an asyncio driver, which the state store cannot use; {EXPECTED}"
        )
    if not any(importlib.util.find_spec(module) for module in driver.modules):
        raise ValueError(
            f"the database driver of {url.drivername!r} is not installed "
            f"({driver.modules[-1]}); "
            f"{EXPECTED} (install the postgres extra for PostgreSQL)"
        )


def _unquoted(value: str | None) -> str | None:
    return unquote(value) if value is not None else None
