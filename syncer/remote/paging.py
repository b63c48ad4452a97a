"""The one pagination loop, and the paging schemes it drives.

A connector picks a :class:`Paginator` (page numbers, offsets, an id keyset, an opaque token)
and an ``extract`` function that checks the body's shape and returns its records; the loop here
sends, extracts, advances, yields, and refuses to page forever.
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

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
) -> AsyncIterator[Page]:
    """Yield the pages of a listing, one request each, in order. ``total`` reads the size of
    the whole listing from a page's body, where the API says it."""
    base = dict(params or {})
    request: Mapping[str, QueryValue] | None = paginator.first()
    context = RequestContext(
        system=client.system, method="GET", path=path, url=client.url(path), resource=resource
    )
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
        try:
            raw = extract(response.body)
        except UnexpectedResponse as error:
            raise UnexpectedResponse(
                error.message, body_excerpt=error.body_excerpt, **context
            ) from None
        records = paginator.keep(raw)
        request = paginator.advance(response.body, raw)
        yield Page(
            records=records,
            position=paginator.position,
            total=total(response.body) if total is not None else None,
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
