"""A compiled mapping: reads native records into canonical ones and writes them back.

Built by :mod:`syncer.mapping.compile` from a mapping file; everything that can be checked is
checked there, so reading and writing only apply prepared steps. A record that cannot be mapped
raises :class:`MappingError` naming the record and the field; the engine dead-letters it.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from syncer.canonical import CanonicalModel
from syncer.canonical.numbers import MAX_EXPONENT, NumberOutOfBounds, shown
from syncer.connector import LOCATION_FIELD
from syncer.mapping.errors import MappingError, RecordRefused, UnresolvedReference
from syncer.mapping.expressions import Expression, ExpressionError
from syncer.mapping.paths import MISSING, Path
from syncer.mapping.transforms import Transform, TransformValueError, to_decimal, to_float, to_int

UNSYNCED = "unsynced:"
"""Prefix of a reference to a record the id map does not know yet (``unsynced:PL-RETAIL``): a
resolver may hand it out on the way in, so that a reference the target does not need never
holds a record up; written to a target that does need it, it is an UnresolvedReference."""

CANONICAL_ID = "canonical_id"
"""Template name of the record's canonical id (``identity: {external_ref: "{canonical_id}"}``):
a key any target can keep to find a record it was sent before."""
TARGET_KEY = "target_key"
"""Template name of the key the target gave the record syncer created there, known only when
that key is written back to the source (``identity: {integration_meta.erp_id:
"{target_key}"}`` keeps an ERP's invoice number on the Repzo invoice); an entry that uses it
is left out everywhere else."""


class RefResolver(Protocol):
    """Translates references through the id map, for one connector."""

    def to_canonical(self, entity: str, native_id: str) -> str | None: ...

    def to_native(self, entity: str, canonical_id: str) -> str | None: ...

    def key_to_canonical(self, entity: str, natural_key: str) -> str | None: ...


class PassThroughRefs:
    """References left as they are: for ``syncer mapping test`` and for tests, where there is
    no id map to ask."""

    def to_canonical(self, entity: str, native_id: str) -> str | None:
        return native_id

    def to_native(self, entity: str, canonical_id: str) -> str | None:
        return canonical_id

    def key_to_canonical(self, entity: str, natural_key: str) -> str | None:
        return natural_key


@dataclass(frozen=True, slots=True)
class Rounded:
    """A value a write rounded to what the target keeps."""

    field: str
    given: Any
    written: Any


@dataclass(frozen=True, slots=True)
class MappingContext:
    variables: Mapping[str, Any] = field(default_factory=dict)
    """Connector settings templates may use (``{namespace}``)."""
    refs: RefResolver = field(default_factory=PassThroughRefs)
    rounded: Callable[[Rounded], None] | None = None
    """Told of every value a write rounds (unless its field is ``exact``, which refuses)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A record a target mapping cannot write (the file's ``refuse:``)."""

    when: Expression
    field: str
    reason: str

    def check(self, values: Mapping[str, Any], record_key: str | None) -> None:
        try:
            refused = self.when({"record": values})
        except ExpressionError as error:
            raise MappingError(
                f"the refuse rule {error.problem}", record_key=record_key, field=self.field
            ) from None
        if refused:
            shown_value = values.get(self.field)
            raise RecordRefused(
                f"{self.reason} ({self.field} is {shown_value})",
                record_key=record_key,
                field=self.field,
            )


@dataclass(slots=True)
class CanonicalRecord:
    """A record in canonical form, with where it came from."""

    entity: str
    native_id: str
    values: dict[str, Any]
    """Validated canonical values of the fields the source mapping reads."""
    fields: frozenset[str]
    updated_at: Any = None
    """The source's last-modified value, verbatim."""
    deleted: bool = False


def _as_text(value: Any) -> str:
    """Text of an identifier: a cheque number Repzo sends as the number 1002345 (or
    1002345.0) is "1002345", never "1002345.0"."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return value if isinstance(value, str) else str(value)


CASTS: dict[str, Any] = {
    "str": _as_text,
    "int": to_int,
    "float": to_float,
    "decimal": to_decimal,
    "bool": lambda value: value if isinstance(value, bool) else _bool(value),
}


def _bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n", ""):
        return False
    raise TransformValueError(f"expected true or false, got {value!r}")


class Template:
    """``"{namespace}_{code}"``: canonical fields and connector settings, formatted as text."""

    __slots__ = ("names", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.names = frozenset(
            name for _, name, _, _ in string.Formatter().parse(text) if name is not None
        )

    def render(self, values: Mapping[str, Any], variables: Mapping[str, Any]) -> str | None:
        """None when a value the template needs is absent."""
        filled = {}
        for name in self.names:
            value = values.get(name)
            if value is None:
                value = variables.get(name)
            if value is None or value == "":
                return None
            filled[name] = _text(value)
        return self.text.format_map(filled)


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


@dataclass
class FieldRule:
    """One canonical field's way in and out."""

    name: str
    path: Path | None
    reads: bool
    writes: bool
    cast: str | None = None
    value_map: dict[Any, Any] | None = None
    inverse_map: dict[Any, Any] | None = None
    transforms: tuple[Transform, ...] = ()
    ref: str | None = None
    ref_by_key: bool = False
    """The reference holds the other record's natural key, not its native id."""
    exact: bool = False
    """Refuse a write that would round the value."""
    read_expr: Expression | None = None
    write_expr: Expression | None = None
    has_default: bool = False
    default: Any = None
    each: tuple[FieldRule, ...] | None = None
    line_model: type[BaseModel] | None = None
    simple: bool = False
    """Nothing but a path both ways: the common case, which takes a shortcut."""

    def __post_init__(self) -> None:
        self.simple = (
            self.path is not None
            and not (self.cast or self.value_map or self.transforms or self.ref or self.each)
            and self.read_expr is None
            and self.write_expr is None
            and not self.has_default
        )

    def read(self, record: Mapping[str, Any], context: MappingContext) -> Any:
        if self.simple:
            return self.path.get(record)  # type: ignore[union-attr]
        if self.read_expr is not None:
            raw = self.read_expr({"record": record})
        else:
            assert self.path is not None
            raw = self.path.get(record)
        if raw is MISSING or raw is None:
            return self.default if self.has_default else raw
        if self.cast is not None:
            raw = CASTS[self.cast](raw)
        for transform in self.transforms:
            raw = transform.read(raw)
        if self.value_map is not None:
            try:
                raw = self.value_map[_key(raw)]
            except KeyError:
                known = ", ".join(repr(k) for k in self.value_map)
                raise TransformValueError(
                    f"unknown value {raw!r}; expected one of {known}"
                ) from None
        if self.ref is not None:
            native = str(raw)
            if self.ref_by_key:
                resolved = context.refs.key_to_canonical(self.ref, native)
            else:
                resolved = context.refs.to_canonical(self.ref, native)
            if resolved is None:
                raise UnresolvedReference(self.ref, native, field=self.name)
            raw = resolved
        if self.each is not None:
            if not isinstance(raw, list):
                raise TransformValueError(f"expected a list, got {type(raw).__name__}")
            raw = [_read_line(self.each, item, context) for item in raw]
        return raw

    def write(
        self, values: Mapping[str, Any], context: MappingContext, out: dict[str, Any]
    ) -> None:
        value = values[self.name]
        if self.simple:
            self.path.set(out, value)  # type: ignore[union-attr]
            return
        if value is not None:
            if self.each is not None:
                value = [_write_line(self.each, item, context) for item in value]
            if self.ref is not None:
                resolved = context.refs.to_native(self.ref, str(value))
                if resolved is None:
                    raise UnresolvedReference(
                        self.ref, str(value).removeprefix(UNSYNCED), field=self.name
                    )
                value = resolved
            if self.inverse_map is not None:
                try:
                    value = self.inverse_map[_key(value)]
                except KeyError:
                    raise TransformValueError(f"no native value maps to {value!r}") from None
            given = value
            for transform in reversed(self.transforms):
                assert transform.write is not None  # compile refuses it on written fields
                value = transform.write(value)
            if any(transform.rounds for transform in self.transforms):
                self._check_rounding(given, value, context)
            if self.cast is not None:
                value = CASTS[self.cast](value)
        if self.write_expr is not None:
            value = self.write_expr({"value": value, "record": values})
        assert self.path is not None
        self.path.set(out, value)

    def _check_rounding(self, given: Any, written: Any, context: MappingContext) -> None:
        """What the write gives the target, read back, against what it was given: a
        difference is a rounding (0.0004 to Repzo is 0)."""
        back = written
        for transform in self.transforms:
            back = transform.read(back)
        try:
            same = to_decimal(back) == to_decimal(given)
        except TransformValueError:
            return
        if same:
            return
        if self.exact:
            raise TransformValueError(
                f"{given} cannot be written exactly: the target keeps {back} "
                "(exact: true in the mapping)"
            )
        if context.rounded is not None:
            context.rounded(Rounded(self.name, given, back))


def _key(value: Any) -> Any:
    # Map keys are YAML scalars; canonical numbers may be Decimal. Compare them as equals.
    # Only a number in bounds becomes an int: int(Decimal("1e999999999")) never returns.
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() <= MAX_EXPONENT
        and value == value.to_integral_value()
    ):
        return int(value)
    return value


def _read_line(rules: tuple[FieldRule, ...], item: Any, context: MappingContext) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise TransformValueError(f"expected each item to be an object, got {item!r}")
    line: dict[str, Any] = {}
    for rule in rules:
        if rule.reads:
            value = rule.read(item, context)
            if value is not MISSING:
                line[rule.name] = value
    return line


def _write_line(rules: tuple[FieldRule, ...], item: Any, context: MappingContext) -> dict[str, Any]:
    values = item.model_dump() if isinstance(item, BaseModel) else dict(item)
    out: dict[str, Any] = {}
    for rule in rules:
        if rule.writes and rule.name in values:
            rule.write(values, context, out)
    return out


@dataclass
class CompiledMapping:
    """Everything compiled from one mapping file."""

    source: str
    """The file it came from."""
    connector: str
    stream: str
    entity: str
    model: type[CanonicalModel]
    key: Path
    cursor: Path | None
    deleted: Path | None
    rules: tuple[FieldRule, ...]
    identity: tuple[tuple[Path, Template], ...]
    constants: tuple[tuple[Path, Any], ...]
    carry: tuple[Path, ...]
    filter: Expression | None = None
    """Which native records this mapping describes, as a source (the file's ``filter``)."""
    refusals: tuple[Refusal, ...] = ()
    """Records this mapping cannot write, as a target (the file's ``refuse``)."""
    read_fields: frozenset[str] = frozenset()
    write_fields: frozenset[str] = frozenset()
    missing_required: frozenset[str] = frozenset()
    """Required canonical fields this mapping cannot read: it can be a target, not a source."""
    nested_fields: frozenset[str] = frozenset()
    """Read fields whose canonical values are sub-records (lines), turned into plain dicts."""

    def __post_init__(self) -> None:
        def plain_keys(rule: FieldRule) -> tuple[str, ...] | None:
            """The keys of a field that is nothing but a path of object keys."""
            if not rule.simple or rule.path is None:
                return None
            parts = rule.path.parts
            return parts if all(isinstance(part, str) for part in parts) else None  # type: ignore[return-value]

        reads = [rule for rule in self.rules if rule.reads]
        writes = [rule for rule in self.rules if rule.writes]
        self._reads = tuple(reads)
        self._read_names = tuple(sorted(self.read_fields))
        # The common cases, inlined in read() and write(): a field that is one key, or a few
        # nested keys, and nothing else. They run per record and per field.
        self._plain_reads = tuple(
            (r.name, keys[0]) for r in reads if (keys := plain_keys(r)) and len(keys) == 1
        )
        self._nested_reads = tuple(
            (r.name, keys) for r in reads if (keys := plain_keys(r)) and len(keys) > 1
        )
        self._other_reads = tuple(r for r in reads if plain_keys(r) is None)
        self._plain_writes = tuple(
            (r.name, keys[0]) for r in writes if (keys := plain_keys(r)) and len(keys) == 1
        )
        self._nested_writes = tuple(
            (r.name, keys[:-1], keys[-1])
            for r in writes
            if (keys := plain_keys(r)) and len(keys) > 1
        )
        self._other_writes = tuple(r for r in writes if plain_keys(r) is None)

    def native_id(self, record: Mapping[str, Any]) -> str:
        value = self.key.get(record)
        if value is MISSING or value in (None, ""):
            raise MappingError(f"the record has no {self.key.text}", field=self.key.text)
        return str(value)

    def native_id_or_none(self, record: Mapping[str, Any]) -> str | None:
        """:meth:`native_id`, or None for a record that names none (it fails on its own where
        it is mapped)."""
        try:
            return self.native_id(record)
        except MappingError:
            return None

    def references(self, record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """(entity, native id) of the top-level references in a native record, so a caller
        can resolve a whole page's references at once."""
        for rule in self.rules:
            if rule.ref is None or not rule.reads or rule.ref_by_key:
                continue
            if rule.read_expr is not None:
                try:
                    value = rule.read_expr({"record": record})
                except ValueError:
                    continue  # read() reports it
            elif rule.path is not None:
                value = rule.path.get(record)
            else:
                continue
            if value not in (MISSING, None, ""):
                yield rule.ref, str(value)

    def read(self, record: Mapping[str, Any], context: MappingContext) -> CanonicalRecord:
        """Native -> canonical, validated by the entity's model."""
        native_id = self.native_id(record)
        if type(record) is dict:
            # The common case, inlined: a field that is one key, nothing else (it is per
            # record and per field, so it shows up in sync throughput).
            values: dict[str, Any] = {
                name: value
                for name, key in self._plain_reads
                if (value := record.get(key, MISSING)) is not MISSING
            }
            for name, keys in self._nested_reads:
                value = record
                for key in keys:
                    value = value.get(key, MISSING) if isinstance(value, dict) else MISSING
                    if value is MISSING:
                        break
                else:
                    values[name] = value
            rules = self._other_reads
        else:
            values, rules = {}, self._reads
        for rule in rules:
            try:
                value = rule.read(record, context)
            except UnresolvedReference as error:
                raise UnresolvedReference(
                    error.entity, error.value, record_key=native_id, field=rule.name
                ) from None
            except (TransformValueError, ValueError, TypeError, ArithmeticError) as error:
                raise MappingError(
                    str(error), record_key=_where(native_id, record), field=_field(rule)
                ) from None
            if value is not MISSING:
                values[rule.name] = value
        if self.carry:
            values["extras"] = {
                path.text: value
                for path in self.carry
                if (value := path.get(record)) is not MISSING
            }
        try:
            # The validator itself: model_validate() adds a call per record and nothing else.
            model = self.model.__pydantic_validator__.validate_python(values)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise MappingError(
                _pydantic_reason(first), record_key=_where(native_id, record), field=where or None
            ) from None
        attributes = model.__dict__
        typed = {name: attributes[name] for name in self._read_names}
        for name in self.nested_fields:
            typed[name] = _plain(typed[name])
        if self.carry:
            typed["extras"] = model.extras
        cursor = self.cursor.get(record) if self.cursor is not None else None
        deleted = self.deleted.get(record) if self.deleted is not None else False
        return CanonicalRecord(
            entity=self.entity,
            native_id=native_id,
            values=typed,
            fields=self.read_fields,
            updated_at=None if cursor is MISSING else cursor,
            deleted=deleted is True,
        )

    def write(
        self,
        values: Mapping[str, Any],
        context: MappingContext,
        fields: frozenset[str] | None = None,
        *,
        record_key: str | None = None,
        canonical_id: str | None = None,
        target_key: str | None = None,
    ) -> dict[str, Any]:
        """Canonical -> native. Only ``fields`` are written (by default every field this
        mapping writes): a field the source does not know must not overwrite the target's."""
        if fields is None or fields:  # not for the keys alone (a write-back)
            for refusal in self.refusals:
                refusal.check(values, record_key)
        chosen = self.write_fields if fields is None else self.write_fields & fields
        out: dict[str, Any] = {
            key: values[name]
            for name, key in self._plain_writes
            if name in chosen and name in values
        }
        for name, head, last in self._nested_writes:
            if name in chosen and name in values:
                target = out
                for key in head:
                    target = target.setdefault(key, {})
                target[last] = values[name]
        for rule in self._other_writes:
            if rule.name not in chosen or rule.name not in values:
                continue
            try:
                rule.write(values, context, out)
            except UnresolvedReference as error:
                raise UnresolvedReference(
                    error.entity, error.value, record_key=record_key, field=rule.name
                ) from None
            except (TransformValueError, ValueError, TypeError, ArithmeticError) as error:
                raise MappingError(str(error), record_key=record_key, field=rule.name) from None
        variables = _with_id(context.variables, canonical_id)
        if target_key is not None:
            variables = {**variables, TARGET_KEY: target_key}
        for path, template in self.identity:
            rendered = template.render(values, variables)
            if rendered is not None:
                path.set(out, rendered)
        for path, constant in self.constants:
            path.set(out, _constant(constant, values, variables))
        extras = values.get("extras") or {}
        for path in self.carry:
            if path.text in extras:
                path.set(out, extras[path.text])
        return out

    def templates(self) -> list[Template]:
        """Every template this mapping writes: identity keys and templated constants."""
        found = [template for _, template in self.identity]

        def collect(value: Any) -> None:
            if isinstance(value, str) and "{" in value:
                found.append(Template(value))
            elif isinstance(value, list):
                for item in value:
                    collect(item)

        for _, constant in self.constants:
            collect(constant)
        return found

    @property
    def keeps_canonical_id(self) -> bool:
        """Records written through this mapping carry their canonical id in an identity key
        of their own (``external_ref: "{canonical_id}"``)."""
        return any(template.text == "{" + CANONICAL_ID + "}" for _, template in self.identity)

    def carried_canonical_id(self, record: Mapping[str, Any]) -> str | None:
        """The canonical id a native record carries in an identity key that holds nothing
        else (``external_ref: "{canonical_id}"``): syncer put it there when it created the
        record in this system."""
        for path, template in self.identity:
            if template.text == "{" + CANONICAL_ID + "}":
                value = path.get(record)
                if isinstance(value, str) and value:
                    return value
        return None

    def lookup(
        self, values: Mapping[str, Any], context: MappingContext, canonical_id: str | None = None
    ) -> tuple[str, str] | None:
        """(native path, value) that finds this record in the target without its id."""
        variables = _with_id(context.variables, canonical_id)
        for path, template in self.identity:
            rendered = template.render(values, variables)
            if rendered is not None:
                return path.text, rendered
        return None


def _where(native_id: str, record: Mapping[str, Any]) -> str:
    """The record's id, and where it came from when the connector says (``customers.csv:17``)."""
    location = record.get(LOCATION_FIELD)
    return f"{native_id} ({location})" if location else native_id


def _field(rule: FieldRule) -> str:
    """The canonical field, and the native path it is read from when that is another name."""
    if rule.path is None or rule.path.text == rule.name:
        return rule.name
    return f"{rule.name} ({rule.path.text})"


def _with_id(variables: Mapping[str, Any], canonical_id: str | None) -> Mapping[str, Any]:
    return variables if canonical_id is None else {**variables, CANONICAL_ID: canonical_id}


def _constant(value: Any, values: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and "{" in value:
        return Template(value).render(values, variables)
    if isinstance(value, list):
        return [_constant(item, values, variables) for item in value]
    return value


def _plain(value: Any) -> Any:
    """Lines and other sub-models as dicts, so canonical values are plain data."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _pydantic_reason(error: Any) -> str:
    if error["type"] == "missing":
        return "required value is missing"
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, NumberOutOfBounds):
        return str(cause)  # it quotes the value already
    if error["type"] == "value_error" and cause is not None and not error["loc"]:
        return str(cause)  # a rule of the whole record (a document that does not add up)
    message = str(error["msg"]).replace("Input should be", "expected")
    value = error.get("input")
    return f"{message}, got {shown(value)}" if not isinstance(value, dict | list) else message
