"""Declarative base and column types shared by every state-store table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from syncer.logs import redact, redact_value

# Deterministic constraint names, so migrations name them the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zone type and hands back naive values; PostgreSQL's timestamptz comes back
    in the session's zone. Both are normalised here, and naive input is refused, so a local time
    can never be mistaken for UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"naive datetime {value!r} given to the state store; use UTC-aware values"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RedactedText(TypeDecorator[str]):
    """Text from outside syncer (a remote system's error message) stored without secrets.

    Masking at the column rather than at each writer means every way in is covered: a run
    closed by its own process or as abandoned by the next one, a dead letter parked or parked
    again, an outbox entry enqueued or settled. Reads are not touched.
    """

    impl: type[String] = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else redact(value)


class RedactedString(RedactedText):
    """:class:`RedactedText` of bounded length (``RedactedString(255)``)."""

    impl = String
    cache_ok = True


class RedactedJSON(TypeDecorator[Any]):
    """JSON documents stored without secrets: a dead letter's payload, a Repzo log document
    (which is sent from the stored copy, so Repzo gets it masked too).

    Only secret values are masked, not fields by their name: a payload is sent again when its
    dead letter is retried, and a record's own ``password`` field is data, not our secret.
    """

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else redact_value(value, by_key=False)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


def utcnow() -> datetime:
    return datetime.now(UTC)
