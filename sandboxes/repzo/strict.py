"""What a strict sandbox refuses: requests the official SDK's types do not allow.

A sandbox kinder than Repzo hides a client's mistakes until they meet the real API, so by
default it answers 400 to a list parameter the SDK's ``Find.Params`` does not name, a body field
its create or update body does not name, a missing required field and an
``update-integration-meta`` type no resource takes. The facts are the registry's (filled from
the SDK's ``types.ts``); where a resource's list is unknown (None or empty), nothing is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from connectors.repzo.registry import Registry, Resource
from sandboxes.repzo.options import UnknownFields, UnknownParams
from sandboxes.repzo.protocol import ApiError
from sandboxes.repzo.query import ID_FIELD

Body = Literal["create", "update"]

# The SDK's update bodies list these; the server keeps its own values.
SERVER_FIELDS = frozenset({ID_FIELD, "createdAt", "updatedAt", "__v"})
# Repzo fills these from the api-key's company when a create leaves them out, and the OpenAPI
# specs list them as required anyway; only a registry entry taken from the SDK can say a create
# body really requires them.
FILLED_BY_SERVER = frozenset({"company_namespace", "disabled"})
# What a spec's create schema forgets but every document has.
ALWAYS_ACCEPTED = FILLED_BY_SERVER | {"integration_meta"}
# A log without ``app_id`` belongs to no integration in Repzo's screens, so a strict sandbox
# requires it whatever the registry's list says (the SDK's log ``Data`` types require it).
SDK_LOG_REQUIRED: dict[str, tuple[str, ...]] = {
    "integration-command-log": ("app_id", "company_namespace"),
    "integration-action-log": ("app_id",),
}
# What a lenient sandbox asks of a log: what its upsert and status need, as before the registry
# took the SDK's list, so a log with ``app_id: null`` still goes through in experiments.
LENIENT_LOG_REQUIRED: dict[str, tuple[str, ...]] = {
    "integration-command-log": ("sync_id", "command", "status"),
    "integration-action-log": ("sync_id", "action", "status"),
}

# The sandbox answers in the registry's list style, so it takes that style's paging parameters
# even where the SDK's Find.Params, written for page/per_page, does not name them.
STYLE_PARAMS: dict[str, tuple[str, ...]] = {
    "paged": ("page", "per_page", "sort", "sortPageOrder"),
    "limit_offset_total": ("limit", "offset"),
    "limit_offset_pagination": ("limit", "offset"),
}


def screen_list_params(
    resource: Resource, params: tuple[tuple[str, str], ...], policy: UnknownParams
) -> tuple[tuple[str, str], ...]:
    """The query parameters a list goes on with: unlisted ones refused, dropped or kept."""
    if resource.list_params is None or policy == "filter":
        return params
    names = dict.fromkeys(key.removesuffix("[]") for key, _ in params)
    unknown = [name for name in names if not _listed(resource, name)]
    if not unknown:
        return params
    if policy == "reject":
        prefixes = (f"{prefix}*" for prefix in resource.list_param_prefixes)
        accepted = dict.fromkeys(
            [*resource.list_params, *STYLE_PARAMS.get(resource.list_style, ()), *prefixes]
        )
        raise ApiError(
            400,
            f"Unknown query {_plural('parameter', unknown)} {_quoted(unknown)} for "
            f"{resource.path}; accepted: {', '.join(accepted)}",
            {name: "not accepted" for name in unknown},
        )
    return tuple((key, value) for key, value in params if key.removesuffix("[]") not in unknown)


def screen_body(
    resource: Resource, fields: dict[str, Any], body: Body, policy: UnknownFields
) -> dict[str, Any]:
    """The body a create or update goes on with: unlisted fields refused, dropped or kept."""
    allowed = _body_fields(resource, body)
    if not allowed or policy == "keep":
        return fields
    prefixes = resource.update_prefixes
    unknown = [
        key
        for key in fields
        if key not in allowed and not ("." in key and key.startswith(prefixes))
    ]
    if not unknown:
        return fields
    if policy == "reject":
        accepted = [
            *(name for name in allowed if name not in SERVER_FIELDS),
            *(f"{prefix}*" for prefix in prefixes),
        ]
        raise ApiError(
            400,
            f"Unknown {_plural('field', unknown)} {_quoted(unknown)} in the {body} body for "
            f"{resource.path}; accepted: {', '.join(accepted)}",
            {key: "not accepted" for key in unknown},
        )
    return {key: value for key, value in fields.items() if key not in unknown}


def check_required(resource: Resource, fields: dict[str, Any], *, sdk: bool) -> None:
    """400 naming every required field the create leaves out or sets to null (see
    ``required_fields``)."""
    missing = [
        name for name in required_fields(resource, sdk=sdk) if fields.get(name) in (None, "")
    ]
    if missing:
        errors = {name: f"{name} is required" for name in missing}
        raise ApiError(400, ", ".join(errors.values()), errors)


def required_fields(resource: Resource, *, sdk: bool) -> tuple[str, ...]:
    """``sdk`` (strict): the registry's list, which is the SDK create body's where the registry
    took the resource from the SDK, and a log's ``app_id`` always. Otherwise (lenient): the
    registry's list without what the server fills, and for logs only what their upsert needs."""
    if not sdk:
        lenient = LENIENT_LOG_REQUIRED.get(resource.name)
        if lenient is not None:
            return lenient
        return tuple(name for name in resource.required_on_create if name not in FILLED_BY_SERVER)
    exempt = () if _from_sdk(resource) else FILLED_BY_SERVER
    required = [name for name in resource.required_on_create if name not in exempt]
    required += SDK_LOG_REQUIRED.get(resource.name, ())
    return tuple(dict.fromkeys(required))


def meta_type_resource(registry: Registry, type_name: str) -> Resource | None:
    """The resource whose ``meta_type`` is ``type_name``; 400 naming the accepted values when
    none is. None when the registry knows no meta type at all, so there is nothing to check."""
    by_type: Mapping[str, Resource] = {
        resource.meta_type: resource
        for resource in registry.resources.values()
        if resource.meta_type
    }
    if not by_type:
        return None
    found = by_type.get(type_name)
    if found is None:
        raise ApiError(
            400,
            f"Unknown type {type_name!r} for update-integration-meta; accepted: "
            f"{', '.join(sorted(by_type))}",
        )
    return found


def _listed(resource: Resource, name: str) -> bool:
    return (
        name in (resource.list_params or ())
        or name in STYLE_PARAMS.get(resource.list_style, ())
        or name.startswith(resource.list_param_prefixes)
    )


def _body_fields(resource: Resource, body: Body) -> tuple[str, ...]:
    """What the body may set at the top level, in the registry's order; empty: unknown.

    ``disabled`` is accepted wherever DELETE disables, typed by the SDK or not: re-enabling a
    record is an update with ``disabled: false`` (Repzo's SAP integration does it to products,
    whose SDK types omit the flag)."""
    flag = ("disabled",) if resource.delete_disables else ()
    if body == "update":
        if not resource.update_fields:
            return ()
        return tuple(dict.fromkeys([*resource.update_fields, *sorted(SERVER_FIELDS), *flag]))
    if not resource.create_fields:
        return ()
    if _from_sdk(resource):
        return tuple(dict.fromkeys([*resource.create_fields, *flag]))
    return tuple(dict.fromkeys([*resource.create_fields, *sorted(ALWAYS_ACCEPTED)]))


def _from_sdk(resource: Resource) -> bool:
    """The registry took this resource's body facts from the SDK, not from a spec file."""
    return resource.sdk_namespace is not None


def _plural(word: str, names: list[str]) -> str:
    return word if len(names) == 1 else f"{word}s"


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)
