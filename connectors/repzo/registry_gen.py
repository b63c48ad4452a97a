"""Generate ``registry.json`` from the vendored Repzo OpenAPI files, the SDK table ``sdk.json``
and ``registry_overrides.yaml``.

    python -m connectors.repzo.registry_gen          # (re)write registry.json
    python -m connectors.repzo.registry_gen --check  # exit 1, with a summary, if it is stale

Every operation of every vendored file lands in some resource. The per-resource files
(``*-bundled.yaml``) win over ``repzo-api-complete.yaml`` where both define an operation; where
they disagree the generator prints it and keeps it in the JSON's ``conflicts``.

Each resource's facts are layered: what its spec says; the overrides' ``defaults`` for defects
the spec shows; then what Repzo's official SDK says (``sdk.json``, generated from the vendored
SDK by ``sdk_gen``) for a resource whose SDK path is an SDK end point, which wins over both;
then the resource's own override, which may add what neither source has (``meta_type``,
``upsert_key``, ``delete_disables``) but must not contradict the SDK. Where the SDK and the spec
disagree, a note says so.
"""

import argparse
import difflib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from connectors.repzo import generated
from connectors.repzo.generated import content_digest, sha256_of
from connectors.repzo.registry import HttpMethod, ListStyle, Operation, Registry, Resource
from connectors.repzo.sdk_gen import OUTPUT_FILE as SDK_TABLE
from connectors.repzo.sdk_gen import SdkService, SdkTable, load_table

Json: TypeAlias = dict[str, "Json"] | list["Json"] | str | int | float | bool | None
JsonObject: TypeAlias = dict[str, Json]

PACKAGE_DIR = Path(__file__).resolve().parent
SPEC_DIR = PACKAGE_DIR / "openapi"
OVERRIDES_FILE = PACKAGE_DIR / "registry_overrides.yaml"
OUTPUT_FILE = PACKAGE_DIR / "registry.json"
COMPLETE_SPEC = "repzo-api-complete.yaml"
GENERATOR_COMMAND = "python -m connectors.repzo.registry_gen"
# Files whose change can change the output; their hashes let a fast test spot a stale JSON
# without re-parsing ~65k lines of YAML (about 5 s with the pure-Python parser).
CODE_INPUTS = (
    "registry_gen.py",
    "registry.py",
    "generated.py",
    OVERRIDES_FILE.name,
    SDK_TABLE.name,
)

METHODS: tuple[HttpMethod, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
PATH_ITEM_FIELDS = {"parameters", "summary", "description", "servers", "$ref"}
# Keys of the SDK's DefaultPaginationResult; some specs document only part of it, so two of
# them beside `data` are taken to mean the paged style.
PAGED_KEYS = {"total_result", "total_pages", "current_page", "current_count", "next_page_url"}

DefaultRule = Literal["untyped_list_params", "unknown_list_envelope"]


class SpecError(Exception):
    """The specs or the overrides cannot be turned into a registry."""


# --- overrides ---------------------------------------------------------------------------


class AddedOperation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    method: HttpMethod
    path: str
    summary: str


class Override(BaseModel):
    """One correction; every field but ``reason`` replaces what the spec says when set."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    reason: str
    list_style: ListStyle | None = None
    updated_at_filter: bool | None = None
    id_keyset: bool | None = None
    delete_disables: bool | None = None
    required_on_create: tuple[str, ...] | None = None
    create_fields: tuple[str, ...] | None = None
    upsert_key: str | None = None
    sdk_path: str | None = None
    meta_type: str | None = None
    query_params: dict[str, tuple[str, ...]] | None = None
    sub_actions: dict[str, AddedOperation] | None = None

    @field_validator("reason")
    @classmethod
    def _one_sentence(cls, value: str) -> str:
        text = " ".join(value.split())
        if not text.endswith("."):
            raise ValueError("a reason is one sentence ending with a full stop")
        return text

    def resource_fields(self) -> dict[str, object]:
        """The plain resource fields this override sets (not its reason or operation edits)."""
        skip = {"reason", "query_params", "sub_actions"}
        dumped: dict[str, object] = self.model_dump(exclude_unset=True, exclude=skip)
        return dumped


class Overrides(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    defaults: dict[DefaultRule, Override] = {}
    resources: dict[str, Override] = {}


def load_overrides(path: Path = OVERRIDES_FILE) -> Overrides:
    try:
        return Overrides.model_validate(load_yaml(path))
    except ValidationError as exc:
        raise SpecError(f"{path.name}: {exc}") from exc


# --- reading specs -----------------------------------------------------------------------


def load_yaml(path: Path) -> JsonObject:
    try:
        data = YAML(typ="safe").load(path)
    except YAMLError as exc:
        raise SpecError(f"{path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: expected a mapping at the top level")
    return data


def obj(node: Json) -> JsonObject:
    return node if isinstance(node, dict) else {}


def items(node: Json) -> list[Json]:
    return node if isinstance(node, list) else []


@dataclass(frozen=True)
class Spec:
    """One vendored OpenAPI document and its $ref lookups."""

    file: str
    doc: JsonObject

    def lookup(self, ref: str) -> Json:
        """The node a local $ref points at, or None when it does not resolve."""
        if not ref.startswith("#/"):
            return None
        node: Json = self.doc
        for part in ref[2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def deref(self, node: Json) -> Json:
        """Follow $refs at the top of a node; a dangling one is left in place."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(ref := node.get("$ref"), str):
            target = self.lookup(ref)
            if target is None or ref in seen:
                return node
            seen.add(ref)
            node = target
        return node

    def resolve(self, node: Json, stack: tuple[str, ...] = ()) -> Json:
        """Inline every $ref below a node, so two documents can be compared by value."""
        if isinstance(node, list):
            return [self.resolve(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self.lookup(ref)
            if target is None or ref in stack:
                return {"$ref": ref}
            return self.resolve(target, (*stack, ref))
        return {key: self.resolve(value, stack) for key, value in node.items()}

    def dangling_refs(self) -> set[str]:
        return {ref for ref in _refs(self.doc) if self.lookup(ref) is None}


def _refs(node: Json) -> Iterable[str]:
    if isinstance(node, list):
        for item in node:
            yield from _refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)


def load_specs(spec_dir: Path = SPEC_DIR) -> list[Spec]:
    """Per-resource files first, in name order, then the bundle, which only fills gaps."""
    files = sorted(path for path in spec_dir.glob("*.yaml") if path.name != COMPLETE_SPEC)
    files.append(spec_dir / COMPLETE_SPEC)
    return [Spec(path.name, load_yaml(path)) for path in files if path.exists()]


# --- operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class RawOperation:
    method: HttpMethod
    path: str
    spec: Spec
    node: JsonObject
    shared_params: tuple[Json, ...]
    """Parameters declared on the path item, which every operation of the path inherits."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def parameters(self) -> list[JsonObject]:
        """Path-level parameters overlaid by the operation's own, keyed by (in, name)."""
        merged: dict[tuple[str, str], JsonObject] = {}
        for node in (*self.shared_params, *items(self.node.get("parameters"))):
            param = obj(self.spec.deref(node))
            merged[(str(param.get("in")), str(param.get("name")))] = param
        return list(merged.values())

    def query_params(self) -> tuple[tuple[str, ...], bool]:
        """Documented query names, an object parameter expanded into its properties, and
        whether one was an object with no properties (the specs' vague ``params``)."""
        names: list[str] = []
        untyped = False
        for param in self.parameters():
            if param.get("in") != "query":
                continue
            schema = obj(self.spec.deref(param.get("schema")))
            if schema.get("type") == "object":
                properties = schema_properties(self.spec, schema)
                untyped = untyped or not properties
                names.extend(properties)
            else:
                names.append(str(param.get("name")))
        return tuple(dict.fromkeys(names)), untyped

    def body_schema(self) -> Json:
        body = obj(self.spec.deref(self.node.get("requestBody")))
        return json_schema(self.spec, body)

    def success_schema(self) -> Json:
        responses = obj(self.spec.deref(self.node.get("responses")))
        for code in sorted(responses, key=str):
            if str(code).startswith("2"):
                return json_schema(self.spec, obj(self.spec.deref(responses[code])))
        return None

    def comparable(self) -> JsonObject:
        """The parts the registry derives facts from, fully resolved."""
        return {
            "summary": self.node.get("summary"),
            "operationId": self.node.get("operationId"),
            "parameters": [self.spec.resolve(param) for param in self.parameters()],
            "requestBody": self.spec.resolve(self.node.get("requestBody")),
            "response": self.spec.resolve(self.success_schema()),
        }

    def to_operation(self, name: str, query_params: tuple[str, ...] | None = None) -> Operation:
        operation_id = self.node.get("operationId")
        summary = self.node.get("summary") or self.node.get("description") or ""
        return Operation(
            name=name,
            method=self.method,
            path=self.path,
            operation_id=operation_id if isinstance(operation_id, str) else None,
            summary=" ".join(str(summary).split()),
            query_params=self.query_params()[0] if query_params is None else query_params,
            spec_file=self.spec.file,
        )


def json_schema(spec: Spec, holder: JsonObject) -> Json:
    """The application/json schema of a request body or response object."""
    content = obj(holder.get("content"))
    return spec.deref(obj(content.get("application/json")).get("schema"))


def schema_properties(spec: Spec, schema: Json) -> JsonObject:
    """Top-level properties of a schema, allOf parts merged."""
    node = obj(spec.deref(schema))
    properties: JsonObject = {}
    for part in items(node.get("allOf")):
        properties.update(schema_properties(spec, part))
    properties.update(obj(node.get("properties")))
    return properties


def schema_required(spec: Spec, schema: Json) -> tuple[str, ...]:
    node = obj(spec.deref(schema))
    required = [name for part in items(node.get("allOf")) for name in schema_required(spec, part)]
    required.extend(str(name) for name in items(node.get("required")))
    return tuple(dict.fromkeys(required))


def as_method(key: str) -> HttpMethod | None:
    return next((method for method in METHODS if method == key.upper()), None)


def spec_operations(spec: Spec) -> list[RawOperation]:
    found: list[RawOperation] = []
    for path, item_node in obj(spec.doc.get("paths")).items():
        item = obj(spec.deref(item_node))
        shared = tuple(items(item.get("parameters")))
        for key, node in item.items():
            if key in PATH_ITEM_FIELDS:
                continue
            method = as_method(key)
            if method is None:
                raise SpecError(f"{spec.file}: {path}: unsupported method {key!r}")
            found.append(RawOperation(method, path, spec, obj(node), shared))
    return found


def merge_operations(specs: Sequence[Spec]) -> tuple[list[RawOperation], list[str]]:
    """One operation per (method, path), the first spec to define it winning (see
    load_specs for the order), with a line for every later definition that disagrees."""
    chosen: dict[tuple[str, str], RawOperation] = {}
    conflicts: list[str] = []
    for spec in specs:
        for raw in spec_operations(spec):
            first = chosen.setdefault(raw.key, raw)
            if first is raw:
                continue
            where = first_difference(first.comparable(), raw.comparable())
            if where is not None:
                conflicts.append(
                    f"{raw.method} {raw.path}: {where} differs between "
                    f"{first.spec.file} (used) and {raw.spec.file}"
                )
    return list(chosen.values()), conflicts


def first_difference(left: Json, right: Json, where: str = "") -> str | None:
    """Slash-separated location of the first place two resolved documents differ."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            found = first_difference(left.get(key), right.get(key), f"{where}/{key}")
            if found is not None:
                return found
        return None
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            found = first_difference(a, b, f"{where}/{index}")
            if found is not None:
                return found
        return None
    return None if left == right else (where or "/")


# --- grouping into resources -------------------------------------------------------------


def is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def under(root: str, path: str) -> bool:
    return path == root or path.startswith(root + "/")


def collection_roots(specs: Sequence[Spec]) -> dict[str, Spec]:
    """Collection paths of the per-resource files: parameter-free paths under no other path
    of the same file (``/product/sub-categories`` is one, in subcategory-bundled.yaml)."""
    roots: dict[str, Spec] = {}
    for spec in specs:
        if spec.file == COMPLETE_SPEC:
            continue
        paths = list(obj(spec.doc.get("paths")))
        for path in paths:
            nested = any(other != path and under(other, path) for other in paths)
            if "{" not in path and not nested:
                roots.setdefault(path, spec)
    return roots


def owning_root(path: str, roots: Iterable[str]) -> str | None:
    candidates = [root for root in roots if under(root, path)]
    return max(candidates, key=len) if candidates else None


def group_operations(
    operations: Sequence[RawOperation], roots: dict[str, Spec]
) -> dict[str, tuple[Spec, list[RawOperation]]]:
    """Operations by collection root; a path no per-resource file covers starts a root at its
    first segment, owned by the spec that defines it."""
    groups: dict[str, tuple[Spec, list[RawOperation]]] = {
        root: (spec, []) for root, spec in roots.items()
    }
    for raw in operations:
        root = owning_root(raw.path, groups)
        if root is None:
            root = "/" + raw.path.strip("/").split("/")[0]
            groups[root] = (raw.spec, [])
        groups[root][1].append(raw)
    return groups


def operation_order(raw: RawOperation) -> tuple[str, int]:
    return (raw.path, METHODS.index(raw.method))


def split_operations(
    root: str, operations: Sequence[RawOperation]
) -> tuple[dict[str, RawOperation], dict[str, RawOperation]]:
    """Standard CRUD operations by key, then everything else by a stable sub-action name."""
    standard: dict[str, RawOperation] = {}
    rest: list[RawOperation] = []
    ordered = sorted(operations, key=operation_order)
    for raw in ordered:
        key = standard_key(
            root,
            raw,
            has_put=any(other.method == "PUT" and other.path == raw.path for other in ordered),
        )
        if key is None or key in standard:
            rest.append(raw)
        else:
            standard[key] = raw
    sub_actions: dict[str, RawOperation] = {}
    for raw in rest:
        name = sub_action_name(root, raw)
        if name in standard or name in sub_actions:
            name = f"{raw.method.lower()}_{name}"
        if name in standard or name in sub_actions:
            raise SpecError(f"{raw.method} {raw.path}: sub-action name {name!r} is taken")
        sub_actions[name] = raw
    return standard, sub_actions


def standard_key(root: str, raw: RawOperation, *, has_put: bool) -> str | None:
    rest = raw.path[len(root) :].strip("/").split("/")
    if raw.path == root:
        return {"GET": "list", "POST": "create"}.get(raw.method)
    if len(rest) == 1 and is_param(rest[0]):
        if raw.method == "PATCH":
            return None if has_put else "update"
        return {"GET": "get", "PUT": "update", "DELETE": "delete"}.get(raw.method)
    return None


def sub_action_name(root: str, raw: RawOperation) -> str:
    words = [seg for seg in raw.path[len(root) :].split("/") if seg and not is_param(seg)]
    return "_".join(words).replace("-", "_") or raw.method.lower()


# --- facts per resource ------------------------------------------------------------------


def list_style(raw: RawOperation | None) -> ListStyle | None:
    """What the list response schema says; None for an envelope no SDK reader uses."""
    if raw is None:
        return "none"
    schema = obj(raw.success_schema())
    if schema.get("type") == "array":
        return "array"
    properties = schema_properties(raw.spec, schema)
    keys = set(properties)
    params = set(raw.query_params()[0])
    if "data" in keys and len(keys & PAGED_KEYS) >= 2:
        return "paged"
    if {"limit", "offset"} <= params and {"success", "data", "total"} <= keys:
        return "limit_offset_total"
    if {"limit", "offset"} <= params and {"success", "data", "pagination"} <= keys:
        return "limit_offset_pagination"
    if not any(obj(raw.spec.deref(value)).get("type") == "array" for value in properties.values()):
        return "object"
    return None


def record_fields(standard: dict[str, RawOperation]) -> set[str]:
    """Field names a record of the resource shows anywhere: bodies, get and list results."""
    fields: set[str] = set()
    for key in ("create", "update"):
        if key in standard:
            fields |= set(schema_properties(standard[key].spec, standard[key].body_schema()))
    for key in ("get", "list"):
        if key not in standard:
            continue
        spec = standard[key].spec
        result = schema_properties(spec, standard[key].success_schema())
        data = obj(spec.deref(result.get("data")))
        fields |= set(result) | set(schema_properties(spec, data))
        fields |= set(schema_properties(spec, data.get("items")))
    return fields


def title_of(spec: Spec) -> str:
    title = str(obj(spec.doc.get("info")).get("title") or spec.file)
    return title.removeprefix("Repzo API - ").removesuffix(" API").strip()


def spec_facts(root: str, spec: Spec, standard: dict[str, RawOperation]) -> dict[str, object]:
    """Resource fields as the spec alone gives them; list_style is None when unknown."""
    listing = standard.get("list")
    list_params = listing.query_params()[0] if listing else ()
    create = standard.get("create")
    body = create.body_schema() if create else None
    return {
        "name": root.lstrip("/"),
        "path": root,
        "sdk_path": None,
        "spec_file": spec.file,
        "title": title_of(spec),
        "list_style": list_style(listing),
        "updated_at_filter": bool({"from_updatedAt", "to_updatedAt"} & set(list_params)),
        "id_keyset": {"from__id", "sortBy"} <= set(list_params),
        "required_on_create": schema_required(create.spec, body) if create else (),
        "create_fields": tuple(schema_properties(create.spec, body) if create else ()),
        "delete_disables": "delete" in standard and "disabled" in record_fields(standard),
        "upsert_key": None,
    }


def applicable_overrides(
    name: str, standard: dict[str, RawOperation], facts: dict[str, object], overrides: Overrides
) -> list[Override]:
    """The defaults whose defect the spec shows, then the resource's own entry, which wins."""
    rules: list[DefaultRule] = []
    listing = standard.get("list")
    if listing is not None and listing.query_params()[1]:
        rules.append("untyped_list_params")
    if facts["list_style"] is None:
        rules.append("unknown_list_envelope")
    applied = [overrides.defaults[rule] for rule in rules if rule in overrides.defaults]
    own = overrides.resources.get(name)
    return [*applied, own] if own is not None else applied


def cursor_for(fields: dict[str, object]) -> str | None:
    if fields["list_style"] == "none":
        return None
    if fields["updated_at_filter"]:
        return "updatedAt"
    return "_id" if fields["id_keyset"] else None


# --- what the SDK says -------------------------------------------------------------------


def load_sdk(path: Path = SDK_TABLE) -> dict[str, SdkService]:
    """The SDK's services by end point path."""
    try:
        table: SdkTable = load_table(path)
    except (OSError, ValidationError) as exc:
        raise SpecError(f"{path.name}: {exc}; run python -m connectors.repzo.sdk_gen") from exc
    return dict(table.services)


def sdk_facts(service: SdkService) -> dict[str, object]:
    """Resource fields the SDK settles. List facts need a list type (``Find.Params``); bodies
    and the record need their types."""
    facts: dict[str, object] = {
        "sdk_namespace": service.namespace,
        "record_fields": service.record_fields,
    }
    if service.find_params is not None:
        params = set(service.find_params)
        sort_by = "sortBy" in params and "_id" in (service.sort_by_fields or ())
        facts |= {
            "list_params": service.find_params,
            "list_param_prefixes": service.find_prefixes,
            "sort_by": sort_by,
            "updated_at_filter": "from_updatedAt" in params,
            "updated_to_filter": "to_updatedAt" in params,
            "id_keyset": "from__id" in params and sort_by,
        }
        # Any other result shape says nothing about paging, so the spec's style stands.
        if service.find_result in ("paged", "array"):
            facts["list_style"] = service.find_result
    if service.create_fields is not None:
        facts["create_fields"] = service.create_fields
        facts["required_on_create"] = service.create_required or ()
    if service.update_fields is not None:
        facts["update_fields"] = service.update_fields
        facts["update_prefixes"] = service.update_prefixes
    return facts


def same_value(left: object, right: object) -> bool:
    """Equal, with field lists compared as sets (their order carries no meaning)."""
    if isinstance(left, tuple | list) and isinstance(right, tuple | list):
        return sorted(map(str, left)) == sorted(map(str, right))
    return left == right


# Facts the spec states and the SDK also settles, compared for the disagreement note.
COMPARED = ("list_style", "updated_at_filter", "id_keyset", "required_on_create")


def disagreement_note(
    spec: Mapping[str, object], assumed: Mapping[str, object], sdk: Mapping[str, object]
) -> str | None:
    """One sentence on what the SDK says otherwise than the spec. ``assumed``: what the
    overrides' defaults guessed where the spec is vague (an untyped ``params`` object, an
    unknown list envelope), compared instead of the spec for those facts."""
    parts = []
    for key in COMPARED:
        label, before = ("assumed", assumed[key]) if key in assumed else ("spec", spec.get(key))
        if key in sdk and before is not None and not same_value(before, sdk[key]):
            parts.append(f"{key} {_show(sdk[key])} ({label}: {_show(before)})")
    if not parts:
        return None
    return "The SDK's types win over the spec here: " + ", ".join(parts) + "."


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def build_resource(
    root: str,
    spec: Spec,
    operations: Sequence[RawOperation],
    overrides: Overrides,
    sdk: Mapping[str, SdkService],
) -> Resource:
    standard, subs = split_operations(root, operations)
    name = root.lstrip("/")
    fields = spec_facts(root, spec, standard)
    from_spec = dict(fields)
    applied = applicable_overrides(name, standard, fields, overrides)
    own = overrides.resources.get(name)
    defaults = [override for override in applied if override is not own]
    for override in defaults:
        fields.update(override.resource_fields())
    fields_before_sdk = dict(fields)
    sdk_path = (own.sdk_path if own is not None and own.sdk_path else root).lstrip("/")
    service = sdk.get(sdk_path)
    from_sdk = sdk_facts(service) if service is not None else {}
    unlisted = "list_params" in from_sdk and "list" not in standard
    if unlisted:
        # The style of a list the registry has no operation for would describe nothing.
        from_sdk.pop("list_style", None)
    fields.update(from_sdk)
    if own is not None:
        for key, value in own.resource_fields().items():
            if key in from_sdk and not same_value(value, from_sdk[key]):
                raise SpecError(
                    f"{OVERRIDES_FILE.name}: {name}: {key} {_show(value)} contradicts the SDK's "
                    f"{_show(from_sdk[key])}; the SDK wins, so drop or correct the override"
                )
        fields.update(own.resource_fields())
    if fields["list_style"] is None:
        raise SpecError(f"{root}: unknown list envelope and no unknown_list_envelope default")
    fields["operations"], fields["sub_actions"] = final_operations(root, standard, subs, applied)
    fields["cursor"] = cursor_for(fields)
    assumed = {key: fields_before_sdk[key] for o in defaults for key in o.resource_fields()}
    notes = [
        # A default whose every fact the SDK settled no longer explains anything.
        override.reason
        for override in defaults
        if not set(override.resource_fields()) <= set(from_sdk)
    ]
    note = disagreement_note(from_spec, assumed, from_sdk)
    notes += [note] if note else []
    if unlisted:
        notes.append(
            "The SDK also lists this collection with GET, which the spec does not document, so "
            "the registry has no list operation for it but knows the SDK's list parameters."
        )
    notes += [own.reason] if own is not None else []
    fields["notes"] = tuple(notes)
    return Resource.model_validate(fields)


def final_operations(
    root: str,
    standard: dict[str, RawOperation],
    subs: dict[str, RawOperation],
    applied: Sequence[Override],
) -> tuple[dict[str, Operation], dict[str, Operation]]:
    """Standard operations and sub-actions with the overrides' query lists and additions."""
    query: dict[str, tuple[str, ...]] = {}
    for override in applied:
        query.update(override.query_params or {})
    unknown = set(query) - set(standard) - set(subs)
    if unknown:
        raise SpecError(f"{root}: query_params override for missing operations {sorted(unknown)}")
    operations = {name: raw.to_operation(name, query.get(name)) for name, raw in standard.items()}
    sub_actions = {name: raw.to_operation(name, query.get(name)) for name, raw in subs.items()}
    for override in applied:
        for name, extra in (override.sub_actions or {}).items():
            if name in sub_actions or name in operations:
                raise SpecError(f"{root}: override sub-action {name!r} is already taken")
            sub_actions[name] = Operation(
                name=name,
                method=extra.method,
                path=extra.path,
                operation_id=None,
                summary=extra.summary,
                query_params=(),
                spec_file=None,
            )
    return operations, sub_actions


# --- the registry file -------------------------------------------------------------------


def input_digests(spec_dir: Path = SPEC_DIR) -> dict[str, str]:
    paths = [*sorted(spec_dir.glob("*.yaml")), *(PACKAGE_DIR / name for name in CODE_INPUTS)]
    return {path.relative_to(PACKAGE_DIR).as_posix(): sha256_of(path) for path in paths}


def check_override_names(overrides: Overrides, names: Iterable[str]) -> None:
    known = set(names)
    for name in sorted(set(overrides.resources) - known):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(f"{OVERRIDES_FILE.name}: no resource {name!r}{hint}")


def build_registry(
    specs: Sequence[Spec] | None = None,
    overrides: Overrides | None = None,
    sdk: Mapping[str, SdkService] | None = None,
) -> Registry:
    specs = load_specs() if specs is None else specs
    overrides = load_overrides() if overrides is None else overrides
    sdk = load_sdk() if sdk is None else sdk
    operations, conflicts = merge_operations(specs)
    groups = group_operations(operations, collection_roots(specs))
    check_override_names(overrides, (root.lstrip("/") for root in groups))
    resources = [
        build_resource(root, spec, ops, overrides, sdk) for root, (spec, ops) in groups.items()
    ]
    payload: dict[str, object] = {
        "generator": GENERATOR_COMMAND,
        "inputs": input_digests(),
        "conflicts": conflicts,
        "resources": {r.name: r.model_dump(mode="json") for r in sorted(resources, key=by_name)},
    }
    payload["digest"] = content_digest(payload)
    return Registry.model_validate(payload)


def by_name(resource: Resource) -> str:
    return resource.name


def render(registry: Registry) -> str:
    data = registry.model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- reporting ---------------------------------------------------------------------------


def summary_lines(registry: Registry) -> list[str]:
    resources = registry.resources.values()
    ops = [op for resource in resources for op in resource.all_operations()]
    added = sum(op.spec_file is None for op in ops)
    styles = Counter(resource.list_style for resource in resources)
    cursors = Counter(str(resource.cursor) for resource in resources)
    return [
        f"resources: {len(registry.resources)}",
        f"operations: {len(ops)} ({len(ops) - added} from the specs, {added} from overrides)",
        "list styles: " + ", ".join(f"{k} {v}" for k, v in sorted(styles.items())),
        f"updated_at_filter: {sum(r.updated_at_filter for r in resources)}, "
        f"id_keyset: {sum(r.id_keyset for r in resources)}, "
        f"delete_disables: {sum(r.delete_disables for r in resources)}",
        "cursors: " + ", ".join(f"{k} {v}" for k, v in sorted(cursors.items())),
        f"from the SDK: {sum(r.sdk_namespace is not None for r in resources)} resources, "
        f"{sum(r.list_params is not None for r in resources)} with its list parameters",
        *(f"conflict: {line}" for line in registry.conflicts),
    ]


def dangling_ref_lines(specs: Sequence[Spec]) -> list[str]:
    lines = []
    for spec in specs:
        refs = sorted(spec.dangling_refs())
        if refs:
            lines.append(f"warning: {spec.file}: unresolved $refs (ignored): {', '.join(refs)}")
    return lines


def diff_summary(committed: str, fresh: Registry) -> list[str]:
    """What differs between the committed file and a fresh build."""
    return generated.diff_summary(
        committed, render(fresh), name=OUTPUT_FILE.name, sections=("inputs", "resources")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=GENERATOR_COMMAND, description="Generate the Repzo resource registry."
    )
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if the committed {OUTPUT_FILE.name} is stale"
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        specs = load_specs()
        registry = build_registry(specs)
    except SpecError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    text = render(registry)
    out.write("\n".join([*summary_lines(registry), *dangling_ref_lines(specs)]) + "\n")
    return generated.write_or_check(
        OUTPUT_FILE,
        text,
        check=args.check,
        command=GENERATOR_COMMAND,
        diff=lambda committed: diff_summary(committed, registry),
        out=out,
    )


if __name__ == "__main__":
    sys.exit(main())
