"""A target mapping's ``refuse:`` rules: checked when the mapping loads (file, line and key
named), and at run time a record one of them matches is a skippable error naming the field and
the reason, never a record written with what the target cannot hold (the shipped Repzo
price-list items refuse a minimum quantity above 1, which Repzo has no field for)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.erp_stub import ErpStubSettings
from connectors.repzo import RepzoSettings
from syncer.errors import ConfigError
from syncer.mapping.binding import FlowMappings
from syncer.mapping.catalog import SHIPPED_DIR, MappingCatalog, load_mapping
from syncer.mapping.errors import MappingError
from syncer.mapping.mapping import CompiledMapping, MappingContext, PassThroughRefs
from tests.mapping.test_mapping_errors import marked
from tests.mapping.test_mapping_errors import write as write_mapping

VARIABLES = set(RepzoSettings.model_fields)
CONTEXT = MappingContext(variables={"namespace": "demo"}, refs=PassThroughRefs())

GOOD = """
connector: repzo
stream: pricelistsitems
entity: price_list_item
identity:
  integration_meta.id: "{namespace}_{code}"
refuse:
  - when: 'record.get("min_quantity") is not None and record["min_quantity"] > 1'
    field: min_quantity
    reason: this target prices from a quantity of 1
fields:
  code: integration_meta.code
  price_list: pricelist_id
  price: {path: price, transform: money_x1000}
"""
RULE = """  - when: 'record.get("min_quantity") is not None and record["min_quantity"] > 1'
    field: min_quantity
"""


def write(folder: Path, text: str) -> Path:
    return write_mapping(folder, text, "repzo/pricelistsitems.yaml")


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


CASES = [
    (
        "unknown field",
        edit("    field: min_quantity", "    field: min_qty  #!"),
        "refuse[0].field",
        "unknown field 'min_qty' (did you mean 'min_quantity'?); expected one of:",
    ),
    (
        "expression that does not parse",
        edit(RULE, "  - when: 'record[\"min_quantity\"] >'  #!\n    field: min_quantity\n"),
        "refuse[0].when",
        "expression 'record[\"min_quantity\"] >' does not parse",
    ),
    (
        "expression using an unknown name",
        edit(RULE, "  - when: 'value > 1'  #!\n    field: min_quantity\n"),
        "refuse[0].when",
        "uses unknown name 'value'; it can use record and the functions",
    ),
    (
        "expression reading the clock",
        edit(RULE, "  - when: 'datetime.now().year > 2000'  #!\n    field: min_quantity\n"),
        "refuse[0].when",
        "reads the clock (datetime.now)",
    ),
    (
        "unknown key",
        edit("    reason:", "    raeson: x  #!\n    reason:"),
        "refuse[0].raeson",
        "unknown key (did you mean 'reason'?); expected one of: field, reason, when",
    ),
    (
        "empty reason",
        edit("    reason: this target prices from a quantity of 1", "    reason: ''  #!"),
        "refuse[0].reason",
        "string should have at least 1 character",
    ),
    (
        "rule without a condition",
        edit(RULE, "  - field: min_quantity  #!\n"),
        "refuse[0].when",
        "required key is missing",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_refuse_rule_is_refused_naming_file_line_and_key(tmp_path, text, path, fragment):
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mapping(file, VARIABLES)
    message = caught.value.message
    assert f"{file}:{marked(text)}: {path}: " in message, message
    assert fragment in message, message


def test_every_bad_rule_is_reported_at_once(tmp_path):
    text = edit(
        RULE,
        "  - when: 'record[\"min_quantity\"] >'\n"
        "    field: min_qty\n"
        "    reason: one\n"
        "  - when: 'os.system(1)'\n"
        "    field: min_quantity\n",
    )
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mapping(file, VARIABLES)
    message = caught.value.message
    for line, path in ((7, "refuse[0].when"), (8, "refuse[0].field"), (10, "refuse[1].when")):
        assert f"{file}:{line}: {path}: " in message, message


# -- run time --------------------------------------------------------------------------------


@pytest.fixture
def mapping(tmp_path: Path) -> CompiledMapping:
    return load_mapping(write(tmp_path, GOOD), VARIABLES)


def line(min_quantity: Any) -> dict[str, Any]:
    return {
        "code": "PL-RETAIL:I-00001",
        "price_list": "pl-1",
        "price": Decimal("12.5"),
        "min_quantity": min_quantity,
    }


@pytest.mark.parametrize("min_quantity", [None, Decimal("1"), Decimal("1.000"), Decimal("0.5")])
def test_what_no_rule_matches_is_written(mapping, min_quantity):
    native = mapping.write(line(min_quantity), CONTEXT, record_key="PL-RETAIL:I-00001")
    assert native["price"] == 12500 and "min_quantity" not in native


@pytest.mark.parametrize("min_quantity", [Decimal("1.001"), Decimal("12"), Decimal("24.000")])
def test_what_a_rule_matches_is_a_record_error_naming_field_value_and_reason(mapping, min_quantity):
    with pytest.raises(MappingError) as caught:
        mapping.write(line(min_quantity), CONTEXT, record_key="PL-RETAIL:I-00001")
    error = caught.value
    assert error.field == "min_quantity" and error.record_key == "PL-RETAIL:I-00001"
    reason = "this target prices from a quantity of 1"
    assert error.reason == f"{reason} (min_quantity is {min_quantity})"


def test_a_rule_is_checked_on_a_write_of_some_fields_but_not_on_a_key_write_back(mapping):
    with pytest.raises(MappingError):
        mapping.write(line(Decimal(12)), CONTEXT, frozenset({"price"}))
    # Writing back keys alone (no field) writes nothing the target cannot hold.
    assert mapping.write(line(Decimal(12)), CONTEXT, frozenset()) is not None


def test_a_rule_that_fails_on_a_record_is_a_record_error(tmp_path):
    text = edit(
        '\'record.get("min_quantity") is not None and record["min_quantity"] > 1\'',
        "'record[\"min_quantity\"] > 1'",
    )
    mapping = load_mapping(write(tmp_path, text), VARIABLES)
    with pytest.raises(MappingError) as caught:
        mapping.write(line(None), CONTEXT, record_key="PL-RETAIL:I-00001")
    assert caught.value.field == "min_quantity"
    assert caught.value.reason.startswith("the refuse rule ")


# -- the shipped price-list items --------------------------------------------------------------


def shipped(connector: str, name: str) -> CompiledMapping:
    settings = {"repzo": RepzoSettings, "erp_stub": ErpStubSettings}[connector]
    loaded = MappingCatalog().load(SHIPPED_DIR / connector / name, settings.model_fields)
    assert loaded.mapping is not None, loaded.issues
    return loaded.mapping


def test_repzo_price_list_items_refuse_a_minimum_quantity_above_one():
    items = shipped("repzo", "pricelistsitems.yaml")
    values = {**line(Decimal(12)), "product": "p-1", "variant": "v-1", "active": True}
    with pytest.raises(MappingError) as caught:
        items.write(values, CONTEXT, record_key="PL-WHOLESALE:I-00001")
    assert caught.value.field == "min_quantity"
    assert "Repzo price-list items have no minimum quantity" in caught.value.reason
    assert "apply from a quantity of 1" in caught.value.reason
    assert "(min_quantity is 12)" in caught.value.reason
    written = items.write({**values, "min_quantity": Decimal(1)}, CONTEXT)
    assert written["variant_id"] == "v-1" and written["product_id"] == "p-1"
    assert written["price"] == 12500 and "min_quantity" not in written


def test_a_flow_into_them_carries_the_minimum_quantity_so_a_change_to_it_is_seen():
    """The flow from ERP lines writes no min_quantity, yet carries it: a line synced with a
    minimum of 1 that later becomes 12 is a change, and is refused then."""
    flow = FlowMappings(
        shipped("erp_stub", "price_list_lines.yaml"), shipped("repzo", "pricelistsitems.yaml")
    )
    assert "min_quantity" not in flow.target.write_fields
    assert {"min_quantity", "variant", "product", "price_list", "price"} <= flow.fields


def test_a_malformed_rule_does_not_hide_the_problems_of_the_others(tmp_path):
    """Rules are checked one by one, as field entries are: a rule missing its `when` is
    reported, and so is the bad expression of the rule after it, with its own position."""
    text = edit(
        RULE,
        "  - field: min_quantity\n"
        "    reason: one\n"
        "  - when: 'record[\"min_quantity\"] >'\n"
        "    field: min_quantity\n",
    )
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mapping(file, VARIABLES)
    message = caught.value.message
    assert "refuse[0].when" in message and "refuse[1].when" in message, message
    assert "does not parse" in message, message
