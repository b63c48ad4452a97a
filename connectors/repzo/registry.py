"""What the Repzo API offers, per resource: paths, operations, list style, cursor, create fields.

The data lives in ``registry.json`` beside this module. It is generated from the vendored OpenAPI
files in ``openapi/`` plus the hand-written corrections in ``registry_overrides.yaml`` by
``python -m connectors.repzo.registry_gen``; edit those, never the JSON. The client pages, filters
and deletes by what a resource says here, and the sandbox server serves the same paths.
"""

import difflib
import functools
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict

ListStyle = Literal[
    "paged", "limit_offset_total", "limit_offset_pagination", "array", "object", "none"
]
# paged: page/per_page (+sortPageOrder asc|dsc) -> {total_result, current_count, total_pages,
#   current_page, per_page, first_page_url, last_page_url, next_page_url|null, prev_page_url|null,
#   path, data[]}, the SDK's DefaultPaginationResult.
# limit_offset_total: limit/offset -> {success, data, total}.
# limit_offset_pagination: limit/offset -> {success, data, pagination{...}}.
# array: a bare JSON array. object: a single object. none: no list operation.

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Cursor = Literal["updatedAt", "_id"]

_PACKAGE = "connectors.repzo"
_REGISTRY_FILE = "registry.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Operation(_Frozen):
    """One HTTP operation of a resource."""

    name: str
    """Key of the operation in its resource: list/get/create/update/delete or a sub-action name."""
    method: HttpMethod
    path: str
    """Path template exactly as the spec writes it, e.g. ``/client/{id}``."""
    operation_id: str | None
    summary: str
    query_params: tuple[str, ...]
    """Query parameter names the spec documents (a ``params`` object is expanded into its
    properties). Paging parameters implied by ``list_style`` and the filters the resource flags
    assert are not repeated here."""
    spec_file: str | None
    """Vendored file whose definition was used; None for an operation an override added."""


class Resource(_Frozen):
    """One Repzo resource (collection) and what a client or a sandbox needs to know about it."""

    name: str
    """Registry key: the collection path without its leading slash (its first path segment,
    except for nested collections such as ``product/sub-categories``)."""
    path: str
    """Collection path as the spec writes it, e.g. ``/client``."""
    sdk_path: str | None
    """Collection path the official SDK and the integrations call where it differs from ``path``
    (see ``notes``); None where they agree. The two are not verified against the live API."""
    spec_file: str
    """Vendored per-resource file (in ``openapi/``) that documents the collection."""
    title: str
    operations: dict[str, Operation]
    """Standard operations, under the keys list/get/create/update/delete."""
    sub_actions: dict[str, Operation]
    """Every other operation, keyed by a stable name (e.g. ``complete`` for
    ``POST /asset-part-transfer/{id}/complete``)."""
    list_style: ListStyle
    """Request and response shape of the list operation (see ListStyle)."""
    updated_at_filter: bool
    """The list accepts from_updatedAt/to_updatedAt (ms epoch)."""
    id_keyset: bool
    """The list accepts from__id with sortBy=[{"field":"_id","type":"asc"}]."""
    cursor: Cursor | None
    """How an incremental reader pages it: updatedAt where the filter exists, _id for documents
    that only offer the id keyset (append-only ones such as fullinvoices); None where there is
    no list or it offers neither, so only a full read works."""
    required_on_create: tuple[str, ...]
    """The create body schema's ``required``: what the sandbox rejects a create without."""
    create_fields: tuple[str, ...]
    """Top-level properties of the create body, for the sandbox to validate and accept."""
    delete_disables: bool
    """DELETE /<resource>/<id> sets disabled: true rather than erasing the record."""
    upsert_key: str | None
    """Field by which a create POST updates an existing document instead of adding one (the
    integration logs are saved by re-POSTing the whole document with the same sync_id)."""
    notes: tuple[str, ...]
    """Where an override or a default changed what the spec says, why (one sentence each)."""

    def all_operations(self) -> tuple[Operation, ...]:
        return (*self.operations.values(), *self.sub_actions.values())


class Registry(_Frozen):
    """All Repzo resources, by name, plus what the generator needs to tell if it is stale."""

    generator: str
    """Command that regenerates the file."""
    inputs: dict[str, str]
    """sha256 of every file the registry was generated from, by path relative to this package."""
    conflicts: tuple[str, ...]
    """Where the per-resource spec files and repzo-api-complete.yaml disagree on an operation."""
    digest: str
    """sha256 of the rest of the file, so a hand edit shows up as a failing test."""
    resources: dict[str, Resource]

    def get(self, name: str) -> Resource:
        try:
            return self.resources[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.resources, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown Repzo resource {name!r}{hint}") from None

    def paths(self) -> set[tuple[str, str]]:
        """Every (method, path template) pair the registry covers."""
        return {
            (op.method, op.path)
            for resource in self.resources.values()
            for op in resource.all_operations()
        }


@functools.cache
def load_registry() -> Registry:
    text = resources.files(_PACKAGE).joinpath(_REGISTRY_FILE).read_text(encoding="utf-8")
    return Registry.model_validate_json(text)
