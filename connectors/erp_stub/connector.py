"""The ERP stub connector: the stand-in ERP's REST API, on the shared HTTP machinery.

Only what is particular to this ERP lives here: Basic auth, its entities, its pages (an opaque
cursor plus ``updated_since``), its error bodies, JSON Merge Patch updates, and creates whose
lost answers are settled by a lookup, never by posting again. Retries, the error table and the
paging loop are shared with the Repzo connector.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from connectors.erp_stub.settings import ErpStubSettings
from syncer.connector import (
    CheckResult,
    Page,
    ReadRequest,
    Record,
    StreamInfo,
    WriteOp,
    WriteResult,
    find_stream,
    write_each,
)
from syncer.remote.errors import (
    FatalRemoteError,
    RemoteError,
    RetryBudgetExhausted,
    SkippableRemoteError,
    UncertainWrite,
    UnexpectedResponse,
)
from syncer.remote.guarded import create_once
from syncer.remote.http import JsonHttpClient, QueryValue
from syncer.remote.paging import Paginator, paginate
from syncer.remote.retry import RetryPolicy, Sleep

API = "/api/v1"
CHECK_RETRY = RetryPolicy(max_attempts=2, initial_wait=0.5, max_total_wait=5.0)
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True, slots=True)
class Entity:
    key: str
    documents: bool = False
    """Posted once, found by ``number``, never updated or deleted."""


ENTITIES: dict[str, Entity] = {
    "customers": Entity("id"),
    "item_groups": Entity("code"),
    "items": Entity("code"),
    "taxes": Entity("code"),
    "price_lists": Entity("code"),
    "price_list_lines": Entity("id"),
    "warehouses": Entity("code"),
    "stock_levels": Entity("id"),
    "invoices": Entity("id", documents=True),
    "credit_notes": Entity("id", documents=True),
    "payments": Entity("id", documents=True),
    "refunds": Entity("id", documents=True),
}


def error_parser(body: Any) -> tuple[str | None, str | None]:
    """The ERP answers errors with ``{"error": {"code", "message", "fields"}}``."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = error.get("message")
        fields = error.get("fields")
        if isinstance(fields, dict) and fields:
            details = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
            message = f"{message} ({details})" if message else details
        code = error.get("code")
        return (str(message) if message else None, str(code) if code else None)
    return None, None


def extract(body: Any) -> list[Record]:
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        items: list[Record] = body["items"]
        if all(isinstance(item, dict) for item in items):
            return items
    raise UnexpectedResponse(
        "the answer is not an ERP stub page ({items, next_cursor}); is base_url the ERP stub?",
        body_excerpt=repr(body)[:200],
    )


class CursorPaginator(Paginator):
    """The ERP's own paging: an opaque ``cursor`` from each page's ``next_cursor``."""

    def __init__(self, limit: int, after: str | None) -> None:
        self.limit = limit
        self.cursor = after

    def first(self) -> Mapping[str, QueryValue]:
        return {"limit": self.limit, "cursor": self.cursor}

    def advance(self, body: Any, records: list[Record]) -> Mapping[str, QueryValue] | None:
        following = body.get("next_cursor") if isinstance(body, dict) else None
        if not following:
            return None
        self.cursor = str(following)
        return {"limit": self.limit, "cursor": self.cursor}

    @property
    def position(self) -> str | None:
        return self.cursor


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


class ErpStubConnector:
    """Reads and writes the ERP stub's customers, items, price lists and documents (invoices,
    credit notes, payments, refunds)."""

    type_name: ClassVar[str] = "erp_stub"
    settings_model: ClassVar[type[ErpStubSettings]] = ErpStubSettings

    def __init__(
        self,
        name: str,
        settings: ErpStubSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self.settings = settings
        self.http = JsonHttpClient(
            system=name,
            base_url=str(settings.base_url).rstrip("/"),
            auth=httpx.BasicAuth(settings.username, settings.password.get_secret_value()),
            timeout=settings.timeout.total_seconds(),
            retry=RetryPolicy(
                max_total_wait=settings.max_retry_wait.total_seconds(),
                max_connect_wait=settings.max_connect_wait.total_seconds(),
            ),
            error_parser=error_parser,
            transport=transport,
            sleep=sleep,
        )
        self._streams = {
            stream: StreamInfo(
                name=stream,
                key=entity.key,
                cursor="updated_at",
                updated_field="updated_at",
                can_read=True,
                can_create=True,
                can_update=not entity.documents,
                can_delete=not entity.documents,
                lookup_fields=(entity.key, "number") if entity.documents else (entity.key,),
                resumable=True,
                # Customers and documents get the ERP's own numbers; items, taxes and price
                # lists keep the code they are created with.
                assigns_ids=entity.key == "id",
            )
            for stream, entity in ENTITIES.items()
        }

    async def aclose(self) -> None:
        await self.http.aclose()

    def streams(self) -> Mapping[str, StreamInfo]:
        return self._streams

    def _entity(self, stream: str) -> Entity:
        find_stream(self._streams, stream, self.name)
        return ENTITIES[stream]

    async def check(self) -> CheckResult:
        url = str(self.settings.base_url)
        try:
            response = await self.http.request(
                "GET", f"{API}/customers", operation="list", params={"limit": 1}, retry=CHECK_RETRY
            )
        except RetryBudgetExhausted as error:
            return CheckResult(False, f"cannot reach the ERP at {url}: {error.message}")
        except FatalRemoteError as error:
            if error.status in (401, 403):
                return CheckResult(
                    False,
                    f"the ERP at {url} refused user {self.settings.username!r} ({error.status})",
                )
            return CheckResult(False, f"the ERP at {url}: {error.message}")
        except RemoteError as error:
            return CheckResult(False, f"cannot reach the ERP at {url}: {error.message}")
        try:
            extract(response.body)
        except UnexpectedResponse as error:
            return CheckResult(
                False, f"{url} answered, but not like the ERP stub: {error.body_excerpt}"
            )
        return CheckResult(True, f"the ERP at {url} accepted the user {self.settings.username!r}")

    async def server_time(self) -> datetime:
        await self.http.request("GET", f"{API}/customers", operation="list", params={"limit": 1})
        return self.http.server_time or datetime.now(UTC)

    async def read(self, stream: str, request: ReadRequest) -> AsyncIterator[Page]:
        self._entity(stream)
        params: dict[str, QueryValue] = dict(request.filters)
        if request.updated_from is not None:
            params["updated_since"] = request.updated_from.isoformat()
        limit = request.page_size or self.settings.page_size
        pages = paginate(
            self.http,
            f"{API}/{stream}",
            paginator=CursorPaginator(limit, request.after),
            extract=extract,
            params=params,
            resource=stream,
        )
        bound = request.updated_to
        async for page in pages:
            if bound is None:
                yield page
                continue
            # The ERP has no upper bound filter, but pages come in updated_at order: the first
            # record past the scan's bound ends the scan; it belongs to the next one.
            kept: list[Record] = []
            for record in page.records:
                moment = _parse_time(record.get("updated_at"))
                if moment is not None and moment > bound:
                    yield Page(kept, None)
                    return
                kept.append(record)
            yield Page(kept, page.position)

    async def get(self, stream: str, native_id: str) -> Record | None:
        self._entity(stream)
        try:
            response = await self.http.request(
                "GET",
                f"{API}/{stream}/{native_id}",
                operation="get",
                resource=stream,
                record_id=native_id,
            )
        except SkippableRemoteError as error:
            if error.status == 404:
                return None
            raise
        return response.body if isinstance(response.body, dict) else None

    async def lookup(self, stream: str, field: str, values: Sequence[str]) -> list[Record]:
        found: list[Record] = []
        for start in range(0, len(values), 100):
            chunk = ",".join(values[start : start + 100])
            async for page in self.read(stream, ReadRequest(filters={field: chunk}, page_size=200)):
                found.extend(page.records)
        return found

    async def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        entity = self._entity(stream)

        async def one(op: WriteOp) -> WriteResult:
            try:
                return await self._write_one(stream, entity, op)
            except (SkippableRemoteError, UncertainWrite) as error:
                return WriteResult(op.ref, "failed", native_id=op.native_id, error=error)

        return await write_each(one, ops, self.settings.write_concurrency)

    async def _write_one(self, stream: str, entity: Entity, op: WriteOp) -> WriteResult:
        if op.kind == "create":
            stored = await self._guarded_create(stream, op)
            return WriteResult(
                op.ref, "created", native_id=str(stored.get(entity.key)), record=stored
            )
        if op.native_id is None:
            raise ValueError(f"{op.kind} of {op.ref!r} needs the native id")
        if op.kind == "update":
            response = await self.http.request(
                "PATCH",
                f"{API}/{stream}/{op.native_id}",
                operation="write",
                json_body=op.record,
                resource=stream,
                record_id=op.native_id,
                headers={"content-type": MERGE_PATCH},
            )
            stored = response.body if isinstance(response.body, dict) else {}
            return WriteResult(op.ref, "updated", native_id=op.native_id, record=stored)
        response = await self.http.request(
            "DELETE",
            f"{API}/{stream}/{op.native_id}",
            operation="write",
            resource=stream,
            record_id=op.native_id,
        )
        deleted = response.body if isinstance(response.body, dict) else None
        return WriteResult(op.ref, "deleted", native_id=op.native_id, record=deleted)

    async def _guarded_create(self, stream: str, op: WriteOp) -> Record:
        """POST, never twice: many ERPs (and the stub without deduplication) create a second
        invoice for a second POST of its number, so a lost answer is settled by a lookup by the
        record's key, never by posting blindly."""

        async def create() -> Record:
            response = await self.http.request(
                "POST", f"{API}/{stream}", operation="write", json_body=op.record, resource=stream
            )
            return response.body if isinstance(response.body, dict) else {}

        async def find(field: str, value: str) -> list[Record]:
            return await self.lookup(stream, field, [value])

        return await create_once(op, create, find)
