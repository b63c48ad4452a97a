"""Which operation a request reaches: Basic auth first, then the admin API or a collection.

GET    /api/v1/<entity>          list        POST   /api/v1/<entity>         create
GET    /api/v1/<entity>/<key>    get         PATCH  /api/v1/<entity>/<key>   merge patch
DELETE /api/v1/<entity>/<key>    deactivate  *      /__erp/...               admin
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sandboxes.erp.admin import ADMIN_PREFIX, handle_admin
from sandboxes.erp.core import ErpCore
from sandboxes.erp.entities import ENTITIES
from sandboxes.erp.errors import ErpError, not_found
from sandboxes.erp.stats import UNKNOWN_ENTITY
from sandboxes.kit.replies import Reply

REALM = "erp-stub"
_API = ("api", "v1")
_ADMIN = (ADMIN_PREFIX.strip("/"),)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    segments: tuple[str, ...]
    """The path split at "/" and then percent-decoded, so a key may hold an encoded "/"."""
    query: tuple[tuple[str, str], ...]
    authorization: str | None
    body: bytes


@dataclass(frozen=True)
class Routed:
    reply: Reply
    entity: str | None
    """What the request is counted under in the statistics; None for the admin API."""


def is_admin(request: ApiRequest) -> bool:
    """Whether the request is for the control API (never faulted, never counted)."""
    return request.segments[:1] == _ADMIN


def route(core: ErpCore, request: ApiRequest) -> Routed:
    admin = is_admin(request)
    label = None if admin else entity_label(request)
    try:
        if not admin and request.segments[:2] != _API:
            raise not_found("Nothing here; the API is under /api/v1/<collection>.")
        _authenticate(core, request.authorization)
        if admin:
            return Routed(
                handle_admin(core, request.method, request.segments[1:], request.body), None
            )
        return Routed(_collection(core, request), label)
    except ErpError as exc:
        return Routed(exc.reply(), label)


def entity_label(request: ApiRequest) -> str:
    """What an API request is counted under in the statistics: its collection, or
    ``(unknown)``."""
    name = request.segments[2] if len(request.segments) > 2 else ""
    return name if request.segments[:2] == _API and name in ENTITIES else UNKNOWN_ENTITY


def _authenticate(core: ErpCore, header: str | None) -> None:
    challenge = {"WWW-Authenticate": f'Basic realm="{REALM}"'}
    if not header:
        raise ErpError(
            401,
            "unauthorized",
            "Send the ERP user's name and password with HTTP Basic authentication.",
            headers=challenge,
        )
    scheme, _, token = header.partition(" ")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    username, separator, password = decoded.partition(":")
    if scheme.lower() != "basic" or not separator or not core.credentials_match(username, password):
        raise ErpError(
            401, "unauthorized", "The username or password is not right.", headers=challenge
        )


def _collection(core: ErpCore, request: ApiRequest) -> Reply:
    parts = request.segments[2:]
    if not 1 <= len(parts) <= 2:
        raise not_found("Nothing here; records are at /api/v1/<collection>/<key>.")
    spec = ENTITIES.get(parts[0])
    if spec is None:
        raise not_found(f"There is no collection {parts[0]!r}; the ERP has {', '.join(ENTITIES)}.")
    service, method = core.service, request.method
    if len(parts) == 1:
        if method == "GET":
            return service.list(spec, request.query)
        if method == "POST":
            return service.create(spec, request.body)
        raise _not_allowed(method, "GET, POST")
    key = parts[1]
    if method == "GET":
        return service.get(spec, key)
    if method == "PATCH":
        return service.update(spec, key, request.body)
    if method == "DELETE":
        return service.delete(spec, key)
    raise _not_allowed(method, "GET, PATCH" if spec.document else "GET, PATCH, DELETE")


def _not_allowed(method: str, allowed: str) -> ErpError:
    return ErpError(
        405,
        "method_not_allowed",
        f"{method} is not allowed here; use {allowed}.",
        headers={"Allow": allowed},
    )
