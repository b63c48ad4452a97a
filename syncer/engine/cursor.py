"""Where a flow's incremental read starts and ends (invariant 2).

Before a scan reads anything it fixes an upper bound from the source's own clock minus a safety
margin; the stored watermark never passes that bound and never moves backwards; lookback widens
the query only. A scan in progress is resumable from its last committed page when the source
pages in a stable order; otherwise its pages are not checkpointed and a crash re-reads the
window (re-read records cost no writes). Records read at exactly the stored watermark are kept
in a table and dropped by (id, hash) when the next scan reads that instant again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syncer.config.models import CursorSettings
from syncer.connector import CursorKind, ReadRequest, Record, StreamInfo
from syncer.state.models import BoundaryRecord, Cursor

BOUNDARY_LIMIT = 10_000
"""Records kept at one instant. More means a source stamps very many records with one time; the
excess is still handled (the id map sees they are unchanged), just not dropped early."""


def parse_instant(value: Any) -> datetime | None:
    """A source's last-modified value as aware UTC (ISO text, ms epoch or datetime)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value / 1000, UTC)
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def record_hash(record: Record) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class Scan:
    """One read of a stream, as planned before it starts."""

    kind: CursorKind
    request: ReadRequest
    bound: datetime | None
    """The window's upper bound (updated_at and id cursors)."""
    resumable: bool
    watermark: datetime | None
    """The stored watermark when the scan started (records at it are boundary candidates)."""
    boundary: dict[str, str]
    """Record id -> hash, of records read at exactly ``watermark`` by the previous scan."""
    resumed: bool = False


def plan(
    session: Session,
    *,
    flow: str,
    connector: str,
    stream: str,
    info: StreamInfo,
    settings: CursorSettings,
    server_now: datetime | None,
    page_size: int,
    full: bool = False,
) -> Scan | None:
    """The next scan, or None when the window would be empty (the clock has not moved past
    the watermark). ``full`` ignores the cursor: a complete listing (mirror mode)."""
    row = session.get(Cursor, flow)
    if row is not None and (row.connector, row.stream) != (connector, stream):
        row = None  # the flow now reads another stream: its old position means nothing here
    if full or info.cursor == "none":
        return Scan(info.cursor, ReadRequest(page_size=page_size), None, False, None, {})
    if info.cursor == "token":
        after = row.value if row is not None else None
        return Scan("token", ReadRequest(after=after, page_size=page_size), None, False, None, {})
    bound = (server_now or datetime.now(UTC)) - settings.safety_margin
    if info.cursor == "id":
        after = row.value if row is not None else None
        request = ReadRequest(after=after, updated_to=bound, page_size=page_size)
        return Scan("id", request, bound, info.resumable, None, {})
    watermark = row.value_utc if row is not None else None
    scan_state = row.scan if row is not None else None
    if scan_state:
        request = ReadRequest(
            updated_from=_instant(scan_state.get("from")),
            updated_to=_instant(scan_state["to"]),
            after=scan_state.get("after"),
            page_size=page_size,
        )
        boundary = _boundary(session, flow)
        return Scan(
            "updated_at", request, request.updated_to, info.resumable, watermark, boundary, True
        )
    if watermark is not None and bound <= watermark:
        return None
    start = watermark - settings.lookback if watermark is not None else None
    request = ReadRequest(updated_from=start, updated_to=bound, page_size=page_size)
    return Scan("updated_at", request, bound, info.resumable, watermark, _boundary(session, flow))


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _boundary(session: Session, flow: str) -> dict[str, str]:
    rows = session.execute(
        select(BoundaryRecord.record_id, BoundaryRecord.content_hash).where(
            BoundaryRecord.flow == flow
        )
    )
    return {record_id: digest for record_id, digest in rows}


def _row(session: Session, flow: str, connector: str, stream: str, kind: str) -> Cursor:
    row = session.get(Cursor, flow)
    if row is None:
        row = Cursor(flow=flow, connector=connector, stream=stream, kind=kind, fence=0)
        session.add(row)
    elif (row.connector, row.stream, row.kind) != (connector, stream, kind):
        row.connector, row.stream, row.kind = connector, stream, kind
        row.value = row.tiebreak_id = None
        row.value_utc = None
        row.scan = None
    return row


def save_progress(
    session: Session, flow: str, connector: str, stream: str, scan: Scan, position: str | None
) -> None:
    """After a committed page of a resumable scan: where to resume if this run stops now."""
    if not scan.resumable or position is None:
        return
    row = _row(session, flow, connector, stream, scan.kind)
    if scan.kind == "id":
        row.value = position  # ids only grow and never pass the bound: the watermark itself
        return
    request = scan.request
    row.scan = {
        "from": request.updated_from.isoformat() if request.updated_from else None,
        "to": request.updated_to.isoformat() if request.updated_to else None,
        "after": position,
    }


def complete(
    session: Session,
    flow: str,
    connector: str,
    stream: str,
    scan: Scan,
    position: str | None,
    at_bound: dict[str, str],
) -> None:
    """The scan read everything it was meant to: move the watermark, remember the boundary."""
    if scan.kind in ("none",):
        return
    row = _row(session, flow, connector, stream, scan.kind)
    if scan.kind == "token":
        row.value = position
        return
    if scan.kind == "id":
        if position is not None:
            row.value = position
        return
    assert scan.bound is not None
    if row.value_utc is None or scan.bound > row.value_utc:  # never backwards
        row.value = scan.bound.isoformat()
        row.value_utc = scan.bound
        session.execute(delete(BoundaryRecord).where(BoundaryRecord.flow == flow))
        for record_id, digest in list(at_bound.items())[:BOUNDARY_LIMIT]:
            session.add(
                BoundaryRecord(
                    flow=flow, record_id=record_id, content_hash=digest, watermark=row.value
                )
            )
    row.scan = None


def reset(session: Session, flow: str) -> None:
    session.execute(delete(BoundaryRecord).where(BoundaryRecord.flow == flow))
    row = session.get(Cursor, flow)
    if row is not None:
        session.delete(row)
