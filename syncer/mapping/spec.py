"""The shape of a mapping file, as written in YAML (validated by pydantic, unknown keys refused).

connector: repzo              # connector type the mapping is for
stream: client
entity: customer              # canonical entity
key: _id                      # native id
cursor: updatedAt             # native last-modified field, if any
identity:                     # how other systems' keys are stored natively
  integration_meta.id: "{namespace}_{code}"
constants:                    # native fields written with every record
  company_namespace: ["{namespace}"]
carry: [customFields]         # native fields carried along in the canonical `extras`
fields:
  code: client_code                                   # shorthand: just the path
  credit_limit: {path: credit_limit, transform: money_x1000}
  price_list: {path: sv_priceList, ref: price_list}   # resolved through the id map
  active: {path: disabled, transform: negate}
  lines:                                              # a list of sub-records
    path: items
    each:
      quantity: qty
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from syncer.validation import add_pydantic_issues
from syncer.yamlsource import KeyPath, YamlDocument

Direction = Literal["both", "read", "write"]
NativeType = Literal["str", "int", "float", "decimal", "bool"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TransformSpec = str | dict[str, dict[str, Any] | None]
"""``money_x1000`` or ``{decimal_string: {places: 2}}``."""


class ExpressionSpec(_Strict):
    read: str | None = None
    """Computes the canonical value from ``record`` (the native record)."""
    write: str | None = None
    """Computes the native value from ``value`` (the canonical field) and ``record`` (the
    canonical record)."""


def _shorthand(value: Any) -> Any:
    """``code: client_code`` is short for ``code: {path: client_code}``."""
    return {"path": value} if isinstance(value, str) else value


FieldEntry = Annotated["FieldSpec", BeforeValidator(_shorthand)]


class FieldSpec(_Strict):
    """How one canonical field is read from, and written to, the native record."""

    path: str | None = None
    """Dotted native path, with list indexes: ``financials.credit_limit``, ``items[0].qty``."""
    type: NativeType | None = None
    """Cast the native value to this type on read, and the written value on write."""
    map: dict[Any, Any] | None = None
    """Native value -> canonical value (an enum translation); inverted on write."""
    default: Any = None
    """Canonical value used when the native field is absent or null (only when given)."""
    transform: TransformSpec | list[TransformSpec] | None = None
    """Named transforms, applied in order on read and inverted in reverse order on write."""
    ref: str | None = None
    """The field holds another record's native id: resolve it through the id map to that
    entity's canonical id (and back on write)."""
    by: str | None = None
    """With ``ref``: the field holds the other record's natural key (its document number,
    its code) rather than its id, as a Repzo payment names the invoice it settles by serial
    number. Names that entity's natural-key field (``by: number``); read only."""
    expr: ExpressionSpec | None = None
    direction: Direction = "both"
    """``read``: only native -> canonical; ``write``: only canonical -> native."""
    each: dict[str, FieldEntry] | None = None
    """For a list of sub-records (invoice lines): how each item's fields map."""
    exact: bool = False
    """A written amount that the target would round (below Repzo's 0.001, beyond an ERP's
    places) makes the record a dead letter instead; without it, the rounding is counted and
    shown in the run's summary."""
    unverified: bool = False
    """The path is not in the connector's published record type (for Repzo, the official
    SDK's types) and is used anyway; ``reason`` must say why."""
    reason: str | None = None

    @model_validator(mode="after")
    def _unverified_has_a_reason(self) -> FieldSpec:
        if self.unverified and not (self.reason and self.reason.strip()):
            raise ValueError(
                "expected a reason: say why this path is used although the connector's "
                "published types do not have it"
            )
        return self

    @model_validator(mode="after")
    def _has_a_source(self) -> FieldSpec:
        reads = self.direction in ("both", "read")
        writes = self.direction in ("both", "write")
        if writes and self.path is None:
            raise ValueError("expected a path: a field that is written needs one")
        if reads and self.path is None and (self.expr is None or self.expr.read is None):
            raise ValueError("expected a path, or expr.read to compute the value")
        return self


class RefuseSpec(_Strict):
    """A record the target cannot hold as it is: writing it would lose what it means."""

    _position: int | None = PrivateAttr(default=None)

    when: str
    """An expression over the canonical record (``record``): true when it cannot be written."""
    field: str
    """The canonical field at fault, named in the dead letter; a change to it is a change to
    the record, so a record that comes to need refusing is refused then."""
    reason: str = Field(min_length=1)
    """What the target lacks, for the dead letter."""

    @property
    def position(self) -> int | None:
        """Where the rule is in the file's ``refuse:`` list (rules are checked one by one, so
        a broken one does not hide the others, and keep their place for messages)."""
        return self._position


class MappingSpec(_Strict):
    connector: str
    """The connector type (``repzo``, ``erp_stub``, ``csv``...)."""
    stream: str
    entity: str
    key: str = "_id"
    """Native path of the record's id."""
    cursor: str | None = None
    """Native path of the last-modified time, for incremental reads."""
    deleted: str | None = None
    """Native path of a flag that is true when the record is deleted or disabled."""
    identity: dict[str, str] = Field(default_factory=dict)
    """Native path -> template of canonical fields and connector settings, e.g.
    ``{integration_meta.id: "{namespace}_{code}"}``. Written on every record; the first entry
    is how a record is looked up before it is created."""
    constants: dict[str, Any] = Field(default_factory=dict)
    """Native path -> value written with every record (strings may use templates)."""
    carry: list[str] = Field(default_factory=list)
    """Native paths copied into the canonical ``extras`` on read and back on write."""
    filter: str | None = None
    """An expression over the native record (``record``): which records of the stream this
    mapping describes, when it is a flow's source. The others are skipped by that flow (a
    Repzo invoice is an invoice for its sale lines and a credit note for its return lines)."""
    refuse: list[RefuseSpec] = Field(default_factory=list)
    """Records this mapping, as a target, refuses to write: each one is a dead letter with
    the reason (``min_quantity`` on a system that prices from a quantity of 1)."""
    fields: dict[str, FieldEntry]


def validate_spec(doc: YamlDocument, data: dict[str, Any]) -> MappingSpec | None:
    """Validate a mapping file part by part: the top level, then each field entry (and each
    entry of an ``each:``) on its own, so that one broken entry does not hide the problems of
    the others. Every problem goes to ``doc.issues``.

    Returns a spec of what validated, for the compiler to check further (so the file's other
    problems show in the same run), or None when there is no entity to compile against."""
    raw = data.get("fields")
    header = {**data, "fields": _entries(doc, raw, ("fields",))} if isinstance(raw, dict) else data
    if isinstance(data.get("refuse"), list):
        header = {**header, "refuse": _refusals(doc, data["refuse"])}
    try:
        return MappingSpec.model_validate(header)
    except ValidationError as error:
        add_pydantic_issues(doc, error, MappingSpec, prefix=())
        failed = {problem["loc"][0] for problem in error.errors() if problem["loc"]}
    return _salvage(header, failed)


def _salvage(header: dict[str, Any], failed: set[Any]) -> MappingSpec | None:
    """The spec without the top-level keys that failed (their problems are reported)."""
    if "entity" in failed or not isinstance(header.get("entity"), str):
        return None
    kept = {key: value for key, value in header.items() if key not in failed}
    # An empty connector tells the loader not to check references against its mappings.
    kept = {"connector": "", "stream": "", "fields": {}, **kept}
    try:
        return MappingSpec.model_validate(kept)
    except ValidationError:
        return None


def _refusals(doc: YamlDocument, raw: list[Any]) -> list[RefuseSpec]:
    rules = []
    for position, value in enumerate(raw):
        try:
            rule = RefuseSpec.model_validate(value)
        except ValidationError as error:
            add_pydantic_issues(doc, error, RefuseSpec, prefix=("refuse", position))
            continue
        rule._position = position
        rules.append(rule)
    return rules


def _entries(doc: YamlDocument, raw: dict[Any, Any], where: KeyPath) -> dict[Any, FieldSpec]:
    entries = {}
    for name, value in raw.items():
        entry = _entry(doc, value, (*where, name))
        if entry is not None:
            entries[name] = entry
    return entries


def _entry(doc: YamlDocument, value: Any, where: KeyPath) -> FieldSpec | None:
    value = _shorthand(value)
    if isinstance(value, dict) and isinstance(value.get("each"), dict):
        value = {**value, "each": _entries(doc, value["each"], (*where, "each"))}
    try:
        return FieldSpec.model_validate(value)
    except ValidationError as error:
        add_pydantic_issues(doc, error, FieldSpec, prefix=where)
        return None
