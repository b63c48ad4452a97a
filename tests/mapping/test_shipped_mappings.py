"""Every shipped mapping loads, and maps records there and back without changing them; the
content hash sees through representation and only through representation.

The mapping files are found when the tests run, so a mapping added later is covered without
touching this file.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from ruamel.yaml import YAML

from connectors.csv import CsvSettings
from connectors.erp_stub import ErpStubSettings
from connectors.repzo import RepzoConnector, RepzoSettings
from syncer.config.models import ConnectorSettings
from syncer.mapping.catalog import SHIPPED_DIR, MappingCatalog, load_mapping
from syncer.mapping.hashing import content_hash, normalize
from syncer.mapping.mapping import CompiledMapping, FieldRule, MappingContext, PassThroughRefs
from syncer.mapping.paths import MISSING
from tests.mapping.strategies import instants, model_values

SETTINGS: dict[str, type[ConnectorSettings]] = {
    "repzo": RepzoSettings,
    "erp_stub": ErpStubSettings,
    "csv": CsvSettings,
}
"""The settings model of each connector type: its fields are what templates may name."""
JSON_CONNECTORS = frozenset({"repzo"})
"""Connectors that send native records as JSON bodies: a Decimal or a date there is a bug."""
SAMPLE_VARIABLES = {"namespace": "demo", "username": "sync", "delimiter": ","}

MAPPING_FILES = sorted(SHIPPED_DIR.rglob("*.yaml"))
FILE_IDS = [str(path.relative_to(SHIPPED_DIR)) for path in MAPPING_FILES]
EXAMPLES = settings(max_examples=50, deadline=None)


def connector_of(path: Path) -> str:
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    connector = data.get("connector") if isinstance(data, dict) else None
    assert connector in SETTINGS, (
        f"{path}: connector {connector!r} has no settings model in this test; add it to SETTINGS"
    )
    return str(connector)


def variables_for(connector: str) -> dict[str, Any]:
    return {
        name: SAMPLE_VARIABLES.get(name, f"demo-{name}")
        for name in SETTINGS[connector].model_fields
    }


_loaded: dict[Path, CompiledMapping] = {}


def load(path: Path) -> CompiledMapping:
    if path not in _loaded:
        _loaded[path] = load_mapping(path, SETTINGS[connector_of(path)].model_fields)
    return _loaded[path]


def context_for(mapping: CompiledMapping) -> MappingContext:
    return MappingContext(variables=variables_for(mapping.connector), refs=PassThroughRefs())


# -- loading ---------------------------------------------------------------------------------


REPZO_STREAMS = {
    "client", "product", "variant", "pricelists", "pricelistsitems", "tax", "warehouse", "rep",
    "product-category", "fullinvoices", "payments", "refund", "adjust-inventory",
}  # fmt: skip
"""The Repzo streams the product syncs, each with a shipped mapping."""


def test_every_synced_repzo_stream_has_a_mapping():
    shipped = {path.stem for path in MAPPING_FILES if path.parent.name == "repzo"}
    missing = REPZO_STREAMS - shipped
    assert not missing, sorted(missing)


def test_repzo_mappings_name_streams_the_connector_has():
    connector = RepzoConnector("repzo", RepzoSettings(api_key="test-key"))
    try:
        streams = set(connector.streams())
    finally:
        asyncio.run(connector.aclose())
    named = {load(path).stream for path in MAPPING_FILES if connector_of(path) == "repzo"}
    assert named <= streams, sorted(named - streams)


@pytest.mark.parametrize("path", MAPPING_FILES, ids=FILE_IDS)
def test_mapping_loads_and_is_where_the_catalog_looks(path: Path):
    mapping = load(path)
    # The catalog finds <dir>/<connector type>/<stream>.yaml; another mapping of the same
    # stream (<stream>.<what>.yaml) is used where a flow names it.
    assert path.parent.name == mapping.connector
    assert path.stem.split(".")[0] == mapping.stream
    # Loaded beside the other shipped files, every reference can be resolved.
    loaded = MappingCatalog().load(path, SETTINGS[mapping.connector].model_fields)
    assert loaded.issues == ()


# -- round trips -----------------------------------------------------------------------------


def both_ways(rules: tuple[FieldRule, ...]) -> dict[str, frozenset[str] | None]:
    """Fields read and written, each with the line fields read and written (None: not lines)."""
    return {
        rule.name: (
            frozenset(line.name for line in rule.each if line.reads and line.writes)
            if rule.each is not None
            else None
        )
        for rule in rules
        if rule.reads and rule.writes
    }


def restrict(values: dict[str, Any], fields: dict[str, frozenset[str] | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, line_fields in fields.items():
        value = values.get(name)
        if line_fields is not None and value is not None:
            value = [{key: line.get(key) for key in line_fields} for line in value]
        out[name] = value
    return out


def value_map_choices(
    rules: tuple[FieldRule, ...], model: type[BaseModel], prefix: str = ""
) -> dict[str, st.SearchStrategy[Any]]:
    """Canonical values a value map can write back, per field: a canonical value with no
    native counterpart (a draft invoice where Repzo has no draft) is refused on write by design,
    so the round trip is only asked of the values the mapping can represent."""
    found: dict[str, st.SearchStrategy[Any]] = {}
    for rule in rules:
        if rule.inverse_map is not None and rule.value_map is not None:
            choices = st.sampled_from(sorted(set(rule.value_map.values()), key=repr))
            optional = type(None) in get_args(model.model_fields[rule.name].annotation)
            found[f"{prefix}{rule.name}"] = st.none() | choices if optional else choices
        if rule.each is not None and rule.line_model is not None:
            found.update(value_map_choices(rule.each, rule.line_model, f"{prefix}{rule.name}."))
    return found


def plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def canonical(mapping: CompiledMapping, data: st.DataObject) -> dict[str, Any]:
    """Canonical values of the mapping's entity, as the model normalises them."""
    drawn = data.draw(model_values(mapping.model, value_map_choices(mapping.rules, mapping.model)))
    model = mapping.model.model_validate(drawn)
    values = {name: plain(getattr(model, name)) for name in drawn}
    # A record one of the mapping's refuse rules matches is never written (test_refuse.py).
    assume(not any(refusal.when({"record": values}) for refusal in mapping.refusals))
    return values


def stored(mapping: CompiledMapping, native: dict[str, Any]) -> dict[str, Any]:
    """The written record as the target keeps it: with the id the target gives it."""
    if mapping.key.get(native) not in (MISSING, None, ""):
        return native
    with_id = copy.deepcopy(native)
    mapping.key.set(with_id, "stored-1")
    return with_id


def read_back(
    mapping: CompiledMapping, native: dict[str, Any], written: dict[str, Any]
) -> dict[str, Any]:
    """Native -> canonical values, through the mapping's own read when the native record holds
    every required field. It does not when a required field is not both read and written: an
    adjustment's quantity is written only (it is a delta, not a level), a ledger's customer is
    read only. Then the fields are read one by one, and the model is given the written values
    of those required fields."""
    context = context_for(mapping)
    native = stored(mapping, native)
    both = frozenset(both_ways(mapping.rules))
    model = mapping.model
    required = {name for name, info in model.model_fields.items() if info.is_required()}
    if required <= both:
        return mapping.read(native, context).values
    values = {name: written[name] for name in required - both}
    for rule in mapping.rules:
        if rule.name in both and (value := rule.read(native, context)) is not MISSING:
            values[rule.name] = value
    validated = model.model_validate(values)
    return {name: plain(getattr(validated, name)) for name in values}


@pytest.mark.parametrize("path", MAPPING_FILES, ids=FILE_IDS)
@EXAMPLES
@given(data=st.data())
def test_round_trips_change_nothing(path: Path, data: st.DataObject):
    """(a) canonical -> native -> canonical, then (b) native -> canonical -> native from the
    native record (a) wrote, are both the identity on the fields read and written."""
    mapping = load(path)
    fields = both_ways(mapping.rules)
    assert fields, f"{path}: no field is both read and written"
    context = context_for(mapping)
    values = canonical(mapping, data)

    native = mapping.write(values, context, frozenset(fields))
    if mapping.connector in JSON_CONNECTORS:
        json.dumps(native)  # raises on a Decimal, a date...
    back = read_back(mapping, native, values)

    assert restrict(back, fields) == restrict(values, fields)
    # What change detection and echo suppression compare: equal too.
    assert content_hash(restrict(back, fields)) == content_hash(restrict(values, fields))

    again = mapping.write(back, context, frozenset(fields))

    assert again == native


# -- content hash ----------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=8)
scalars = st.one_of(
    st.text(min_size=1, max_size=10),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False),
    st.dates(),
    instants(),
)
documents = st.recursive(
    st.dictionaries(keys, scalars, max_size=5),
    lambda children: st.dictionaries(
        keys, st.one_of(scalars, children, st.lists(children, min_size=1, max_size=3)), max_size=4
    ),
    max_leaves=20,
)
zones = st.one_of(
    st.integers(min_value=-14 * 60, max_value=14 * 60).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
    st.sampled_from(["Asia/Amman", "America/Sao_Paulo", "Asia/Kolkata", "UTC"]).map(ZoneInfo),
)


def reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def reference_hash(values: dict[str, Any]) -> str:
    """The definition of the content hash: SHA-256 of the normalised document as sorted,
    compact JSON. content_hash spells the top level out for speed; it must not differ."""
    text = json.dumps(normalize(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@given(documents, st.dictionaries(keys, st.sampled_from([None, "", [], {}, 1.5]), max_size=3))
def test_hash_is_the_sorted_json_of_the_normalised_document(
    document: dict[str, Any], extra: dict[str, Any]
):
    values = {**document, **extra, "text": 'quote " newline \n \u2028 \x01 سوق'}
    assert content_hash(values) == reference_hash(values)
    fields = list(values)[::2]
    assert content_hash(values, fields) == reference_hash({k: values[k] for k in fields})


def test_hash_text_is_pinned():
    # Stored hashes outlive versions of syncer: a change here makes every record look changed.
    values = {
        "code": "C-00042",
        "name": "سوق النور",
        "credit_limit": Decimal("1500.500"),
        "latitude": 31.95,
        "active": True,
        "lines": [{"sku": "A", "qty": 2}],
        "at": datetime(2026, 11, 29, 21, 0, tzinfo=timezone(timedelta(hours=3))),
    }
    assert content_hash(values) == (
        "8109603c348b8ed9ab02cee9c3ead9169f0ab0b9bc7d3a7ca2d3ae83f592f014"
    )


@given(documents)
def test_hash_ignores_key_order(document: dict[str, Any]):
    assert content_hash(reordered(document)) == content_hash(document)


def test_hash_equates_the_ways_of_writing_one_and_a_half():
    assert (
        content_hash({"price": Decimal("1.50")})
        == content_hash({"price": 1.5})
        == content_hash({"price": Decimal("1.5")})
    )


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False),
    st.integers(min_value=0, max_value=4),
)
def test_hash_equates_equal_numbers(number: Decimal, extra_zeros: int):
    padded = number.quantize(Decimal(1).scaleb(-(3 + extra_zeros)))
    as_float = float(number)
    assert Decimal(repr(as_float)) == number  # the float is the same number
    expected = content_hash({"amount": number})
    assert content_hash({"amount": padded}) == expected
    assert content_hash({"amount": as_float}) == expected
    if number == number.to_integral_value():
        assert content_hash({"amount": int(number)}) == expected


@given(instants(), zones)
def test_hash_equates_the_same_instant_in_any_zone(moment: datetime, zone: Any):
    assert content_hash({"at": moment.astimezone(zone)}) == content_hash({"at": moment})


@given(st.dictionaries(keys, scalars, max_size=5), keys)
def test_hash_treats_none_empty_and_absent_alike(document: dict[str, Any], key: str):
    absent = {name: value for name, value in document.items() if name != key}
    expected = content_hash(absent)
    for empty in (None, "", [], {}):
        assert content_hash({**absent, key: empty}) == expected


kinds = {
    "text": st.text(min_size=1, max_size=10),
    "flag": st.booleans(),
    "count": st.integers(min_value=-(10**6), max_value=10**6),
    "amount": st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False),
    "day": st.dates(),
    "moment": instants(),
}
"""One field of each type, as in a canonical record, where a field has a single type."""


def meaning(value: Any) -> Any:
    """What a value means, independently of how it is written."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value).normalize()
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


@given(st.fixed_dictionaries({}, optional=kinds), st.sampled_from(sorted(kinds)), st.data())
def test_hash_tells_different_content_apart(
    document: dict[str, Any], field: str, data: st.DataObject
):
    changed = {**document, field: data.draw(kinds[field], label="new value")}
    assume(meaning(changed[field]) != meaning(document.get(field)))
    assert content_hash(changed) != content_hash(document)
