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
from syncer.connector import Page, Record
from syncer.remote.errors import SkippableRemoteError, UnexpectedResponse
from syncer.remote.http import JsonHttpClient, QueryValue
from syncer.remote.paging import (
    KeysetPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    paginate,
)
from syncer.remote.retry import RetryPolicy, Sleep

SORT_BY_ID = [{"field": "_id", "type": "asc"}]
_PATH_PARAM = re.compile(r"\{[^}]+\}")
_PAGED_KEYS = ("total_result", "current_page", "next_page_url", "per_page")

# update-integration-meta names collections in the plural form the SDK uses.
META_TYPES = {
    "client": "clients",
    "payments": "payments",
    "fullinvoices": "fullinvoices",
    "proforma": "proformas",
    "transfer": "transfers",
}


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
        self._aliases = {
            (r.sdk_path or r.path).lstrip("/"): r for r in self.registry.resources.values()
        }
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
        found = self._aliases.get(name.strip("/"))
        return found if found is not None else self.registry.get(name.strip("/"))

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
    ) -> AsyncIterator[Page]:
        """Pages of a collection. Keyset by ``_id`` wherever the resource allows it (a stable
        order, resumable from ``after``); page numbers or offsets otherwise."""
        size = page_size or self.settings.page_size
        params: dict[str, QueryValue] = dict(filters or {})
        if updated_from is not None or updated_to is not None:
            if not resource.updated_at_filter:
                raise ValueError(f"Repzo resource {resource.name!r} has no updatedAt filter")
            params["from_updatedAt"] = ms(updated_from) if updated_from else None
            params["to_updatedAt"] = ms(updated_to) if updated_to else None
        if before_id is not None:
            params["to__id"] = before_id
        paginator: Paginator
        if resource.id_keyset and resource.list_style == "paged":
            paginator = KeysetPaginator(
                size, after=after, order_params={"sortBy": SORT_BY_ID}, is_last=last_page
            )
        elif resource.list_style == "paged":
            paginator = PageNumberPaginator(
                size, start_page=int(after) if after else 1, is_last=last_page
            )
        elif resource.list_style.startswith("limit_offset"):
            paginator = OffsetPaginator(size, offset=int(after) if after else 0, total=_total)
        else:
            raise ValueError(f"Repzo resource {resource.name!r} cannot be listed")
        return paginate(
            self.http,
            self.path(resource, "list"),
            paginator=paginator,
            extract=extract_records(resource.list_style),
            params=params,
            resource=resource.name,
            total=_total_result,
        )

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
        async for page in self.pages(resource, filters=filters, page_size=min(limit, 500)):
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
        """Set ``integration_meta`` keys without a plain PUT, which would re-fire Repzo's
        webhooks and could start an echo loop."""
        meta = self.resource("update-integration-meta")
        response = await self.http.request(
            "POST",
            self.path(meta, "create"),
            operation="write",
            params={"_id": record_id, "type": META_TYPES.get(resource.name, resource.name)},
            json_body=[{"key": key, "value": value} for key, value in values.items()],
            idempotent=True,
            resource=resource.name,
            record_id=record_id,
        )
        return response.body

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
