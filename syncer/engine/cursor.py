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
from syncer.logs import get_logger
from syncer.state.models import BoundaryRecord, Cursor

log = get_logger(__name__)

BOUNDARY_LIMIT = 10_000
"""Records kept at one instant. More means a source stamps very many records with one time; the
excess is still handled (the id map sees they are unchanged), just not dropped early."""


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
    listing: bool = False
    """A complete listing of the source (mirror mode): it leaves the cursor alone."""


def plan(
    session: Session,
    *,
    flow: str,
    connector: str,
    stream: str,
    info: StreamInfo,
    settings: CursorSettings,
    server_now: datetime | None,
    page_size: int | None = None,
    listing: bool = False,
    fresh: bool = False,
) -> Scan | None:
    """The next scan, or None when the window would be empty (the clock has not moved past
    the watermark).

    ``listing``: a complete listing that ignores the cursor and leaves it alone (mirror mode).
    ``fresh``: read everything up to the bound as if the cursor were empty, and then move it
    on as usual (``syncer sync --full``); a scan in progress is set aside and, since such a
    scan starts from nothing, it is not checkpointed page by page."""
    row = session.get(Cursor, flow)
    if row is not None and (row.connector, row.stream) != (connector, stream):
        row = None  # the flow now reads another stream: its old position means nothing here
    elif row is not None and row.kind != info.cursor:
        # The stream is now paged another way (Repzo payments went from _id to updatedAt when
        # the SDK showed their updatedAt filter): an _id is no time, and the reverse. Read it
        # whole once; what was synced before is recognised by the id map and not sent again.
        log.info(
            "the stream's cursor changed kind; reading it whole once",
            flow=flow,
            stored=row.kind,
            now=info.cursor,
        )
        row = None
    if listing or info.cursor == "none":
        request = ReadRequest(page_size=page_size)
        return Scan(info.cursor, request, None, False, None, {}, listing=listing)
    if fresh:
        row = None
    if info.cursor == "token":
        after = row.value if row is not None else None
        return Scan("token", ReadRequest(after=after, page_size=page_size), None, False, None, {})
    bound = (server_now or datetime.now(UTC)) - settings.safety_margin
    resumable = info.resumable and not fresh
    if info.cursor == "id":
        after = row.value if row is not None else None
        request = ReadRequest(after=after, updated_to=bound, page_size=page_size)
        return Scan("id", request, bound, resumable, None, {})
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
        return Scan("updated_at", request, request.updated_to, resumable, watermark, boundary, True)
    if watermark is not None and bound <= watermark:
        return None
    start = watermark - settings.lookback if watermark is not None else None
    request = ReadRequest(updated_from=start, updated_to=bound, page_size=page_size)
    boundary = _boundary(session, flow) if watermark is not None else {}
    return Scan("updated_at", request, bound, resumable, watermark, boundary)


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
    if not scan.resumable or scan.listing or position is None:
        return
    row = _row(session, flow, connector, stream, scan.kind)
    if scan.kind == "id":
        _advance_id(row, position)  # ids never pass the bound: the position is the watermark
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
    if scan.kind == "none" or scan.listing:
        return
    row = _row(session, flow, connector, stream, scan.kind)
    if scan.kind == "token":
        row.value = position
        return
    if scan.kind == "id":
        if position is not None:
            _advance_id(row, position)
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


def at_time(flow: str, connector: str, stream: str, moment: datetime) -> Cursor:
    """A new cursor of a last-modified stream, standing at ``moment``."""
    utc = moment.astimezone(UTC)
    return Cursor(
        flow=flow,
        connector=connector,
        stream=stream,
        kind="updated_at",
        value=utc.isoformat(),
        value_utc=utc,
        fence=0,
    )


def _advance_id(row: Cursor, position: str) -> None:
    """Ids only grow: a position behind the stored one (a ``--full`` re-read) never moves the
    cursor back. Ids of one system have one width, so text order is id order."""
    if row.value is None or (len(position), position) > (len(row.value), row.value):
        row.value = position


def reset(session: Session, flow: str, to: datetime | None = None) -> Cursor | None:
    """Forget where the flow's reads stand (the next run reads everything), or, with ``to``,
    set the watermark there, backwards included: a person asking to read a window again.
    Returns the cursor row, or None when it is gone."""
    session.execute(delete(BoundaryRecord).where(BoundaryRecord.flow == flow))
    row = session.get(Cursor, flow)
    if row is None:
        return None
    if to is None:
        session.delete(row)
        return None
    row.value = to.astimezone(UTC).isoformat()
    row.value_utc = to.astimezone(UTC)
    row.tiebreak_id = None
    row.scan = None
    return row


def move(session: Session, flow: str, connector: str, stream: str, to: datetime | None) -> None:
    """What ``syncer cursor reset`` does: :func:`reset`, and with ``to`` a cursor standing
    there (:func:`at_time` of the flow's source ``connector.stream``) for a flow that has none
    yet."""
    row = reset(session, flow, to)
    if to is not None and row is None:
        session.add(at_time(flow, connector, stream, to))
