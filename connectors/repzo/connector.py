"""The Repzo connector: every registry resource is a stream."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import httpx
from pydantic import ValidationError

from connectors.repzo.client import RepzoClient, accepts, excerpt, object_id_at
from connectors.repzo.fields import unknown_paths
from connectors.repzo.integration_logs import AppIdentity
from connectors.repzo.registry import Resource, load_registry
from connectors.repzo.settings import RepzoSettings
from syncer.concurrency import bounded_map
from syncer.connector import (
    CheckResult,
    Page,
    ReadRequest,
    Record,
    StreamInfo,
    WriteOp,
    WriteResult,
    find_stream,
    parse_instant,
    write_each,
)
from syncer.logs import get_logger
from syncer.mapping.spec import MappingSpec
from syncer.observe import RunDescription, RunObserver
from syncer.remote.errors import (
    FatalRemoteError,
    RemoteError,
    RetryBudgetExhausted,
    SkippableRemoteError,
    UncertainWrite,
    UnexpectedResponse,
)
from syncer.remote.guarded import create_once
from syncer.remote.retry import RetryPolicy, Sleep
from syncer.yamlsource import load_yaml

log = get_logger(__name__)

CHECK_RETRY = RetryPolicy(max_attempts=2, initial_wait=0.5, max_total_wait=5.0)
"""A connection check fails fast: a person is waiting for its answer."""
DOCUMENTS = frozenset({"fullinvoices", "payments", "proforma", "refund", "transfer"})
"""Documents carry ``serial_number.formatted`` (e.g. INV-1021-4), which Repzo's integrations
filter by to find a document before pushing it (the specs do not show the field)."""


def stream_info(name: str, resource: Resource) -> StreamInfo:
    cursor = {"updatedAt": "updated_at", "_id": "id"}.get(resource.cursor or "", "none")
    wanted = ["_id", "integration_meta.id"]
    if resource.name in DOCUMENTS:
        wanted.append("serial_number.formatted")
    # Only look records up by what the SDK says the list filters by.
    lookups = [name for name in wanted if accepts(resource, name)]
    readable = "list" in resource.operations and resource.list_style != "none"
    return StreamInfo(
        name=name,
        key="_id",
        cursor=cursor,  # type: ignore[arg-type]  # the mapping above only yields CursorKinds
        updated_field="updatedAt" if cursor == "updated_at" else None,
        can_read=readable,
        can_create="create" in resource.operations,
        can_update="update" in resource.operations,
        can_delete="delete" in resource.operations and resource.delete_disables,
        lookup_fields=tuple(lookups) if readable else (),
        resumable=readable and resource.id_keyset and resource.list_style == "paged",
        assigns_ids=True,
    )


class RepzoConnector:
    """Reads and writes Repzo resources through its REST API."""

    type_name: ClassVar[str] = "repzo"
    settings_model: ClassVar[type[RepzoSettings]] = RepzoSettings

    def __init__(
        self,
        name: str,
        settings: RepzoSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client = RepzoClient(settings, system=name, transport=transport, sleep=sleep)
        self._identity: AppIdentity | None = None
        self._streams = {
            resource.stream: stream_info(resource.stream, resource)
            for resource in self.client.registry.resources.values()
        }

    @classmethod
    def stream_names(cls) -> frozenset[str]:
        """The streams every Repzo connector has, from the generated registry alone: the
        configuration is checked with this, without credentials or a network connection."""
        return frozenset(resource.stream for resource in load_registry().resources.values())

    @classmethod
    def mapping_notes(cls, stream: str, mapping_file: Path) -> list[str]:
        """Native paths of a mapping for this stream that the official SDK's types lack, for
        ``syncer check`` to show: most likely a typo or a guess Repzo would ignore or refuse."""
        try:
            resource = load_registry().by_stream(stream)
        except KeyError:
            return []  # the configuration check names an unknown stream already
        # The parse loading the configuration made of the file is reused, not done again.
        document = load_yaml(mapping_file, os.environ)
        try:
            spec = MappingSpec.model_validate(document.data)
        except ValidationError:
            return []  # loading the configuration has already reported what is wrong with it
        return [problem.message(resource) for problem in unknown_paths(spec, resource)]

    async def aclose(self) -> None:
        await self.client.aclose()

    def streams(self) -> Mapping[str, StreamInfo]:
        return self._streams

    def _resource(self, stream: str) -> Resource:
        info = find_stream(self._streams, stream, self.name)
        return self.client.resource(info.name)

    async def check(self) -> CheckResult:
        url = str(self.settings.base_url)
        client = self.client.resource("client")
        try:
            response = await self.client.http.request(
                "GET",
                self.client.path(client, "list"),
                operation="list",
                params={"per_page": 1},
                resource="client",
                retry=CHECK_RETRY,
            )
        except RetryBudgetExhausted as error:
            return CheckResult(False, f"cannot reach Repzo at {url}: {error.message}")
        except FatalRemoteError as error:
            if error.status in (401, 403):
                return CheckResult(False, f"Repzo at {url} refused the API key ({error.status})")
            return CheckResult(False, f"Repzo at {url}: {error.message}")
        except RemoteError as error:
            return CheckResult(False, f"cannot reach Repzo at {url}: {error.message}")
        body = response.body
        if not (isinstance(body, dict) and isinstance(body.get("data"), list)):
            return CheckResult(
                False, f"{url} answered, but not like the Repzo API: {excerpt(body, 120)}"
            )
        total = body.get("total_result", "?")
        return CheckResult(True, f"Repzo at {url} accepted the API key ({total} clients)")

    async def server_time(self) -> datetime:
        """Repzo's clock, from the ``Date`` header of a fresh, cheap request (one per scan):
        never the local clock, which may be off, and never an extrapolation."""
        await self.client.http.request(
            "GET",
            self.client.path(self.client.resource("client"), "list"),
            operation="list",
            params={"per_page": 1},
            resource="client",
        )
        now = self.client.http.server_time
        if now is None:
            log.warning("Repzo sent no Date header; using the local clock", connector=self.name)
            return datetime.now(UTC)
        return now

    def read(self, stream: str, request: ReadRequest) -> AsyncIterator[Page]:
        info = find_stream(self._streams, stream, self.name)
        resource = self.client.resource(stream)
        if not info.can_read:
            raise ValueError(f"Repzo stream {stream!r} cannot be read")
        if info.cursor == "id":
            # Append-only documents: ids grow with creation time, so the scan's time bound
            # becomes an id bound and a document created mid-scan waits for the next one.
            before = object_id_at(request.updated_to) if request.updated_to else None
            return self.client.pages(
                resource,
                filters=dict(request.filters),
                after=request.after,
                before_id=before,
                page_size=request.page_size,
            )
        pages = self.client.pages(
            resource,
            filters=dict(request.filters),
            updated_from=request.updated_from if info.cursor == "updated_at" else None,
            updated_to=request.updated_to if info.cursor == "updated_at" else None,
            after=request.after,
            page_size=request.page_size,
        )
        if info.cursor == "updated_at" and info.updated_field:
            return self._stamps_checked(pages, stream, info.updated_field)
        return pages

    async def _stamps_checked(
        self, pages: AsyncIterator[Page], stream: str, field: str
    ) -> AsyncIterator[Page]:
        """Pages as they come, with a warning for each record whose last-modified value is
        not a time: it is synced (its fields are what matters), but it cannot place the
        record in time, so it moves no cursor and a person should know Repzo sent it."""
        async for page in pages:
            for record in page.records:
                stamp = record.get(field)
                if stamp is not None and parse_instant(stamp) is None:
                    log.warning(
                        "a record's last-modified value is not a time: it is synced, but "
                        "cannot move the cursor",
                        connector=self.name,
                        stream=stream,
                        record=str(record.get("_id")),
                        field=field,
                        value=excerpt(stamp, 60),
                    )
            yield page

    async def get(self, stream: str, native_id: str) -> Record | None:
        return await self.client.get(self._resource(stream), native_id)

    async def lookup(self, stream: str, field: str, values: Sequence[str]) -> list[Record]:
        resource = self._resource(stream)
        chunks = [list(values[start : start + 100]) for start in range(0, len(values), 100)]

        async def find(chunk: list[str]) -> list[Record]:  # 100 a request keeps URLs short
            return await self.client.find(resource, {field: chunk}, limit=len(chunk) * 2)

        # A batch of new records is looked up before it is created: as many requests in
        # flight as writes, so the look-ups do not hold the writes up.
        found = await bounded_map(find, chunks, self.settings.write_concurrency)
        return [record for records in found for record in records]

    async def annotate(self, stream: str, native_id: str, values: Mapping[str, object]) -> None:
        """Store another system's key on a Repzo record without it counting as a change:
        ``integration_meta`` keys through update-integration-meta, which fires no webhook and,
        unlike a PUT, cannot start an echo loop."""
        prefix = "integration_meta."
        meta = {
            path[len(prefix) :]: value for path, value in values.items() if path.startswith(prefix)
        }
        if meta:
            await self.client.update_integration_meta(self._resource(stream), native_id, meta)

    async def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        resource = self._resource(stream)

        async def one(op: WriteOp) -> WriteResult:
            try:
                return await self._write_one(resource, op)
            except SkippableRemoteError as error:
                return WriteResult(op.ref, "failed", native_id=op.native_id, error=error)
            except UncertainWrite as error:
                return WriteResult(op.ref, "failed", native_id=op.native_id, error=error)

        return await write_each(one, ops, self.settings.write_concurrency)

    async def _write_one(self, resource: Resource, op: WriteOp) -> WriteResult:
        if op.kind == "create":
            stored = await self._guarded_create(resource, op)
            return WriteResult(op.ref, "created", native_id=_id_of(stored), record=stored)
        if op.native_id is None:
            raise ValueError(f"{op.kind} of {op.ref!r} needs the native id")
        if op.kind == "update":
            stored = await self.client.update(resource, op.native_id, op.record)
            return WriteResult(op.ref, "updated", native_id=op.native_id, record=stored)
        deleted = await self.client.delete(resource, op.native_id)
        return WriteResult(op.ref, "deleted", native_id=op.native_id, record=deleted)

    async def _guarded_create(self, resource: Resource, op: WriteOp) -> Record:
        """Create, never twice: a lost answer is settled by a lookup by the record's key, or
        by its ``sync_id`` where the resource takes one (stock adjustments)."""
        if "sync_id" in resource.required_on_create and "sync_id" in resource.create_fields:
            record = dict(op.record)
            record.setdefault("sync_id", movement_id(resource.name, op.record))
            lookup = ("sync_id", str(record["sync_id"])) if accepts(resource, "sync_id") else None
            op = dataclasses.replace(op, record=record, lookup=lookup or op.lookup)

        async def find(field: str, value: str) -> list[Record]:
            return await self.client.find(resource, {field: value}, limit=2)

        body = op.record
        return await create_once(op, lambda: self.client.create(resource, body), find)

    def run_observer(self, run: RunDescription) -> RunObserver | None:
        """The integration logs of a run that touches this Repzo account. A log belongs to an
        integration app: without ``integration_app`` nothing is written (a log with no app is
        one Repzo shows nowhere), and the run says so."""
        if not self.settings.write_logs:
            return None
        if not self.settings.integration_app:
            log.warning(
                "Repzo integration logs are not written: set "
                f"connectors.{self.name}.integration_app to the _id of the integration app "
                "they belong to, or write_logs: false to silence this",
                connector=self.name,
            )
            return None
        # Imported here: the logs go through the state store's outbox, which `syncer check`
        # and the other commands that build a connector without running a flow never need.
        from connectors.repzo.log_observer import IntegrationLogObserver

        return IntegrationLogObserver(self, run)

    async def app_identity(self) -> AppIdentity:
        """Which integration app this account's logs belong to, read once per connector."""
        if self._identity is not None:
            return self._identity
        namespace = (self.settings.namespace,) if self.settings.namespace else ()
        app_id = self.settings.integration_app
        identity = AppIdentity(company_namespace=namespace)
        if app_id:
            try:
                app = await self.client.integration_app(app_id)
                identity = AppIdentity.from_app(app or {}, app_id=app_id, namespace=namespace)
            except RemoteError as error:
                log.warning(
                    "could not read the integration app; logs carry its id only",
                    error=error.message,
                )
                identity = AppIdentity(app_id=app_id, company_namespace=namespace)
        self._identity = identity
        return identity

    def use_findings(self, findings: Mapping[str, object]) -> None:
        """Take in what ``syncer repzo probe`` stored about this API; the engine calls this when
        it builds the connector. A page-size cap bounds every list request: asking for more
        than Repzo serves only brings short pages, and a short page whose envelope names no
        next page would pass for the last one."""
        cap = findings.get("per_page_cap")
        if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
            self.client.page_cap = cap
            if cap < self.settings.page_size:
                log.info(
                    "list pages capped by a probe finding",
                    connector=self.name,
                    page_size=self.settings.page_size,
                    per_page_cap=cap,
                )


def movement_id(stream: str, record: Record) -> str:
    """A ``sync_id`` that is the same for the same document: the stream and the body's
    content, hashed. A create retried after an answer was lost then cannot apply a stock
    movement twice, and the lookup before it finds the first one."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{stream}\n{canonical}".encode()).hexdigest()
    return f"syncer-{digest[:32]}"


def _id_of(record: Record) -> str:
    value = record.get("_id")
    if not isinstance(value, str):
        raise UnexpectedResponse("the created record has no _id", body_excerpt=excerpt(record))
    return value
