"""The read stage: plan a scan of the source (its window and where to resume), read it page
by page, drop the records read at the boundary last time exactly as they were, and hand the
rest on in batches; when the scan is read to its end, move the cursor."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from syncer.connector import Page, ReadRequest, Record, parse_instant
from syncer.engine import cursor, deadletters, idmap
from syncer.engine.binding import Side
from syncer.engine.deadletters import Failure
from syncer.engine.prepare import once_each
from syncer.engine.readahead import read_ahead
from syncer.engine.scope import RunScope
from syncer.logs import get_logger
from syncer.mapping.errors import MappingError

log = get_logger(__name__)


@dataclass(slots=True)
class Listing:
    """What this run's reads of the source saw, for mirror mode and damaged files."""

    listed: int = 0
    """Records and unreadable rows the source handed over."""
    rejected: int = 0
    """Rows the source could not read (a broken CSV row)."""
    rejected_keys: set[str] = field(default_factory=set)
    unidentified: int = 0
    """Records without a usable key: nobody can tell which record they are."""
    claimed: int | None = None
    """How many records the source said its complete listing holds, on the first page."""

    @property
    def clean(self) -> bool:
        return not self.rejected and not self.unidentified


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Records of one or more pages for the next stages (a page bigger than the flow's
    ``batch_size`` comes in several batches)."""

    records: list[Record]
    failures: list[Failure]
    """Rows the source could not read, parked with the batch that ends their page."""
    on_commit: Callable[[Session], None] | None
    """Saves the scan's progress; set on a batch that ends a page, so a position is saved
    only once its whole page is in."""
    ends_page: bool


@dataclass(frozen=True, slots=True)
class _PageRead:
    """A page, as read: the records to sync, the rows that could not be read, and what saves
    the scan's progress past it."""

    records: list[Record]
    failures: list[Failure]
    progress: Callable[[Session], None]


@contextlib.asynccontextmanager
async def reading(side: Side, request: ReadRequest) -> AsyncIterator[AsyncIterator[Page]]:
    """The side's pages for ``request``, closed however the reading ends (a stop, an error),
    so a connector releases its files and connections at once."""
    pages = side.connector.read(side.stream, request)
    try:
        yield pages
    finally:
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()


class Reader:
    """Reads the source for one run; :attr:`listing` says what it saw."""

    def __init__(self, scope: RunScope, *, full: bool) -> None:
        self.scope = scope
        self.full = full
        self.listing = Listing()
        self._position: str | None = None
        self._at_bound: dict[str, str] = {}
        self._rejected_before = 0

    async def plan(self) -> cursor.Scan | None:
        binding = self.scope.binding
        flow, source = binding.flow, binding.source
        listing = flow.mode == "mirror"
        server_now = None
        if source.info.cursor in ("updated_at", "id") and not listing:
            server_now = await source.connector.server_time()
        with self.scope.fenced() as session:
            scan = cursor.plan(
                session,
                flow=flow.name,
                connector=source.name,
                stream=source.stream,
                info=source.info,
                settings=flow.cursor,
                server_now=server_now,
                listing=listing,
                fresh=self.full,
            )
            # Mirror mode has its own check of an emptied listing, which a person can
            # override (--allow-mass-delete).
            if scan is not None and source.info.from_files and not listing:
                known = idmap.live_count(session, binding.entity, source.name, source.stream)
                scan.request = dataclasses.replace(scan.request, known=known)
        if scan is not None:
            log.info(
                "scan",
                kind=scan.kind,
                since=scan.request.updated_from.isoformat() if scan.request.updated_from else None,
                until=scan.bound.isoformat() if scan.bound else None,
                resumed=scan.resumed,
                full=self.full or listing,
            )
        self._position, self._at_bound = None, {}
        self._rejected_before = self.listing.rejected
        return scan

    async def batches(self, scan: cursor.Scan) -> AsyncGenerator[SourceBatch]:
        """The scan's records in batches of whole pages: pages are gathered until they hold
        ``batch_size`` records or have waited ``batch_wait`` (one commit, and one journal
        fsync of a file target, per batch rather than per page); a page bigger than a batch
        goes through in several."""
        flow = self.scope.flow
        size, wait = flow.batch_size, flow.batch_wait.total_seconds()
        gathered: list[_PageRead] = []
        since = time.monotonic()
        async with (
            reading(self.scope.binding.source, scan.request) as pages,
            contextlib.aclosing(read_ahead(pages)) as ahead,
        ):
            async for page in ahead:
                if page.position is not None:
                    self._position = page.position
                read = self._page(page, scan)
                if len(read.records) > size:
                    if gathered:
                        yield self._batch(gathered)
                    for batch in self._split(read, size):
                        yield batch
                    gathered, since = [], time.monotonic()
                    continue
                if not gathered:
                    since = time.monotonic()
                gathered.append(read)
                held = sum(len(each.records) for each in gathered)
                if held >= size or time.monotonic() - since >= wait:
                    yield self._batch(gathered)
                    gathered = []
        if gathered:
            yield self._batch(gathered)

    def _batch(self, reads: list[_PageRead]) -> SourceBatch:
        records = [record for read in reads for record in read.records]
        if len(reads) > 1:
            # One record per key across the batch's pages too.
            records = once_each(self.scope, records)
        progress = [read.progress for read in reads]

        def on_commit(session: Session) -> None:
            for each in progress:
                each(session)

        failures = [failure for read in reads for failure in read.failures]
        return SourceBatch(records, failures, on_commit, True)

    @staticmethod
    def _split(read: _PageRead, size: int) -> list[SourceBatch]:
        parts = [read.records[start : start + size] for start in range(0, len(read.records), size)]
        last = len(parts) - 1
        return [
            SourceBatch(
                part,
                read.failures if number == last else [],
                read.progress if number == last else None,
                number == last,
            )
            for number, part in enumerate(parts)
        ]

    def _page(self, page: Page, scan: cursor.Scan) -> _PageRead:
        scope, listing = self.scope, self.listing
        source = scope.binding.source
        delimited = [r for r in page.rejected if r.delimited]
        scope.counts.read += len(page.records) + len(delimited)
        if scan.listing and listing.claimed is None:
            listing.claimed = page.total
        listing.listed += len(page.records) + len(page.rejected)
        listing.rejected += len(page.rejected)
        listing.rejected_keys.update(r.key for r in page.rejected)
        kept: list[Record] = []
        seen: list[str] = []
        updated_field = source.info.updated_field
        for record in page.records:
            if scan.listing:
                try:
                    seen.append(source.mapping.native_id(record))
                except MappingError:
                    listing.unidentified += 1
            stamp = parse_instant(record.get(updated_field)) if updated_field else None
            if stamp is not None and scan.bound is not None and stamp == scan.bound:
                self._at_bound[str(record.get(source.info.key))] = cursor.record_hash(record)
            if (
                stamp is not None
                and scan.watermark is not None
                and stamp == scan.watermark
                and scan.boundary.get(str(record.get(source.info.key)))
                == cursor.record_hash(record)
            ):
                scope.counts.unchanged += 1  # read at the boundary last time, exactly like this
                continue
            kept.append(record)
        rejected = [
            Failure(r.key, r.reason, "read", {"raw": r.raw}, field=r.field) for r in page.rejected
        ]
        damaged = listing.rejected > 0
        position = page.position

        def progress(session: Session) -> None:
            flow = scope.flow
            if seen:
                idmap.mark_seen(
                    session, scope.binding.entity, source.name, source.stream, seen, scope.run_id
                )
            if not damaged:  # never checkpoint past a record that could not be read
                cursor.save_progress(session, flow.name, source.name, source.stream, scan, position)

        # One record per key across the page, whatever batches it is cut into.
        return _PageRead(once_each(scope, kept), rejected, progress)

    def complete(self, scan: cursor.Scan) -> bool:
        """After the scan was read to its end: move the cursor past it, unless some records
        could not be read. True when the cursor moved."""
        scope = self.scope
        flow, source = scope.flow, scope.binding.source
        unreadable = self.listing.rejected - self._rejected_before
        with scope.fenced() as session:
            if source.info.from_files:
                deadletters.resolve_reread(session, flow.name, self.listing.rejected_keys)
            if unreadable:
                # The cursor stays where it was (or where the last page before the damage left
                # it): once the file is fixed, the next scan reads those rows.
                log.warning(
                    "some records could not be read; the cursor stays so that they are read "
                    "again once the source is fixed",
                    unreadable=unreadable,
                )
                return False
            cursor.complete(
                session,
                flow.name,
                source.name,
                source.stream,
                scan,
                self._position,
                self._at_bound,
            )
        return True
