"""Generate ``sdk.json``, what Repzo's official TypeScript SDK says each resource accepts.

    python -m connectors.repzo.sdk_gen          # (re)write sdk.json
    python -m connectors.repzo.sdk_gen --check  # exit 1, with a summary, if it is stale

``sdk_index`` reads the vendored ``sdk/index.ts`` (the service objects, their ``_path`` and the
request each member makes); the TypeScript declaration reader in ``typescript/`` parses
``sdk/types.ts`` (the ``Service.<Name>`` namespaces) and resolves its types. This module turns
what they find into the table: per service its methods, list parameters, list result, create
and update bodies and record fields. No node, no dependency. Whatever cannot be parsed or
resolved is reported and kept in the JSON's ``issues``; it never stops the build.
``registry_gen`` feeds the table into the resource registry.
"""

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from connectors.repzo import generated
from connectors.repzo.generated import content_digest, sha256_of
from connectors.repzo.sdk_index import Call, IndexReader, RawService
from connectors.repzo.typescript.declarations import Scope
from connectors.repzo.typescript.parser import parse_types
from connectors.repzo.typescript.resolve import Resolver, Shape, Typed
from connectors.repzo.typescript.types import ArrayOf, Ref, Template, is_any, render

PACKAGE_DIR = Path(__file__).resolve().parent
SDK_DIR = PACKAGE_DIR / "sdk"
INDEX_FILE = SDK_DIR / "index.ts"
TYPES_FILE = SDK_DIR / "types.ts"
OUTPUT_FILE = PACKAGE_DIR / "sdk.json"
GENERATOR_COMMAND = "python -m connectors.repzo.sdk_gen"
SDK_PACKAGE = "repzo"
SDK_VERSION = "1.0.254"
# Every module the table depends on, so that a change to the reader makes sdk.json stale.
CODE_INPUTS = ("sdk_gen.py", "sdk_index.py", "generated.py", "typescript/*.py")

# The SDK's comments say its bare index signatures on Find.Params exist for these dotted filters.
OPEN_PARAM_PREFIXES = ("customFields.", "integration_meta.")
PAGED_RESULT = "DefaultPaginationResult"
# Deep enough for fullinvoices' items[].variant.product_id._id; a deeper object is a leaf.
MAX_RECORD_DEPTH = 4

FindResult = Literal["paged", "array", "object"]


# --- the table ---------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SdkService(_Frozen):
    """One SDK service object (``client``, ``priceListItem``, ``ActionLogs``, ...)."""

    service: str
    """Property of the ``Repzo`` class that holds it (``static`` for the log classes)."""
    path: str
    """End point path without slashes, e.g. ``product-category``."""
    namespace: str | None
    """``Service.<Name>`` its types live in; None when no method names one."""
    methods: dict[str, str]
    """Member name -> ``VERB path``, ``{id}`` standing for the document id. The verb is the one
    the SDK's helper really sends (its ``_patch`` sends a PUT). Members that make no request
    (``setStatus`` on the log classes) are left out."""
    find_params_type: str | None
    """Written type of the list (``GET path``) parameters; None: no list method or no type."""
    find_params: tuple[str, ...] | None
    """Every key ``Find.Params`` declares, ``DefaultPaginationQueryParams`` included when
    intersected; quoted keys (``serial_number.formatted``) as written. None without a list type."""
    find_open: bool
    """``Find.Params`` has a bare ``[key: string]: any`` index signature."""
    find_prefixes: tuple[str, ...]
    """Dotted filter prefixes the params let through: ``customFields.`` and ``integration_meta.``
    for a bare index signature, the literal part of a template-literal key otherwise."""
    sort_by_fields: tuple[str, ...] | None
    """``field`` values the ``sortBy`` parameter accepts; None where there is no sortBy."""
    find_result_type: str | None
    find_result: FindResult | None
    """paged: the result extends DefaultPaginationResult; array: a bare array; object: anything
    else; None: no list method."""
    create_body_type: str | None
    create_fields: tuple[str, ...] | None
    """Properties of the create body; None without a create method or body type."""
    create_required: tuple[str, ...] | None
    """Its properties without ``?``."""
    update_body_type: str | None
    update_fields: tuple[str, ...] | None
    update_required: tuple[str, ...] | None
    update_prefixes: tuple[str, ...]
    """Literal parts of template-literal keys of the update body (``integration_meta.``)."""
    update_open: bool
    """The update body has a bare ``[key: string]`` index signature."""
    record_type: str | None
    """Type of one document as the list (``data[]``) or, without a list, ``get`` returns it."""
    record_fields: tuple[str, ...]
    """Dotted paths of that type: ``[]`` marks a list, ``*`` an open map, and the options of a
    union are merged (``assigned_to[]`` and ``assigned_to[]._id`` when a field is ids or, with
    populatedKeys, populated documents). Schemas of other ``Service`` namespaces or named
    through their namespace (populated references) stay leaves; so do paths deeper than
    MAX_RECORD_DEPTH, cycles and types the reader could not resolve."""


class SdkTable(_Frozen):
    generator: str
    package: str
    version: str
    inputs: dict[str, str]
    """sha256 of every file the table was generated from, by path relative to this package."""
    issues: tuple[str, ...]
    """What the reader could not parse or resolve; the affected fields are partial."""
    digest: str
    """sha256 of the rest of the file, so a hand edit shows up as a failing test."""
    end_points: dict[str, str]
    """The SDK's ``end_points`` map: constant name -> path."""
    services: dict[str, SdkService]
    """By end point path."""


# --- building the table ------------------------------------------------------------------


def pick_call(calls: Mapping[str, Call], verbs: set[str], path: str, prefer: str) -> Call | None:
    """The member making this kind of request, the conventionally named one first."""
    names = sorted(name for name, call in calls.items() if call.verb in verbs and call.path == path)
    if not names:
        return None
    return calls[prefer if prefer in names else names[0]]


@dataclass(frozen=True)
class Body:
    fields: tuple[str, ...]
    required: tuple[str, ...]
    prefixes: tuple[str, ...]
    open: bool


@dataclass(frozen=True)
class FindFacts:
    params: tuple[str, ...] | None = None
    open: bool = False
    prefixes: tuple[str, ...] = ()
    sort_by: tuple[str, ...] | None = None


def index_prefixes(shape: Shape) -> tuple[tuple[str, ...], bool]:
    """Literal parts of template-literal index keys, and whether a bare string key exists."""
    prefixes: set[str] = set()
    open_ = False
    for key, _value in shape.indexes:
        if isinstance(key.node, Template):
            prefixes.add(key.node.raw.split("${", 1)[0])
        elif isinstance(key.node, Ref) and key.node.name in ("string", "number"):
            open_ = True
    return tuple(sorted(prefixes)), open_


@dataclass
class Builder:
    resolver: Resolver
    issues: list[str]

    def typed(self, qualified: str) -> Typed | None:
        """A ``Service.X.Y.Z`` name as a reference in its own namespace."""
        decls, where = self.resolver.lookup(qualified, ())
        if not decls or where is None:
            self.issues.append(f"{TYPES_FILE.name}: {qualified} is not declared")
            return None
        return Typed(Ref(qualified.split(".")[-1]), where)

    def object_shape(self, qualified: str) -> Shape | None:
        typed = self.typed(qualified)
        if typed is None:
            return None
        shape = self.resolver.shape(typed)
        if shape is None:
            self.issues.append(f"{TYPES_FILE.name}: {qualified} is not an object type")
        return shape

    def body(self, qualified: str | None) -> Body | None:
        shape = self.object_shape(qualified) if qualified else None
        if shape is None:
            return None
        required = [name for name, prop in shape.props.items() if not prop.optional]
        prefixes, open_ = index_prefixes(shape)
        return Body(tuple(sorted(shape.props)), tuple(sorted(required)), prefixes, open_)

    def find(self, qualified: str | None) -> FindFacts:
        shape = self.object_shape(qualified) if qualified else None
        if shape is None:
            return FindFacts()
        prefixes, open_ = index_prefixes(shape)
        if open_:
            prefixes = tuple(sorted({*prefixes, *OPEN_PARAM_PREFIXES}))
        return FindFacts(
            params=tuple(sorted(shape.props)),
            open=open_,
            prefixes=prefixes,
            sort_by=self.sort_by(shape, qualified or ""),
        )

    def sort_by(self, shape: Shape, owner: str) -> tuple[str, ...] | None:
        prop = shape.props.get("sortBy")
        if prop is None:
            return None
        fields: set[str] = set()
        for typed in prop.types:
            element = self.resolver.unalias(typed)
            if isinstance(element.node, ArrayOf):
                element = Typed(element.node.element, element.scope)
            entry = self.resolver.shape(element)
            field_prop = entry.props.get("field") if entry is not None else None
            values = [self.resolver.literals(t) for t in field_prop.types] if field_prop else []
            if not values or any(found is None for found in values):
                self.issues.append(f"{TYPES_FILE.name}: {owner}: sortBy fields not understood")
                continue
            fields |= {value for found in values for value in found or ()}
        return tuple(sorted(fields))

    def result(self, qualified: str | None) -> tuple[FindResult | None, Typed | None]:
        """Kind of a list result and the type of one of its documents."""
        typed = self.typed(qualified) if qualified else None
        if typed is None:
            return None, None
        target = self.resolver.unalias(typed)
        if isinstance(target.node, ArrayOf):
            return "array", Typed(target.node.element, target.scope)
        shape = self.resolver.shape(typed)
        if shape is None:
            return "object", None
        element: Typed | None = None
        for option in shape.props["data"].types if "data" in shape.props else ():
            option = self.resolver.unalias(option)
            if isinstance(option.node, ArrayOf) and not is_any(option.node.element):
                element = Typed(option.node.element, option.scope)
        return ("paged" if PAGED_RESULT in shape.bases else "object"), element

    def service(self, raw: RawService) -> SdkService:
        calls = raw.calls
        finder = pick_call(calls, {"GET"}, raw.path, "find")
        getter = pick_call(calls, {"GET"}, f"{raw.path}/{{id}}", "get")
        creator = pick_call(calls, {"POST"}, raw.path, "create")
        updater = pick_call(calls, {"PUT", "PATCH"}, f"{raw.path}/{{id}}", "update")
        mentioned = [name.split(".")[1] for call in calls.values() for name in call.types]
        namespace = mentioned[0] if mentioned else None
        if namespace is None:
            self.issues.append(f"{INDEX_FILE.name}: {raw.service} names no Service type")
        params_type = finder.named("Params") if finder else None
        result_type = finder.named("Result") if finder else None
        found = self.find(params_type)
        kind, record = self.result(result_type)
        if finder is not None and kind is None:
            self.issues.append(f"{INDEX_FILE.name}: {raw.service}: its list has no Result type")
        get_type = getter.named("Result") if getter else None
        if record is None and get_type is not None:
            record = self.typed(get_type)
        home: Scope = ("Service", namespace) if namespace else ()
        create_type = creator.named("Body") if creator else None
        update_type = updater.named("Body") if updater else None
        create, update = self.body(create_type), self.body(update_type)
        return SdkService(
            service=raw.service,
            path=raw.path,
            namespace=namespace,
            methods={name: f"{call.verb} {call.path}" for name, call in sorted(calls.items())},
            find_params_type=params_type,
            find_params=found.params,
            find_open=found.open,
            find_prefixes=found.prefixes,
            sort_by_fields=found.sort_by,
            find_result_type=result_type,
            find_result=kind if finder is not None else None,
            create_body_type=create_type,
            create_fields=create.fields if create else None,
            create_required=create.required if create else None,
            update_body_type=update_type,
            update_fields=update.fields if update else None,
            update_required=update.required if update else None,
            update_prefixes=update.prefixes if update else (),
            update_open=update.open if update else False,
            record_type=render(record.node) if record else None,
            record_fields=(
                tuple(self.resolver.paths(record, home, MAX_RECORD_DEPTH)) if record else ()
            ),
        )


def input_digests() -> dict[str, str]:
    code = [path for pattern in CODE_INPUTS for path in sorted(PACKAGE_DIR.glob(pattern))]
    paths = [INDEX_FILE, TYPES_FILE, *code]
    return {path.relative_to(PACKAGE_DIR).as_posix(): sha256_of(path) for path in paths}


def build_table(
    index_text: str | None = None,
    types_text: str | None = None,
    inputs: dict[str, str] | None = None,
) -> SdkTable:
    index_text = INDEX_FILE.read_text(encoding="utf-8") if index_text is None else index_text
    types_text = TYPES_FILE.read_text(encoding="utf-8") if types_text is None else types_text
    module, issues = parse_types(types_text, TYPES_FILE.name)
    reader = IndexReader(index_text, INDEX_FILE.name)
    end_points = reader.end_points()
    raw_services = reader.services(end_points)
    resolver = Resolver(module)
    builder = Builder(resolver, issues)
    services: dict[str, SdkService] = {}
    for raw in raw_services:
        if raw.path in services:
            issues.append(
                f"{INDEX_FILE.name}: {raw.service} and {services[raw.path].service} share "
                f"{raw.path}; the first is kept"
            )
            continue
        services[raw.path] = builder.service(raw)
    for path in sorted(set(end_points.values()) - set(services)):
        issues.append(f"{INDEX_FILE.name}: end point {path} has no service object")
    issues += reader.issues
    issues += [f"{TYPES_FILE.name}: unresolved type {name}" for name in resolver.unresolved]
    payload: dict[str, object] = {
        "generator": GENERATOR_COMMAND,
        "package": SDK_PACKAGE,
        "version": SDK_VERSION,
        "inputs": input_digests() if inputs is None else inputs,
        "issues": sorted(set(issues)),
        "end_points": dict(sorted(end_points.items())),
        "services": {path: services[path].model_dump(mode="json") for path in sorted(services)},
    }
    payload["digest"] = content_digest(payload)
    return SdkTable.model_validate(payload)


def render_table(table: SdkTable) -> str:
    data = table.model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_table(path: Path = OUTPUT_FILE) -> SdkTable:
    return SdkTable.model_validate_json(path.read_text(encoding="utf-8"))


# --- reporting ---------------------------------------------------------------------------


def summary_lines(table: SdkTable) -> list[str]:
    services = table.services.values()
    finds = [s for s in services if s.find_params is not None]
    return [
        f"sdk: {table.package} {table.version}",
        f"services: {len(table.services)} ({len(finds)} with a list type)",
        "list results: "
        + ", ".join(
            f"{kind} {sum(s.find_result == kind for s in services)}"
            for kind in ("paged", "array", "object")
        ),
        f"from_updatedAt: {sum('from_updatedAt' in (s.find_params or ()) for s in services)}, "
        f"to_updatedAt: {sum('to_updatedAt' in (s.find_params or ()) for s in services)}, "
        f"from__id: {sum('from__id' in (s.find_params or ()) for s in services)}, "
        f"sortBy: {sum(s.sort_by_fields is not None for s in services)}",
        *(f"issue: {issue}" for issue in table.issues),
    ]


def diff_summary(committed: str, fresh: SdkTable) -> list[str]:
    """What differs between the committed file and a fresh build."""
    return generated.diff_summary(
        committed,
        render_table(fresh),
        name=OUTPUT_FILE.name,
        sections=("inputs", "services", "end_points"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=GENERATOR_COMMAND, description="Generate the Repzo SDK table."
    )
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if the committed {OUTPUT_FILE.name} is stale"
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    table = build_table()
    text = render_table(table)
    out.write("\n".join(summary_lines(table)) + "\n")
    return generated.write_or_check(
        OUTPUT_FILE,
        text,
        check=args.check,
        command=GENERATOR_COMMAND,
        diff=lambda committed: diff_summary(committed, table),
        out=out,
    )


if __name__ == "__main__":
    sys.exit(main())
