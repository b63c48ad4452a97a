"""Repzo's REST API, resource by resource, on the shared JSON HTTP client.

What is Repzo-specific lives here: the ``api-key`` header, paths from the generated registry
(the SDK's spelling where it differs from the spec's), the shapes of list responses, keyset
paging by ``_id`` with ``sortBy`` sent as JSON, DELETE as disable, ``update-integration-meta``
and the integration logs. Retrying, error classification and the paging loop are shared.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import httpx

from connectors.repzo.registry import Registry, Resource, load_registry
from connectors.repzo.settings import RepzoSettings
from syncer.connector import Page, Record, parse_instant
from syncer.remote.errors import SkippableRemoteError, UnexpectedResponse, UnsupportedQuery
from syncer.remote.http import JsonHttpClient, QueryValue
from syncer.remote.paging import (
    KeysetPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    paginate,
    paginate_verified,
)
from syncer.remote.retry import RetryPolicy, Sleep

SORT_BY_ID = [{"field": "_id", "type": "asc"}]
_PATH_PARAM = re.compile(r"\{[^}]+\}")
_PAGED_KEYS = ("total_result", "current_page", "next_page_url", "per_page")


def ms(moment: datetime) -> int:
    """Repzo's filters take milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def object_id_at(moment: datetime) -> str:
    """The smallest ObjectId created at ``moment``: ids start with their creation second, so
    this bounds an ``_id`` range by time."""
    return f"{int(moment.timestamp()):08x}" + "0" * 16


def excerpt(body: Any, limit: int = 200) -> str:
    text = repr(body)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def extract_records(style: str) -> Any:
    """The function that checks a list body of this style and returns its records."""

    def paged(body: Any) -> list[Record]:
        is_page = isinstance(body, dict) and any(key in body for key in _PAGED_KEYS)
        if is_page and isinstance(body.get("data"), list):
            return _records(body["data"], body)
        raise UnexpectedResponse(
            "the answer is not a Repzo list page ({total_result, next_page_url, data, ...}); "
            "is base_url the Repzo API?",
            body_excerpt=excerpt(body),
        )

    def limit_offset(body: Any) -> list[Record]:
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            return _records(body["data"], body)
        raise UnexpectedResponse(
            "the answer is not a {success, data, ...} list", body_excerpt=excerpt(body)
        )

    def bare_array(body: Any) -> list[Record]:
        if isinstance(body, list):
            return _records(body, body)
        raise UnexpectedResponse("the answer is not a JSON array", body_excerpt=excerpt(body))

    def single(body: Any) -> list[Record]:
        if isinstance(body, dict):
            return [body]
        raise UnexpectedResponse("the answer is not a JSON object", body_excerpt=excerpt(body))

    return {
        "paged": paged,
        "limit_offset_total": limit_offset,
        "limit_offset_pagination": limit_offset,
        "array": bare_array,
        "object": single,
    }[style]


def _records(items: list[Any], body: Any) -> list[Record]:
    if not all(isinstance(item, dict) for item in items):
        raise UnexpectedResponse("a list entry is not a JSON object", body_excerpt=excerpt(body))
    return items


class RepzoClient:
    """Async client for one Repzo account."""

    def __init__(
        self,
        settings: RepzoSettings,
        *,
        system: str = "repzo",
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        registry: Registry | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or load_registry()
        self.page_cap: int | None = None
        """The largest page this tenant serves, where ``syncer repzo probe`` found it."""
        self.http = JsonHttpClient(
            system=system,
            base_url=str(settings.base_url).rstrip("/"),
            headers={"api-key": settings.api_key.get_secret_value()},
            timeout=settings.timeout.total_seconds(),
            retry=RetryPolicy(
                max_total_wait=settings.max_retry_wait.total_seconds(),
                max_connect_wait=settings.max_connect_wait.total_seconds(),
            ),
            max_connections=max(8, settings.write_concurrency),
            transport=transport,
            sleep=sleep,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- resources and paths -------------------------------------------------------------

    def resource(self, name: str) -> Resource:
        """A resource by registry name or by the SDK's spelling (``pricelists``)."""
        return self.registry.by_stream(name)

    def path(self, resource: Resource, operation: str, record_id: str | None = None) -> str:
        op = resource.operations.get(operation) or resource.sub_actions.get(operation)
        if op is None:
            raise KeyError(f"Repzo resource {resource.name!r} has no {operation!r} operation")
        template = op.path
        if resource.sdk_path and template.startswith(resource.path):
            template = resource.sdk_path + template[len(resource.path) :]
        if record_id is not None:
            template = _PATH_PARAM.sub(record_id, template, count=1)
        return template

    # -- reading ---------------------------------------------------------------------------

    def pages(
        self,
        resource: Resource,
        *,
        filters: Mapping[str, QueryValue] | None = None,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        after: str | None = None,
        before_id: str | None = None,
        page_size: int | None = None,
        verify: bool = True,
    ) -> AsyncIterator[Page]:
        """Pages of a collection. Keyset by ``_id`` wherever the SDK lists ``from__id`` and
        ``sortBy`` for it (a stable order, resumable from ``after``); page numbers otherwise,
        verified by a recount (``verify``) since their order may shift during the scan.

        Only parameters the SDK lists for the resource are sent: an upper bound it does not
        take (``to_updatedAt``, ``to__id``) is left out, and the scan drops what lies beyond
        it, because a server may read an unknown parameter as an equality filter and answer
        with empty pages."""
        size = self.page_size(page_size)
        params: dict[str, QueryValue] = dict(filters or {})
        if updated_from is not None or updated_to is not None:
            if not resource.updated_at_filter:
                raise ValueError(f"Repzo resource {resource.name!r} has no updatedAt filter")
            if updated_from is not None:
                params["from_updatedAt"] = ms(updated_from)
            if updated_to is not None and resource.updated_to_filter:
                params["to_updatedAt"] = ms(updated_to)
        if before_id is not None and accepts(resource, "to__id"):
            params["to__id"] = before_id
        check_params(resource, params, system=self.http.system)
        path = self.path(resource, "list")
        style = resource.list_style
        if resource.id_keyset and style == "paged":
            pages = paginate(
                self.http,
                path,
                paginator=KeysetPaginator(
                    size, after=after, order_params={"sortBy": SORT_BY_ID}, is_last=last_page
                ),
                extract=extract_records(style),
                params=params,
                resource=resource.name,
                total=_total_result,
                # A listing read from its start is counted again when it ends short.
                recount={"per_page": 1} if verify and after is None else None,
            )
        elif style == "paged":
            if resource.sort_by:
                params["sortBy"] = SORT_BY_ID
            start = int(after) if after else 1
            if verify and start == 1:
                pages = paginate_verified(
                    self.http,
                    path,
                    make_paginator=lambda: PageNumberPaginator(size, is_last=last_page),
                    extract=extract_records(style),
                    count_params={"page": 1, "per_page": 1},
                    total=_total_result,
                    params=params,
                    resource=resource.name,
                )
            else:
                pages = paginate(
                    self.http,
                    path,
                    paginator=PageNumberPaginator(size, start_page=start, is_last=last_page),
                    extract=extract_records(style),
                    params=params,
                    resource=resource.name,
                    total=_total_result,
                )
        elif style.startswith("limit_offset"):
            pages = paginate(
                self.http,
                path,
                paginator=OffsetPaginator(size, offset=int(after) if after else 0, total=_total),
                extract=extract_records(style),
                params=params,
                resource=resource.name,
            )
        else:
            raise ValueError(f"Repzo resource {resource.name!r} cannot be listed")
        if updated_to is not None and not resource.updated_to_filter:
            pages = _up_to_time(pages, updated_to)
        if before_id is not None and not accepts(resource, "to__id"):
            pages = _up_to_id(pages, before_id)
        return pages

    def page_size(self, asked: int | None = None) -> int:
        """Records to ask for per page: what the flow or the settings say, never more than
        the cap ``syncer repzo probe`` found on this tenant."""
        size = asked or self.settings.page_size
        return min(size, self.page_cap) if self.page_cap else size

    async def get(self, resource: Resource, record_id: str) -> Record | None:
        """The record, or None when Repzo says it does not exist."""
        try:
            response = await self.http.request(
                "GET",
                self.path(resource, "get", record_id),
                operation="get",
                resource=resource.name,
                record_id=record_id,
            )
        except SkippableRemoteError as error:
            if error.status == 404:
                return None
            raise
        return _expect_object(response.body)

    async def find(
        self, resource: Resource, filters: Mapping[str, QueryValue], *, limit: int = 100
    ) -> list[Record]:
        """Records matching server-side filters (at most ``limit``): look-ups by key."""
        found: list[Record] = []
        pages = self.pages(resource, filters=filters, page_size=min(limit, 500), verify=False)
        async for page in pages:
            found.extend(page.records)
            if len(found) >= limit:
                break
        return found[:limit]

    # -- writing ---------------------------------------------------------------------------

    async def create(
        self,
        resource: Resource,
        body: Record,
        *,
        idempotent: bool = False,
        retry: RetryPolicy | None = None,
    ) -> Record:
        """POST a new record. Not idempotent unless the resource upserts by a key it carries."""
        response = await self.http.request(
            "POST",
            self.path(resource, "create"),
            operation="write",
            json_body=body,
            idempotent=idempotent or resource.upsert_key is not None,
            resource=resource.name,
            retry=retry,
        )
        return _expect_object(response.body)

    async def update(self, resource: Resource, record_id: str, body: Record) -> Record:
        response = await self.http.request(
            "PUT",
            self.path(resource, "update", record_id),
            operation="write",
            json_body=body,
            resource=resource.name,
            record_id=record_id,
        )
        return _expect_object(response.body)

    async def delete(self, resource: Resource, record_id: str) -> Record | None:
        """Repzo's DELETE disables the record (``disabled: true``)."""
        response = await self.http.request(
            "DELETE",
            self.path(resource, "delete", record_id),
            operation="write",
            resource=resource.name,
            record_id=record_id,
        )
        return response.body if isinstance(response.body, dict) else None

    async def update_integration_meta(
        self, resource: Resource, record_id: str, values: Mapping[str, Any]
    ) -> Any:
        """Set ``integration_meta`` keys, keeping the others.

        Through ``POST /update-integration-meta`` where its ``type`` for the resource is known:
        unlike a PUT it fires no webhook, so it cannot start an echo loop. Elsewhere through a
        PUT: of the dotted keys where the SDK's update body takes them (rep), else of the whole
        ``integration_meta`` with the record's current keys merged in. That PUT changes
        ``updatedAt`` and fires Repzo's webhooks; the next scan sees nothing to sync in it."""
        if resource.meta_type is not None:
            meta = self.resource("update-integration-meta")
            response = await self.http.request(
                "POST",
                self.path(meta, "create"),
                operation="write",
                params={"_id": record_id, "type": resource.meta_type},
                json_body=[{"key": key, "value": value} for key, value in values.items()],
                idempotent=True,
                resource=resource.name,
                record_id=record_id,
            )
            return response.body
        if "integration_meta." in resource.update_prefixes:
            body: Record = {f"integration_meta.{key}": value for key, value in values.items()}
        elif not resource.update_fields or "integration_meta" in resource.update_fields:
            current = await self.get(resource, record_id)
            if current is None:
                raise SkippableRemoteError(
                    f"{resource.name} {record_id} no longer exists in Repzo",
                    resource=resource.name,
                    record_id=record_id,
                    status=404,
                )
            merged = current.get("integration_meta")
            body = {"integration_meta": {**(merged if isinstance(merged, dict) else {}), **values}}
        else:
            raise ValueError(f"Repzo resource {resource.name!r} cannot store integration_meta")
        return await self.update(resource, record_id, body)

    # -- integration logs ------------------------------------------------------------------

    async def integration_app(self, app_id: str) -> Record | None:
        """The integration app the logs belong to, with its catalogue entry populated."""
        resource = self.resource("integration-app")
        response = await self.http.request(
            "GET",
            self.path(resource, "get", app_id),
            operation="get",
            params={"populatedKeys": ["available_app"]},
            resource=resource.name,
            record_id=app_id,
        )
        return _expect_object(response.body)

    async def save_log(
        self, kind: str, document: Record, *, retry: RetryPolicy | None = None
    ) -> Record:
        """Save an integration command or action log: the whole document, POSTed again with
        the same ``sync_id`` on every change (the server upserts by it, as the SDK relies on)."""
        resource = self.resource(f"integration-{kind}-log")
        return await self.create(resource, document, idempotent=True, retry=retry)

    async def find_log(self, kind: str, sync_id: str) -> Record | None:
        resource = self.resource(f"integration-{kind}-log")
        found = await self.find(resource, {"sync_id": sync_id}, limit=1)
        return found[0] if found else None


def accepts(resource: Resource, name: str) -> bool:
    """Whether the SDK lists query parameter ``name`` for this resource's list (or an index
    signature lets it through, as ``integration_meta.*``). Unknown resources accept anything:
    nothing better is known about them."""
    if resource.list_params is None:
        return True
    name = name.removesuffix("[]")
    return name in resource.list_params or name.startswith(resource.list_param_prefixes)


def check_params(
    resource: Resource, params: Mapping[str, QueryValue], *, system: str = "repzo"
) -> None:
    """Refuse to send a parameter the SDK does not list for the resource: the real server may
    reject it, ignore it, or worse, filter by it (a mapping's identity path Repzo cannot filter
    by, for instance)."""
    unknown = tuple(sorted(name for name in params if not accepts(resource, name)))
    if unknown:
        raise UnsupportedQuery(
            f"Repzo's {resource.path} list cannot be filtered by {', '.join(unknown)}: the "
            f"official SDK lists {', '.join(resource.list_params or ())}"
            + (
                f" and {', '.join(p + '*' for p in resource.list_param_prefixes)}"
                if resource.list_param_prefixes
                else ""
            ),
            parameters=unknown,
            system=system,
            method="GET",
            path=resource.path,
            resource=resource.name,
        )


async def _up_to_time(pages: AsyncIterator[Page], bound: datetime) -> AsyncIterator[Page]:
    """The pages without records changed after ``bound``: the scan's upper bound, applied
    here because the resource takes no ``to_updatedAt``. Such a record is left for the next
    scan, which starts at or before the bound; writing it now would put a moment the scan did
    not fully see ahead of the cursor."""
    async for page in pages:
        records = [r for r in page.records if not _after(r.get("updatedAt"), bound)]
        yield Page(records=records, position=page.position, rejected=page.rejected, total=None)


def _after(stamp: Any, bound: datetime) -> bool:
    # Without a usable stamp the record stays: the engine decides what to do with it.
    moment = parse_instant(stamp)
    return moment is not None and moment > bound


async def _up_to_id(pages: AsyncIterator[Page], last_id: str) -> AsyncIterator[Page]:
    """The pages without records whose ``_id`` is above ``last_id``: the id bound a resource
    without ``to__id`` cannot be sent."""
    async for page in pages:
        records = [r for r in page.records if str(r.get("_id", "")) <= last_id]
        yield Page(records=records, position=page.position, rejected=page.rejected, total=None)


def last_page(body: Any, records: list[Record]) -> bool | None:
    """Whether a Repzo page is the last, as its envelope says: ``next_page_url`` (null at the
    end), else fewer records than the ``per_page`` it echoes. Never a page shorter than what was
    asked for: Repzo may cap the page size (many resources document 100)."""
    if not isinstance(body, dict):
        return None
    if "next_page_url" in body:
        return body["next_page_url"] is None
    served = body.get("per_page")
    if isinstance(served, int) and not isinstance(served, bool) and served > 0:
        return len(records) < served
    return None


def _total_result(body: Any) -> int | None:
    """``total_result`` of a paged answer: the records the whole (filtered) listing holds."""
    value = body.get("total_result") if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _total(body: Any) -> int | None:
    if isinstance(body, dict):
        total = body.get("total")
        if total is None and isinstance(body.get("pagination"), dict):
            total = body["pagination"].get("total")
        return int(total) if isinstance(total, int | float) else None
    return None


def _expect_object(body: Any) -> Record:
    if isinstance(body, dict):
        # Some Repzo answers wrap the document ({success, data}); most return it bare.
        data = body.get("data")
        if isinstance(data, dict) and "_id" not in body:
            return data
        return body
    raise UnexpectedResponse("expected a JSON object", body_excerpt=excerpt(body))
