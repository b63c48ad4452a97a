"""The one pagination loop, and the paging schemes it drives.

A connector picks a :class:`Paginator` (page numbers, offsets, an id keyset, an opaque token)
and an ``extract`` function that checks the body's shape and returns its records; the loop here
sends, extracts, advances, yields, and refuses to page forever.

Paging forever is what a server that ignores the paging parameters makes a client do: it
answers every page with the same records and says more follow. The loop stops a listing (with
:class:`EndlessListing`) when a page repeats one it already returned, or when it runs to more
pages than the size the server gives for the listing can fill.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal, Unpack

from syncer.connector import Page, Record
from syncer.logs import get_logger
from syncer.remote.errors import FatalRemoteError, RequestContext, UnexpectedResponse
from syncer.remote.http import JsonHttpClient, QueryValue

Extract = Callable[[Any], list[Record]]
"""Body -> records; raises UnexpectedResponse when the body is not a page of this API."""
log = get_logger(__name__)

IsLast = Callable[[Any, list[Record]], bool | None]
"""Body and records of a page -> whether the server says it was the last (None: it does not
say). A server may serve fewer records than asked for (a cap on the page size), so a short
page alone ends a listing only when the server says nothing."""


EndlessReason = Literal["repeated_page", "past_total"]


class EndlessListing(FatalRemoteError):
    """A listing that does not end where it must: a page came back with the records of an
    earlier one (the server ignores the page, offset or cursor asked for), or there were more
    pages than the listing's reported size can fill. The run stops; its cursor stays."""

    def __init__(
        self,
        message: str,
        *,
        reason: EndlessReason,
        pages: int,
        records: int,
        claimed: int | None,
        request: str,
        repeats: int | None = None,
        **context: Unpack[RequestContext],
    ) -> None:
        self.reason: EndlessReason = reason
        self.pages = pages
        """Pages received in this listing, the offending one included."""
        self.records = records
        """Records those pages held, repeats included."""
        self.claimed = claimed
        """The listing's size as the server gave it (the largest it gave), when it did."""
        self.request = request
        """The paging parameters of the offending page, e.g. ``page=3, per_page=100``."""
        self.repeats = repeats
        """For ``repeated_page``: the number of the earlier page it repeats (1 is the first)."""
        super().__init__(message, **context)

    def fields(self) -> dict[str, object]:
        values: dict[str, object] = {
            **super().fields(),
            "reason": self.reason,
            "pages": self.pages,
            "records": self.records,
            "claimed": self.claimed,
            "request": self.request,
            "repeats": self.repeats,
        }
        return {key: value for key, value in values.items() if value is not None}


class ShortListing(FatalRemoteError):
    """A listing that ended with fewer records than the server said it holds, and still says so
    when asked again: a page went missing (a server that drops one under load, a proxy that
    cuts a list). Taking it for complete would move the cursor past the records on that page.
    The run stops; its cursor stays."""

    def __init__(
        self,
        message: str,
        *,
        claimed: int,
        records: int,
        now: int | None,
        **context: Unpack[RequestContext],
    ) -> None:
        self.claimed = claimed
        """The listing's size as the server gave it while it was read (the largest)."""
        self.records = records
        """Records the listing delivered (repeats included)."""
        self.now = now
        """The size the server gave when asked again after the last page."""
        super().__init__(message, **context)

    def fields(self) -> dict[str, object]:
        return {
            **super().fields(),
            "claimed": self.claimed,
            "records": self.records,
            "recount": self.now,
        }


class _EndGuard:
    """What a listing has returned so far, enough to tell that it will never end: a digest of
    each page (16 bytes a page, however big the pages), the page count and the size the
    server claims."""

    def __init__(self, client: JsonHttpClient, path: str, context: RequestContext) -> None:
        self.system = client.system
        self.path = path
        self.context = context
        self.digests: dict[bytes, int] = {}
        self.pages = 0
        self.records = 0
        self.largest = 0
        self.claimed: int | None = None

    def check(
        self, records: list[Record], claimed: int | None, request: str, *, more: bool
    ) -> None:
        """After each page; ``more``: the listing goes on after it."""
        self.pages += 1
        self.records += len(records)
        self.largest = max(self.largest, len(records))
        if claimed is not None:
            self.claimed = claimed if self.claimed is None else max(self.claimed, claimed)
        # Empty pages are left out: a scan with a continuation token may legitimately return
        # several in a row, and empty pages past the end are bounded by the claimed size.
        if records:
            # In the order the system sent them: a page served again comes back the same.
            text = json.dumps(records, default=str, separators=(",", ":"))
            digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
            earlier = self.digests.setdefault(digest, self.pages)
            if earlier != self.pages:
                raise self._endless(
                    "repeated_page",
                    f"{self.system} answered page {self.pages} of {self.path} ({request}) with "
                    f"the same {len(records)} records as page {earlier}: it ignores the paging "
                    "parameters, and would be paged forever. The listing was stopped, and the "
                    "cursor stays where it was",
                    request,
                    repeats=earlier,
                )
        if more and self.claimed is not None and self.pages > self._page_limit(self.claimed):
            raise self._endless(
                "past_total",
                f"{self.system} says {self.path} holds {self.claimed} records, but it is still "
                f"saying more follow after {self.pages} pages ({self.records} records; {request}"
                "): it ignores the paging parameters, and would be paged forever. The listing "
                "was stopped, and the cursor stays where it was",
                request,
            )

    def _page_limit(self, claimed: int) -> int:
        # Twice the pages the claimed size fills at the largest page served, and two more:
        # room for a size that grows while it is read, for records a shifting order or an
        # inclusive keyset bound hands over twice, and for an empty page at the end.
        return 2 * math.ceil(claimed / max(self.largest, 1)) + 2

    def _endless(
        self, reason: EndlessReason, message: str, request: str, *, repeats: int | None = None
    ) -> EndlessListing:
        return EndlessListing(
            message,
            reason=reason,
            pages=self.pages,
            records=self.records,
            claimed=self.claimed,
            request=request,
            repeats=repeats,
            **self.context,
        )


def _paging(request: Mapping[str, QueryValue]) -> str:
    return ", ".join(f"{key}={value}" for key, value in request.items() if value is not None)


def _last(is_last: IsLast | None, body: Any, records: list[Record], asked: int) -> bool:
    verdict = is_last(body, records) if is_last is not None else None
    return verdict if verdict is not None else len(records) < asked


class Paginator(ABC):
    """A paging scheme: what to ask for first, and what to ask for after each page."""

    @abstractmethod
    def first(self) -> Mapping[str, QueryValue]: ...

    @abstractmethod
    def advance(self, body: Any, records: list[Record]) -> Mapping[str, QueryValue] | None:
        """Parameters of the next request, or None when this page was the last."""

    def keep(self, records: list[Record]) -> list[Record]:
        """Records of a page worth handing on (keyset paging drops boundary repeats)."""
        return records

    @property
    @abstractmethod
    def position(self) -> str | None:
        """Resume position after the last page advanced past."""


class PageNumberPaginator(Paginator):
    """``page``/``per_page``; the end is the server saying so, else a short or empty page."""

    def __init__(
        self,
        per_page: int,
        *,
        start_page: int = 1,
        is_last: IsLast | None = None,
        page_param: str = "page",
        size_param: str = "per_page",
    ) -> None:
        self.per_page = per_page
        self.page = start_page
        self._is_last = is_last
        self._page_param = page_param
        self._size_param = size_param
        self._done = False

    def first(self) -> Mapping[str, QueryValue]:
        return {self._page_param: self.page, self._size_param: self.per_page}

    def advance(self, body: Any, records: list[Record]) -> Mapping[str, QueryValue] | None:
        if _last(self._is_last, body, records, self.per_page):
            self._done = True
            return None
        self.page += 1
        return {self._page_param: self.page, self._size_param: self.per_page}

    @property
    def position(self) -> str | None:
        return None if self._done else str(self.page)


class OffsetPaginator(Paginator):
    """``limit``/``offset``; the end is a short page or the reported total."""

    def __init__(
        self, limit: int, *, offset: int = 0, total: Callable[[Any], int | None] | None = None
    ) -> None:
        self.limit = limit
        self.offset = offset
        self._total = total
        self._done = False

    def first(self) -> Mapping[str, QueryValue]:
        return {"limit": self.limit, "offset": self.offset}

    def advance(self, body: Any, records: list[Record]) -> Mapping[str, QueryValue] | None:
        self.offset += len(records)
        total = self._total(body) if self._total else None
        if len(records) < self.limit or (total is not None and self.offset >= total):
            self._done = True
            return None
        return {"limit": self.limit, "offset": self.offset}

    @property
    def position(self) -> str | None:
        return None if self._done else str(self.offset)


class KeysetPaginator(Paginator):
    """Pages ordered by a unique, increasing key, each asking for keys after the last one seen.

    A growing or changing result set cannot shift such pages. Whether the server's lower bound
    is inclusive or not is not documented, so records at or below the last key are dropped;
    keys that do not increase mean the server ignored the ordering, which is refused rather
    than risking a skipped record.
    """

    def __init__(
        self,
        per_page: int,
        *,
        after: str | None = None,
        key: str = "_id",
        after_param: str = "from__id",
        size_param: str = "per_page",
        order_params: Mapping[str, QueryValue] | None = None,
        is_last: IsLast | None = None,
    ) -> None:
        self.per_page = per_page
        self.after = after
        self._is_last = is_last
        self._key = key
        self._after_param = after_param
        self._size_param = size_param
        self._order = dict(order_params or {})
        self._done = False

    def _params(self) -> dict[str, QueryValue]:
        params: dict[str, QueryValue] = {self._size_param: self.per_page, **self._order}
        if self.after is not None:
            params[self._after_param] = self.after
        return params

    def first(self) -> Mapping[str, QueryValue]:
        return self._params()

    def keep(self, records: list[Record]) -> list[Record]:
        for number, record in enumerate(records, start=1):
            if record.get(self._key) in (None, ""):
                raise UnexpectedResponse(
                    f"record {number} of the page has no {self._key}, which every record of a "
                    f"listing paged by {self._key} must have",
                    body_excerpt=json.dumps(record, default=str)[:200],
                )
        keys = [str(record.get(self._key, "")) for record in records]
        if any(later <= earlier for earlier, later in itertools.pairwise(keys)):
            raise UnexpectedResponse(
                f"the server did not return records in increasing {self._key} order, so paging "
                "by it could skip records",
                body_excerpt=", ".join(keys[:5]),
            )
        if self.after is None:
            return records
        return [r for r, k in zip(records, keys, strict=True) if k > self.after]

    def advance(self, body: Any, records: list[Record]) -> Mapping[str, QueryValue] | None:
        # `records` here are the raw page: its end, whatever was dropped, is where to go on.
        if records:
            self.after = str(records[-1].get(self._key))
        if not records or _last(self._is_last, body, records, self.per_page):
            self._done = True
            return None
        return self._params()

    @property
    def position(self) -> str | None:
        return self.after


async def paginate(
    client: JsonHttpClient,
    path: str,
    *,
    paginator: Paginator,
    extract: Extract,
    params: Mapping[str, QueryValue] | None = None,
    resource: str | None = None,
    total: Callable[[Any], int | None] | None = None,
    recount: Mapping[str, QueryValue] | None = None,
) -> AsyncIterator[Page]:
    """Yield the pages of a listing, one request each, in order. ``total`` reads the size of
    the whole listing from a page's body, where the API says it.

    ``recount``, for a listing read from its start: the paging parameters of a cheap request
    for the listing's size. A listing that ends with fewer records than the size it gave is
    counted again; when the count still says more, a page went missing and the listing fails
    (:class:`ShortListing`) before its last page is handed on. When the count went down, the
    records left the listing while it was read (an edit moved them past the scan's bound)."""
    base = dict(params or {})
    request: Mapping[str, QueryValue] | None = paginator.first()
    context = RequestContext(
        system=client.system, method="GET", path=path, url=client.url(path), resource=resource
    )
    guard = _EndGuard(client, path, context)
    previous: str | None = None
    while request is not None:
        fingerprint = json.dumps({**base, **request}, sort_keys=True, default=str)
        if fingerprint == previous:
            raise FatalRemoteError(
                f"{client.system} gave the same next page twice for {path}; stopping rather "
                "than paging forever",
                **context,
            )
        previous = fingerprint
        response = await client.request(
            "GET", path, operation="list", params={**base, **request}, resource=resource
        )
        asked = _paging(request)
        try:
            raw = extract(response.body)
        except UnexpectedResponse as error:
            shown = "an empty body" if response.body is None else error.body_excerpt
            raise UnexpectedResponse(
                f"{client.system}: GET {path}: {error.message} (it answered {shown})",
                body_excerpt=error.body_excerpt,
                **context,
            ) from None
        claimed = total(response.body) if total is not None else None
        try:
            records = paginator.keep(raw)
        except UnexpectedResponse as error:
            raise UnexpectedResponse(
                f"{client.system}: GET {path} ({asked}): {error.message}",
                body_excerpt=error.body_excerpt,
                **context,
            ) from None
        request = paginator.advance(response.body, raw)
        guard.check(raw, claimed, asked, more=request is not None)
        if request is None and recount is not None and total is not None:
            await _complete(client, path, guard, {**base, **recount}, total, resource, context)
        yield Page(records=records, position=paginator.position, total=claimed)


async def _complete(
    client: JsonHttpClient,
    path: str,
    guard: _EndGuard,
    params: Mapping[str, QueryValue],
    total: Callable[[Any], int | None],
    resource: str | None,
    context: RequestContext,
) -> None:
    """A listing that ended short of the size it gave is counted again (see :func:`paginate`)."""
    claimed = guard.claimed
    if claimed is None or guard.records >= claimed:
        return
    response = await client.request("GET", path, operation="list", params=params, resource=resource)
    now = total(response.body)
    if now is not None and now <= guard.records:
        log.info(
            "the listing shrank while it was read",
            path=path,
            claimed=claimed,
            records=guard.records,
            recount=now,
        )
        return
    pages = f"{guard.pages} page{'s' if guard.pages != 1 else ''}"
    again = f", and says {now} when asked again" if now is not None else ""
    raise ShortListing(
        f"{client.system} said {path} holds {claimed} records, but the listing ended after "
        f"{guard.records} records on {pages}{again}: a page went missing. The listing was "
        "stopped, and the cursor stays where it was",
        claimed=claimed,
        records=guard.records,
        now=now,
        **context,
    )


async def paginate_verified(
    client: JsonHttpClient,
    path: str,
    *,
    make_paginator: Callable[[], Paginator],
    extract: Extract,
    count_params: Mapping[str, QueryValue],
    total: Callable[[Any], int | None],
    params: Mapping[str, QueryValue] | None = None,
    resource: str | None = None,
    key: str = "_id",
    max_passes: int = 5,
) -> AsyncIterator[Page]:
    """Page numbers over a listing whose order is not known to be stable, made safe by a
    recount: after the last page, the listing's size is asked again; when it changed, or when
    fewer distinct records were seen than it now holds, a record may have moved past the
    pages already read, so the listing is read again and only records not seen yet are handed
    on. The size the final, verified pass saw is reported on a last, empty page.

    A listing that keeps changing for ``max_passes`` readings fails rather than passing
    for complete."""
    seen: set[str] = set()
    base = dict(params or {})
    for _ in range(max_passes):
        claimed: int | None = None
        async for page in paginate(
            client,
            path,
            paginator=make_paginator(),
            extract=extract,
            params=base,
            resource=resource,
            total=total,
        ):
            if claimed is None:
                claimed = page.total
            fresh = [record for record in page.records if str(record.get(key)) not in seen]
            seen.update(str(record.get(key)) for record in page.records)
            yield Page(records=fresh, position=page.position, rejected=page.rejected)
        response = await client.request(
            "GET", path, operation="list", params={**base, **count_params}, resource=resource
        )
        now = total(response.body)
        if now is None or claimed is None:
            return  # the server does not say how many: nothing to verify against
        if now == claimed and len(seen) >= now:
            yield Page(records=[], position=None, total=now)
            return
        log.info(
            "the listing changed while it was read; reading it again for what moved",
            path=path,
            before=claimed,
            after=now,
            seen=len(seen),
        )
    raise FatalRemoteError(
        f"{client.system} kept changing {path} while it was read ({max_passes} readings); "
        "the cursor stays and the next run reads it again",
        system=client.system,
        method="GET",
        path=path,
        url=client.url(path),
        resource=resource,
    )
