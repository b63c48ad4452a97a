"""Reading a side's records: those of the window, page by page, and some by native id.

Read as a sync reads them: the same connector, paging and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from syncer.connector import ReadRequest, Record, StreamInfo, parse_instant
from syncer.engine.binding import Side
from syncer.engine.prepare import last_of_each
from syncer.engine.reconcile.window import Window
from syncer.engine.scan import reading
from syncer.mapping.mapping import CompiledMapping
from syncer.mapping.paths import MISSING


def record_time(record: Record, info: StreamInfo, mapping: CompiledMapping) -> datetime | None:
    """When a native record last changed: the stream's last-modified field, else the value
    the mapping reads as its cursor (Repzo invoices are paged by ``_id`` but still carry
    ``updatedAt``). None when the record names no instant."""
    if info.updated_field:
        moment = parse_instant(record.get(info.updated_field))
        if moment is not None:
            return moment
    if mapping.cursor is None:
        return None
    value = mapping.cursor.get(record)
    return None if value is MISSING else parse_instant(value)


def window_request(info: StreamInfo, window: Window) -> ReadRequest:
    """The read that covers the window, bounded server-side as far as the stream allows; the
    window itself is applied to what comes back (:meth:`Window.holds`), since servers differ on
    whether a bound is inclusive."""
    if info.cursor == "updated_at":
        return ReadRequest(updated_from=window.since, updated_to=window.until)
    if info.cursor == "id":
        # Ids grow with creation time: a document last changed before ``until`` was created
        # before it. Nothing bounds it from below (an old document may have changed since).
        return ReadRequest(updated_to=window.until)
    return ReadRequest()


@dataclass(slots=True)
class WindowPage:
    """One page's records of the window, each record once."""

    records: list[Record] = field(default_factory=list)
    undated: int = 0
    """Records of the page that name no time, so belong to no window."""


async def window_pages(side: Side, window: Window) -> AsyncIterator[WindowPage]:
    """The side's records of the window, page by page, each record once."""
    async with reading(side, window_request(side.info, window)) as pages:
        async for page in pages:
            found = WindowPage()
            kept: list[Record] = []
            for record in page.records:
                moment = record_time(record, side.info, side.mapping)
                if moment is None:
                    found.undated += 1
                elif window.holds(moment):
                    kept.append(record)
            found.records, _ = last_of_each(side.mapping, kept)
            yield found


async def fetch(side: Side, natives: list[str]) -> dict[str, Record]:
    """Records of a side by native id: one filtered listing where the system can filter by
    its key, else one read each."""
    if not natives:
        return {}
    key = side.mapping.key.text
    if key in side.info.lookup_fields:
        records = await side.connector.lookup(side.stream, key, natives)
    else:
        records = [
            record
            for native in natives
            if (record := await side.connector.get(side.stream, native)) is not None
        ]
    return {
        native: record
        for record in records
        if (native := side.mapping.native_id_or_none(record)) is not None
    }
