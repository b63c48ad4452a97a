"""Turn a parsed mapping file into a :class:`CompiledMapping`, reporting every problem with the
file, line and field: unknown canonical fields, unknown transforms, a transform or value map
that cannot be inverted on a field that is written, malformed paths, bad expressions, templates
naming unknown values, required fields that are not read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from syncer.canonical import ENTITIES, CanonicalModel, LineModel
from syncer.mapping.expressions import Expression, ExpressionError
from syncer.mapping.mapping import (
    CANONICAL_ID,
    TARGET_KEY,
    CompiledMapping,
    FieldRule,
    Refusal,
    Template,
)
from syncer.mapping.paths import Path, PathError
from syncer.mapping.spec import FieldSpec, MappingSpec, TransformSpec
from syncer.mapping.transforms import ParameterError, Transform, build
from syncer.validation import suggestion, unknown_name
from syncer.yamlsource import KeyPath, YamlDocument

RESERVED = frozenset({"extras"})


class _Compiler:
    def __init__(
        self, doc: YamlDocument, variables: Iterable[str], mapped: set[str] | None
    ) -> None:
        self.doc = doc
        self.variables = frozenset(variables)
        self.mapped = mapped

    def issue(self, path: KeyPath, message: str) -> None:
        if not self.doc.is_tainted(path):  # its missing environment variable is reported
            self.doc.issues.append(self.doc.issue(path, message))

    def path(self, where: KeyPath, text: str) -> Path | None:
        try:
            return Path(text)
        except PathError as error:
            self.issue(where, str(error))
            return None

    def compile(self, spec: MappingSpec) -> CompiledMapping | None:
        model = ENTITIES.get(spec.entity)
        if model is None:
            self.issue(("entity",), unknown_name("entity", spec.entity, ENTITIES))
        # Without an entity the rest is still checked, so the file's other problems show now.
        rules = self.rules(spec.fields, model, ("fields",), spec.entity)
        key = self.path(("key",), spec.key)
        cursor = self.path(("cursor",), spec.cursor) if spec.cursor else None
        deleted = self.path(("deleted",), spec.deleted) if spec.deleted else None
        fields = None if model is None else set(model.model_fields) - RESERVED
        identity = []
        for native, text in spec.identity.items():
            path = self.path(("identity", native), native)
            template = self.template(("identity", native), text, fields)
            if path is not None and template is not None:
                identity.append((path, template))
        constants = []
        for native, value in spec.constants.items():
            path = self.path(("constants", native), native)
            if path is not None:
                constants.append((path, value))
        carry = [p for i, text in enumerate(spec.carry) if (p := self.path(("carry", i), text))]
        only = self.expression(("filter",), spec.filter, {"record"})
        refusals = self.refusals(spec, model)
        if model is None or key is None or rules is None or refusals is None:
            return None
        if spec.filter is not None and only is None:
            return None
        read_fields = frozenset(rule.name for rule in rules if rule.reads)
        write_fields = frozenset(rule.name for rule in rules if rule.writes)
        required = {name for name, info in model.model_fields.items() if info.is_required()}
        return CompiledMapping(
            source=self.doc.file,
            connector=spec.connector,
            stream=spec.stream,
            entity=spec.entity,
            model=model,
            key=key,
            cursor=cursor,
            deleted=deleted,
            rules=tuple(rules),
            identity=tuple(identity),
            constants=tuple(constants),
            carry=tuple(carry),
            filter=only,
            refusals=tuple(refusals),
            read_fields=read_fields,
            write_fields=write_fields,
            missing_required=frozenset(required - read_fields),
            nested_fields=frozenset(r.name for r in rules if r.each is not None and r.reads),
        )

    def refusals(
        self, spec: MappingSpec, model: type[CanonicalModel] | None
    ) -> list[Refusal] | None:
        found: list[Refusal] = []
        ok = True
        for index, entry in enumerate(spec.refuse):
            at: KeyPath = ("refuse", index if entry.position is None else entry.position)
            when = self.expression((*at, "when"), entry.when, {"record"})
            known = set(model.model_fields) - RESERVED if model is not None else None
            if known is not None and entry.field not in known:
                self.issue((*at, "field"), unknown_name("field", entry.field, sorted(known)))
                ok = False
            if when is None:
                ok = False
            else:
                found.append(Refusal(when, entry.field, entry.reason))
        return found if ok else None

    def template(self, where: KeyPath, text: str, fields: set[str] | None) -> Template | None:
        """``fields``: the entity's fields (None: the entity is unknown, so names are not
        checked)."""
        try:
            template = Template(text)
        except ValueError as error:
            self.issue(where, f"malformed template {text!r}: {error}")
            return None
        if fields is None:
            return template
        known = sorted(fields | self.variables | {CANONICAL_ID, TARGET_KEY})
        unknown = sorted(template.names - set(known))
        if unknown:
            names = ", ".join(f"{name!r}{suggestion(name, known)}" for name in unknown)
            self.issue(
                where,
                f"template {text!r} names unknown {names}; it can use the entity's fields and "
                f"the connector settings: {', '.join(known)}",
            )
            return None
        return template

    def rules(
        self,
        entries: Mapping[str, FieldSpec],
        model: type[BaseModel] | None,
        where: KeyPath,
        owner: str,
    ) -> list[FieldRule] | None:
        """``model`` None: the entity is unknown; the entries are checked all the same.
        ``owner`` names the record in messages: ``customer``, ``invoice.lines``."""
        known = None if model is None else set(model.model_fields) - RESERVED
        rules: list[FieldRule] = []
        ok = True
        for name, spec in entries.items():
            at = (*where, name)
            if known is not None and name not in known:
                self.issue(at, unknown_name("field", name, known, of=owner))
                ok = False
                continue
            rule = self.rule(name, spec, model, at, owner)
            if rule is None:
                ok = False
            else:
                rules.append(rule)
        return rules if ok else None

    def rule(
        self, name: str, spec: FieldSpec, model: type[BaseModel] | None, at: KeyPath, owner: str
    ) -> FieldRule | None:
        reads = spec.direction in ("both", "read")
        writes = spec.direction in ("both", "write")
        ok = True
        path = self.path((*at, "path"), spec.path) if spec.path is not None else None
        if spec.path is not None and path is None:
            ok = False
        transforms: list[Transform] = []
        for index, entry in enumerate(_as_list(spec.transform)):
            built = self.transform(
                (*at, "transform", index)
                if isinstance(spec.transform, list)
                else (*at, "transform"),
                entry,
            )
            if built is None:
                ok = False
            elif writes and not built.invertible:
                self.issue(
                    (*at, "transform"),
                    f"transform {built.name!r} cannot be inverted, so the field cannot be "
                    "written; add direction: read",
                )
                ok = False
            else:
                transforms.append(built)
        inverse = None
        if spec.map is not None:
            inverse = {_hashable(v): k for k, v in spec.map.items()}
            if writes and len(inverse) != len(spec.map):
                self.issue(
                    (*at, "map"),
                    "the value map gives the same canonical value for two native values, so it "
                    "cannot be inverted for writing; add direction: read",
                )
                ok = False
        read_expr = write_expr = None
        if spec.expr is not None:
            read_expr = self.expression((*at, "expr", "read"), spec.expr.read, {"record"})
            write_expr = self.expression(
                (*at, "expr", "write"), spec.expr.write, {"value", "record"}
            )
            if spec.expr.read is not None and read_expr is None:
                ok = False
            if spec.expr.write is not None and write_expr is None:
                ok = False
            if spec.expr.read is not None and writes and spec.expr.write is None:
                self.issue(
                    (*at, "expr"),
                    "a field read through an expression needs expr.write to be written; add "
                    "it, or direction: read",
                )
                ok = False
        if spec.ref is not None and spec.ref not in ENTITIES:
            self.issue((*at, "ref"), unknown_name("entity", spec.ref, ENTITIES))
            ok = False
        elif spec.ref is not None and self.mapped is not None and spec.ref not in self.mapped:
            self.issue(
                (*at, "ref"),
                f"refers to {spec.ref}, but no mapping of this connector type reads that "
                f"entity, so the reference could never be resolved; add one",
            )
            ok = False
        if spec.by is not None:
            ok = self._by_key(at, spec, writes) and ok
        each = line_model = None
        if spec.each is not None:
            line_model = _line_model(model, name) if model is not None else None
            if model is not None and line_model is None:
                self.issue((*at, "each"), f"field {name!r} is not a list of sub-records")
                ok = False
            else:
                sub = self.rules(spec.each, line_model, (*at, "each"), f"{owner}.{name}")
                if sub is None:
                    ok = False
                else:
                    each = tuple(sub)
        if not ok or model is None:
            return None
        return FieldRule(
            name=name,
            path=path,
            reads=reads,
            writes=writes,
            cast=spec.type,
            value_map={_hashable(k): v for k, v in spec.map.items()} if spec.map else None,
            inverse_map=inverse,
            transforms=tuple(transforms),
            ref=spec.ref,
            ref_by_key=spec.by is not None,
            exact=spec.exact,
            read_expr=read_expr,
            write_expr=write_expr,
            has_default="default" in spec.model_fields_set,
            default=spec.default,
            each=each,
            line_model=line_model,
        )

    def _by_key(self, at: KeyPath, spec: FieldSpec, writes: bool) -> bool:
        """``by:`` names the referenced entity's natural key, on a field that is only read
        (a natural key cannot be written back as an id)."""
        if spec.ref is None:
            self.issue((*at, "by"), "by: goes with ref: (the entity the field refers to)")
            return False
        model = ENTITIES.get(spec.ref)
        if model is None:
            return False  # reported with ref
        if spec.by != model.natural_key:
            key = f"by: {model.natural_key}" if model.natural_key else "nothing: it has none"
            self.issue(
                (*at, "by"),
                f"a {spec.ref} is found by its natural key, so expected {key}",
            )
            return False
        if writes:
            self.issue((*at, "by"), "a reference by natural key is read only: add direction: read")
            return False
        return True

    def transform(self, where: KeyPath, entry: TransformSpec) -> Transform | None:
        if isinstance(entry, str):
            name, params = entry, {}
        elif len(entry) == 1:
            name, raw = next(iter(entry.items()))
            params = raw or {}
        else:
            self.issue(where, "expected a transform name, or {name: {parameters}}")
            return None
        at = where if isinstance(entry, str) else (*where, name)
        hidden = {param for param in params if (*at, param) in self.doc.from_environment}
        try:
            return build(name, params, hidden)
        except ParameterError as error:
            for param, message in error.problems:
                self.issue(at if param is None else (*at, param), message)
            return None
        except (ValueError, TypeError) as error:
            self.issue(where, str(error))
            return None

    def expression(self, where: KeyPath, text: str | None, names: set[str]) -> Expression | None:
        if text is None:
            return None
        try:
            return Expression(text, frozenset(names))
        except ExpressionError as error:
            self.issue(where, str(error))
            return None


def _as_list(value: TransformSpec | list[TransformSpec] | None) -> list[TransformSpec]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _line_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    annotation = model.model_fields[name].annotation
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if isinstance(item, type) and issubclass(item, LineModel | CanonicalModel):
            return item
    return None


def compile_mapping(
    spec: MappingSpec,
    doc: YamlDocument,
    variables: Iterable[str] = (),
    mapped: set[str] | None = None,
) -> CompiledMapping | None:
    """Compile; problems go to ``doc.issues`` (and None is returned). ``mapped``: entities
    other mappings of the same connector type read (None: references are not checked)."""
    return _Compiler(doc, variables, mapped).compile(spec)
