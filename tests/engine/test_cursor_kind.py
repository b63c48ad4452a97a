"""A stream whose cursor changes kind (the registry learnt a resource's filters from the SDK)
is read whole once, never with the old position read as the new kind's."""

from __future__ import annotations

from datetime import UTC, datetime

from syncer.config.models import CursorSettings
from syncer.connector import StreamInfo, parse_instant
from syncer.engine import cursor
from syncer.state.models import Cursor
from tests.engine.conftest import store_for

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def plan_for(store, kind: str):
    info = StreamInfo(name="payments", key="_id", cursor=kind)  # type: ignore[arg-type]
    with store.session() as session:
        return cursor.plan(
            session,
            flow="payments-repzo-to-erp",
            connector="repzo",
            stream="payments",
            info=info,
            settings=CursorSettings(),
            server_now=NOW,
        )


def stored(store, kind: str, value: str, value_utc: datetime | None = None) -> None:
    with store.session() as session:
        session.add(
            Cursor(
                flow="payments-repzo-to-erp",
                connector="repzo",
                stream="payments",
                kind=kind,
                value=value,
                value_utc=value_utc,
                fence=0,
                updated_at=NOW,
            )
        )


def test_a_time_watermark_is_never_taken_for_an_id(store_url):
    store = store_for(store_url)
    try:
        stored(
            store, "updated_at", "2026-11-30T10:00:00+00:00", datetime(2026, 11, 30, 10, tzinfo=UTC)
        )
        scan = plan_for(store, "id")
        assert scan is not None and scan.kind == "id"
        assert scan.request.after is None  # from the start, not from__id="2026-11-30T10:00..."
    finally:
        store.close()


def test_an_id_position_is_never_taken_for_a_time(store_url):
    store = store_for(store_url)
    try:
        stored(store, "id", "6b0f13101f03c7094e000000")
        scan = plan_for(store, "updated_at")
        assert scan is not None and scan.kind == "updated_at"
        assert scan.request.updated_from is None and scan.request.after is None
        assert scan.request.updated_to is not None  # still a bounded window
    finally:
        store.close()


def test_a_numeric_stamp_beyond_any_calendar_is_no_stamp():
    for hostile in (1e999, float("nan"), 10**30, -(10**30)):
        assert parse_instant(hostile) is None
    assert parse_instant(1_796_000_000_000) == datetime(2026, 11, 30, 0, 53, 20, tzinfo=UTC)
