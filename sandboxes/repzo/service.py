"""Repzo's semantics for every registry resource: list, get, create, update, delete, sub-actions,
and the one special endpoint, ``POST /update-integration-meta``.

Nothing here is per resource except two documented policies: which log fields a re-POST appends
to (``APPEND_ON_UPSERT``), and how an update-integration-meta ``type`` finds its resource. What a
strict sandbox refuses before any of this runs is in ``strict``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from connectors.repzo.registry import Operation, Registry, Resource
from sandboxes.kit.clock import SandboxClock, iso_ms
from sandboxes.repzo.ids import ObjectIdFactory
from sandboxes.repzo.mutations import Edit, PagingMutator
from sandboxes.repzo.options import LENIENT_MAX_PER_PAGE, SandboxOptions
from sandboxes.repzo.protocol import ApiError, RawJson, Reply, Request, dump_json
from sandboxes.repzo.query import (
    ID_FIELD,
    ListQuery,
    Match,
    group_params,
    page_params,
    parse_list_query,
    window_params,
)
from sandboxes.repzo.routing import RouteMatch
from sandboxes.repzo.stats import StatsRecorder
from sandboxes.repzo.store import Document, DocumentStore, load_document
from sandboxes.repzo.strict import (
    SERVER_FIELDS,
    check_required,
    meta_type_resource,
    screen_body,
    screen_list_params,
)

UPDATE_META_PATH = "/update-integration-meta"
# A bare JSON array has no paging, so a page cap would drop records without a sign.
_ARRAY_LIMIT = LENIENT_MAX_PER_PAGE
# The SDK's CommandLog sends only the latest detail on each commit and its ActionLogs sends the
# whole list, so the server must append the former and replace the latter
# (REPZO-INTEGRATIONS.md §7.3). Every other upserted field is replaced.
APPEND_ON_UPSERT: dict[str, tuple[str, ...]] = {
    "integration-command-log": ("details", "sync_details", "error_details"),
}


class RepzoService:
    def __init__(
        self,
        registry: Registry,
        store: DocumentStore,
        clock: SandboxClock,
        ids: ObjectIdFactory,
        stats: StatsRecorder,
        mutator: PagingMutator,
        options: Callable[[], SandboxOptions],
    ) -> None:
        self._registry = registry
        self._store = store
        self._clock = clock
        self._ids = ids
        self._stats = stats
        self._mutator = mutator
        self._options = options

    def handle(self, match: RouteMatch, request: Request) -> Reply:
        resource, doc_id = match.resource, match.doc_id
        kind = match.route.kind
        if kind == "list":
            return self.list_documents(resource, request)
        if kind == "create":
            return self.create(resource, request.json())
        if kind == "action":
            return self.action(resource, match.route.operation, doc_id)
        assert doc_id is not None, "get/update/delete templates all carry {id}"
        if kind == "get":
            return Reply(200, self._require(resource, doc_id))
        if kind == "update":
            return self.update(resource, doc_id, request.json())
        return self.delete(resource, doc_id)

    # Reads

    def list_documents(self, resource: Resource, request: Request) -> Reply:
        options = self._options()
        if resource.list_style == "none":
            raise ApiError(405, f"Method GET is not supported by {resource.path}")
        params = screen_list_params(resource, request.query, options.resolved_unknown_params)
        query = parse_list_query(
            params, options.bound_rules(), implicit=options.resolved_implicit_order
        )
        self._apply(
            resource.name,
            self._mutator.before_list(resource.name, lambda: self._all_ids(resource.name)),
        )
        grouped = group_params(params)
        cap = options.resolved_max_per_page
        style = resource.list_style
        if style == "paged":
            page, per_page = page_params(grouped, options.default_per_page, cap)
            found = self._store.find(resource.name, query, per_page, (page - 1) * per_page)
            items = self._items(found.bodies, query)
            body = _paged(request, found.total or 0, page, per_page, len(found.ids), items)
        elif style in ("limit_offset_total", "limit_offset_pagination"):
            limit, offset = window_params(grouped, options.default_limit, cap)
            found = self._store.find(resource.name, query, limit, offset)
            items = self._items(found.bodies, query)
            body = _windowed(style, found.total or 0, limit, offset, items)
        else:
            limit = max(cap, _ARRAY_LIMIT) if style == "array" else 1
            found = self._store.find(resource.name, query, limit, count=False)
            items = self._items(found.bodies, query)
            if style == "array":
                body = RawJson(f"[{items}]")
            elif not items:
                raise ApiError(404, f"No {resource.name} found")
            else:
                body = RawJson(items)
        self._mutator.after_list(resource.name, found.ids)
        return Reply(200, body)

    def _items(self, bodies: list[str], query: ListQuery) -> str:
        """The documents as comma-separated JSON text, to splice into a reply."""
        if query.projection is not None:
            bodies = [dump_json(_project(load_document(body), query.projection)) for body in bodies]
        return ",".join(bodies)

    def _require(self, resource: Resource, doc_id: str) -> Document:
        doc = self._store.get(resource.name, doc_id)
        if doc is None:
            raise ApiError(404, f"{resource.name} {doc_id} not found")
        return doc

    def _all_ids(self, resource: str) -> list[str]:
        return self._store.find(resource, ListQuery(), count=False).ids

    # Writes

    def create(self, resource: Resource, body: Any) -> Reply:
        options = self._options()
        fields = _object(body)
        check_required(resource, fields, sdk=options.sdk_required)
        fields = screen_body(resource, fields, "create", options.resolved_unknown_fields)
        key = resource.upsert_key
        with self._store.lock:
            existing = None
            if key and fields.get(key) not in (None, ""):
                found = self._store.find_docs(
                    resource.name, ListQuery(filters=(Match(key, (fields[key],)),)), limit=1
                )
                existing = found[0] if found else None
            if existing is not None:
                doc = _upsert(existing, fields, APPEND_ON_UPSERT.get(resource.name, ()))
                self._stamp_updated(doc)
            else:
                doc = self._new_document(fields)
            self._store.save(resource.name, doc)
        self._stats.change(resource.name)
        # Feathers answers every create with 201, an upsert that found its document included.
        return Reply(201, doc)

    def update(self, resource: Resource, doc_id: str, body: Any) -> Reply:
        fields = screen_body(
            resource, _object(body), "update", self._options().resolved_unknown_fields
        )
        with self._store.lock:
            doc = self._require(resource, doc_id)
            before = _without_stamps(doc)
            for key, value in fields.items():
                if key not in SERVER_FIELDS:
                    set_path(doc, key, value)
            noop = _without_stamps(doc) == before
            self._stamp_updated(doc)
            self._store.save(resource.name, doc)
        self._stats.change(resource.name, noop=noop)
        return Reply(200, doc)

    def delete(self, resource: Resource, doc_id: str) -> Reply:
        with self._store.lock:
            doc = self._require(resource, doc_id)
            if resource.delete_disables:
                doc["disabled"] = True
                self._stamp_updated(doc)
                self._store.save(resource.name, doc)
            else:
                self._store.delete(resource.name, doc_id)
        self._stats.change(resource.name)
        return Reply(200, doc)

    def action(self, resource: Resource, operation: Operation, doc_id: str | None) -> Reply:
        """A registry sub-action: recorded, answered, no business logic. One on a document
        counts as a change to it, since Repzo would change its state."""
        self._stats.sub_action(resource.name, operation.name)
        if doc_id is None:
            return Reply(200, {"success": True, "action": operation.name, "data": []})
        if operation.method == "GET":
            return Reply(200, self._require(resource, doc_id))
        with self._store.lock:
            doc = self._require(resource, doc_id)
            self._stamp_updated(doc)
            self._store.save(resource.name, doc)
        self._stats.change(resource.name)
        return Reply(200, doc)

    def update_integration_meta(self, request: Request) -> Reply:
        """Set ``integration_meta`` keys without touching ``updatedAt``: how integrations write
        an external id back without re-firing webhooks (REPZO-INTEGRATIONS.md §1.9)."""
        doc_id = request.param("_id")
        type_name = request.param("type")
        if not doc_id or not type_name:
            raise ApiError(400, "_id and type are required query parameters")
        resource = self.resource_for_type(type_name)
        pairs = _meta_pairs(request.json())
        with self._store.lock:
            doc = self._require(resource, doc_id)
            meta = doc.get("integration_meta")
            if not isinstance(meta, dict):
                meta = doc["integration_meta"] = {}
            for key, value in pairs:
                set_path(meta, key, value)
            self._store.save(resource.name, doc)
        self._stats.meta_update(resource.name)
        return Reply(200, doc)

    def resource_for_type(self, type_name: str) -> Resource:
        """The resource an update-integration-meta ``type`` names: strictly, the one whose
        ``meta_type`` it is. Leniently (or while the registry knows no meta type), a guess:
        integrations send collection names (``clients``, ``proformas``, ``fullinvoices``) and
        the registry keys resources by path, mostly singular, so try the name, then without or
        with a trailing ``s``."""
        if self._options().exact_meta_types:
            found = meta_type_resource(self._registry, type_name)
            if found is not None:
                return found
        resources = self._registry.resources
        by_path = {
            path.strip("/"): resource
            for resource in resources.values()
            for path in (resource.path, resource.sdk_path)
            if path
        }
        for candidate in (type_name, type_name.removesuffix("s"), f"{type_name}s"):
            found = resources.get(candidate) or by_path.get(candidate)
            if found is not None:
                return found
        raise ApiError(400, f"Unknown type {type_name!r} for update-integration-meta")

    def touch(self, resource: str, ids: list[str]) -> list[str]:
        """Bump ``updatedAt`` of these documents as an edit made in Repzo's UI would; recorded
        as mutations, not change events. Returns the ids found."""
        return self.edit(resource, ids, {})

    def edit(
        self, resource: str, ids: list[str], changes: dict[str, Any], *, late_ms: int = 0
    ) -> list[str]:
        """Set ``changes`` on these documents and bump their ``updatedAt``, as an edit made in
        Repzo's UI would; recorded as mutations, not change events. ``late_ms`` stamps the edit
        that much before now: a commit that becomes visible only after its stamp. Returns the
        ids found."""
        if not ids:
            return []
        stamp = iso_ms(self._clock.now_ms() - late_ms)
        touched: list[str] = []
        with self._store.lock:
            for doc_id in ids:
                doc = self._store.get(resource, doc_id)
                if doc is not None:
                    for key, value in changes.items():
                        if key not in SERVER_FIELDS:
                            set_path(doc, key, value)
                    doc["updatedAt"] = stamp
                    self._store.save(resource, doc)
                    touched.append(doc_id)
        self._stats.mutated(resource, touched)
        return touched

    def _apply(self, resource: str, edits: list[Edit]) -> None:
        for edit in edits:
            if edit.advance_ms:
                self._clock.advance(edit.advance_ms)
            self.edit(resource, edit.ids, edit.changes, late_ms=edit.late_ms)

    def _new_document(self, fields: Document) -> Document:
        now = iso_ms(self._clock.now_ms())
        doc: Document = {ID_FIELD: self._ids.new()}
        doc.update((key, value) for key, value in fields.items() if key not in SERVER_FIELDS)
        doc.setdefault("disabled", False)
        doc.setdefault("company_namespace", list(self._options().namespace))
        doc["createdAt"] = now
        doc["updatedAt"] = now
        return doc

    def stamp_new(self, doc: Document) -> Document:
        """Fill what a verbatim seed left out (``_id``, timestamps, ``disabled``, namespace),
        keeping whatever it gave."""
        now = iso_ms(self._clock.now_ms())
        doc = dict(doc)
        if ID_FIELD in doc:
            self._ids.observe(str(doc[ID_FIELD]))
        else:
            doc[ID_FIELD] = self._ids.new()
        doc.setdefault("createdAt", now)
        doc.setdefault("updatedAt", doc["createdAt"])
        doc.setdefault("disabled", False)
        doc.setdefault("company_namespace", list(self._options().namespace))
        return doc

    def _stamp_updated(self, doc: Document) -> None:
        doc["updatedAt"] = iso_ms(self._clock.now_ms())


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Mongo ``$set`` of one key: ``a.b`` sets ``b`` inside ``a``, creating ``a`` if needed."""
    *parents, last = dotted.split(".")
    target = doc
    for name in parents:
        child = target.get(name)
        if not isinstance(child, dict):
            child = target[name] = {}
        target = child
    target[last] = value


def _object(body: Any) -> Document:
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _upsert(existing: Document, fields: Document, appended: tuple[str, ...]) -> Document:
    doc = copy.deepcopy(existing)
    for key, value in fields.items():
        if key in SERVER_FIELDS:
            continue
        old = doc.get(key)
        if key in appended and isinstance(old, list) and isinstance(value, list):
            doc[key] = old + value
        else:
            doc[key] = value
    return doc


def _without_stamps(doc: Document) -> str:
    return dump_json({key: value for key, value in doc.items() if key != "updatedAt"})


def _meta_pairs(body: Any) -> list[tuple[str, Any]]:
    items = body.get("integration_meta_keys") if isinstance(body, dict) else body
    if not isinstance(items, list) or not items:
        raise ApiError(
            400, 'Body must be [{"key": ..., "value": ...}] or {"integration_meta_keys": [...]}'
        )
    pairs: list[tuple[str, Any]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise ApiError(400, f"Each integration meta entry needs a string key, got {item!r}")
        pairs.append((item["key"], item.get("value")))
    return pairs


def _project(doc: Document, fields: tuple[str, ...]) -> Document:
    projected: Document = {ID_FIELD: doc.get(ID_FIELD)}
    for field in fields:
        value: Any = doc
        for name in field.split("."):
            value = value.get(name) if isinstance(value, dict) else None
        if value is not None:
            set_path(projected, field, value)
    return projected


def _paged(
    request: Request, total: int, page: int, per_page: int, count: int, items: str
) -> RawJson:
    """The SDK's DefaultPaginationResult, with the stored documents spliced in as they are."""
    pages = max(1, math.ceil(total / per_page))
    meta = {
        "total_result": total,
        "current_count": count,
        "total_pages": pages,
        "current_page": page,
        "per_page": per_page,
        "first_page_url": _page_url(request, 1, per_page),
        "last_page_url": _page_url(request, pages, per_page),
        "next_page_url": _page_url(request, page + 1, per_page) if page < pages else None,
        "prev_page_url": _page_url(request, page - 1, per_page) if page > 1 else None,
        "path": request.base_url + request.path,
    }
    return RawJson(f'{dump_json(meta)[:-1]},"data":[{items}]}}')


def _windowed(style: str, total: int, limit: int, offset: int, items: str) -> RawJson:
    if style == "limit_offset_total":
        meta: dict[str, Any] = {"success": True, "total": total}
    else:
        pagination = {
            "total": total,
            "limit": limit,
            "offset": offset,
            "page": offset // limit + 1,
            "pages": max(1, math.ceil(total / limit)),
            "hasMore": offset + limit < total,
        }
        meta = {"success": True, "pagination": pagination}
    return RawJson(f'{dump_json(meta)[:-1]},"data":[{items}]}}')


def _page_url(request: Request, page: int, per_page: int) -> str:
    # The served per_page, not the asked one: a client that follows the URLs of a capped reply
    # pages by the size the pages really have.
    params = [
        (key, str(per_page) if key.removesuffix("[]") == "per_page" else value)
        for key, value in request.query
        if key != "page"
    ]
    params.append(("page", str(page)))
    return f"{request.base_url}{request.path}?{urlencode(params)}"
