"""A bad mapping is refused when it loads, with file, line, field and what was expected; a
record that cannot be mapped is a skippable error naming the record and the field."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.repzo import RepzoSettings
from syncer.cli import app
from syncer.config import load_config
from syncer.errors import ConfigError
from syncer.mapping.catalog import MappingCatalog, load_mapping
from syncer.mapping.errors import MappingError, UnresolvedReference
from syncer.mapping.mapping import MappingContext

VARIABLES = set(RepzoSettings.model_fields)

GOOD = """
connector: repzo
stream: client
entity: customer
key: _id
identity:
  integration_meta.id: "{namespace}_{code}"
fields:
  code: client_code
  name: name
  credit_limit: {path: credit_limit, transform: money_x1000}
  active: {path: disabled, transform: negate, default: true}
"""


def write(folder: Path, text: str, name: str = "repzo/client.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def marked(text: str) -> int:
    for number, line in enumerate(textwrap.dedent(text).lstrip("\n").splitlines(), start=1):
        if "#!" in line:
            return number
    raise AssertionError("no #! mark")


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


CASES = [
    (
        "unknown canonical field",
        edit("  name: name", "  nmae: name  #!"),
        "fields.nmae",
        "unknown field 'nmae' of customer (did you mean 'name'?); expected one of:",
    ),
    (
        "unknown transform",
        edit("transform: money_x1000}", "transform: money_x100}  #!"),
        "fields.credit_limit.transform",
        "unknown transform 'money_x100' (did you mean 'money_x1000'?); expected one of:",
    ),
    (
        "non-invertible transform on a written field",
        edit("  name: name", "  name: {path: name, transform: first_word}  #!"),
        "fields.name.transform",
        "transform 'first_word' cannot be inverted, so the field cannot be written",
    ),
    (
        "malformed path",
        edit("  code: client_code", "  code: client..code  #!"),
        "fields.code.path",
        "malformed path 'client..code' at character 8",
    ),
    (
        "unknown entity",
        edit("entity: customer", "entity: cutsomer  #!"),
        "entity",
        "unknown entity 'cutsomer' (did you mean 'customer'?); expected one of:",
    ),
    (
        "expression that does not parse",
        edit("  name: name", '  name: {path: name, expr: {read: "record[", write: "value"}}  #!'),
        "fields.name.expr.read",
        "does not parse",
    ),
    (
        "expression using an unknown name",
        edit(
            "  name: name", '  name: {path: name, expr: {read: "os.system(1)", write: "value"}}  #!'
        ),
        "fields.name.expr.read",
        "uses unknown name 'os'",
    ),
    (
        "expression read without write on a written field",
        edit("  name: name", "  name: {path: name, expr: {read: \"upper(record['name'])\"}}  #!"),
        "fields.name.expr",
        "needs expr.write to be written",
    ),
    (
        "value map that cannot be inverted",
        edit(
            "  name: name", "  name: name\n  country: {path: country, map: {JO: JO, JOR: JO}}  #!"
        ),
        "fields.country.map",
        "cannot be inverted for writing",
    ),
    (
        "template naming an unknown value",
        edit('"{namespace}_{code}"', '"{namespace}_{kode}"  #!'),
        "identity.integration_meta.id",
        "template '{namespace}_{kode}' names unknown 'kode'",
    ),
    (
        "unknown key in a field",
        edit("transform: money_x1000}", "transfrom: money_x1000}  #!"),
        "fields.credit_limit.transfrom",
        "unknown key (did you mean 'transform'?)",
    ),
    (
        "unknown top-level key",
        GOOD.replace("fields:", "feilds:  #!", 1),
        "feilds",
        "unknown key (did you mean 'fields'?)",
    ),
    (
        "each on a field that is not a list",
        edit("  name: name", "  name: {path: name, each: {quantity: qty}}  #!"),
        "fields.name.each",
        "is not a list of sub-records",
    ),
    (
        "written field without a path",
        edit("  name: name", "  name: {expr: {read: \"record['n']\"}}  #!"),
        "fields.name",
        "expected a path: a field that is written needs one",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_load_time_errors_name_file_line_and_field(tmp_path, text, path, fragment):
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mapping(file, VARIABLES)
    message = caught.value.message
    assert f"{file}:{marked(text)}: {path}: " in message, message
    assert fragment in message, message


def test_reference_to_an_entity_no_mapping_reads(tmp_path):
    text = GOOD.replace(
        "  name: name", "  name: name\n  price_list: {path: sv_priceList, ref: price_list}  #!"
    )
    file = write(tmp_path, text)
    catalog = MappingCatalog([tmp_path], shipped=False)
    loaded = catalog.load(file, VARIABLES)
    assert loaded.mapping is None
    [issue] = loaded.issues
    assert (issue.file, issue.line, issue.path) == (
        str(file),
        marked(text),
        "fields.price_list.ref",
    )
    assert (
        "refers to price_list, but no mapping of this connector type reads that entity"
        in issue.message
    )
    write(
        tmp_path,
        "connector: repzo\nstream: pricelists\nentity: price_list\n"
        "fields: {code: name, name: name}\n",
        "repzo/pricelists.yaml",
    )
    assert MappingCatalog([tmp_path], shipped=False).load(file, VARIABLES).mapping is not None


def test_a_good_mapping_loads(tmp_path):
    mapping = load_mapping(write(tmp_path, GOOD), VARIABLES)
    assert mapping.entity == "customer"
    assert mapping.read_fields == {"code", "name", "credit_limit", "active"}


# -- runtime -----------------------------------------------------------------------------


@pytest.fixture
def client_mapping(tmp_path):
    text = GOOD.replace(
        "  name: name",
        "  name: name\n"
        "  country: {path: country, map: {JO: JO, SA: SA}}\n"
        "  price_list: {path: sv_priceList, ref: price_list}",
    )
    return load_mapping(write(tmp_path, text), VARIABLES)


class NoRefs:
    def to_canonical(self, entity, native_id):
        return None

    def to_native(self, entity, canonical_id):
        return None


CONTEXT = MappingContext(variables={"namespace": "demo"})


@pytest.mark.parametrize(
    ("record", "field", "fragment"),
    [
        ({"_id": "r1", "client_code": "C-1"}, "name", "required value is missing"),
        (
            {"_id": "r1", "client_code": "C-1", "name": "A", "credit_limit": "lots"},
            "credit_limit",
            "expected a number",
        ),
        (
            {"_id": "r1", "client_code": "C-1", "name": "A", "country": "XX"},
            "country",
            "unknown value 'XX'",
        ),
        ({"_id": "r1", "client_code": "", "name": "A"}, "code", "at least 1 character"),
        ({"client_code": "C-1", "name": "A"}, "_id", "the record has no _id"),
    ],
)
def test_records_that_cannot_be_mapped_are_skippable_errors(
    client_mapping, record, field, fragment
):
    with pytest.raises(MappingError) as caught:
        client_mapping.read(record, CONTEXT)
    error = caught.value
    assert error.field == field
    assert fragment in error.message
    if "_id" in record:
        assert error.record_key == "r1" and error.message.startswith("record r1, field ")
    assert error.exit_code == 1


def test_an_unresolved_reference_says_what_it_waits_for(client_mapping):
    record = {"_id": "r9", "client_code": "C-9", "name": "A", "sv_priceList": "pl-1"}
    with pytest.raises(UnresolvedReference) as caught:
        client_mapping.read(record, MappingContext(refs=NoRefs()))
    error = caught.value
    assert (error.entity, error.value, error.record_key, error.field) == (
        "price_list",
        "pl-1",
        "r9",
        "price_list",
    )
    assert "waiting for price_list pl-1" in error.message
    values = {"code": "C-9", "name": "A", "price_list": "canonical-1"}
    with pytest.raises(UnresolvedReference):
        client_mapping.write(values, MappingContext(refs=NoRefs()))


def test_writing_only_the_fields_the_source_knows(client_mapping):
    values = {"code": "C-9", "name": "A", "credit_limit": Decimal("12.5"), "active": True}
    full = client_mapping.write(values, CONTEXT)
    assert full["credit_limit"] == 12500 and full["disabled"] is False
    assert full["integration_meta"] == {"id": "demo_C-9"}
    partial = client_mapping.write(values, CONTEXT, frozenset({"code", "name"}))
    assert "credit_limit" not in partial and "disabled" not in partial
    assert client_mapping.lookup(values, CONTEXT) == ("integration_meta.id", "demo_C-9")


# -- flows -----------------------------------------------------------------------------------


def flow_config(write_config, mappings_dir: Path, source: str, target: str) -> Path:
    return write_config(
        f"""
        mappings: [{mappings_dir}]
        connectors:
          repzo: {{type: repzo, api_key: k, namespace: demo}}
          erp: {{type: erp_stub, username: u, password: p}}
        flows:
          - name: f
            source: {source}
            target: {target}
        """
    )


def test_flow_without_a_mapping(write_config, tmp_path):
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: erp, stream: vendors}",
        "{connector: repzo, stream: client}",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [issue] = caught.value.issues
    assert (issue.line, issue.path) == (7, "flows[0].source")
    assert "no mapping for erp_stub stream 'vendors': write erp_stub/vendors.yaml" in issue.message


def test_flow_between_different_entities(write_config, tmp_path):
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: erp, stream: items}",
        "{connector: repzo, stream: client}",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "the source maps product records but the target maps customer" in caught.value.message
    assert f"{path}:8: flows[0].target" in caught.value.message


def test_flow_reading_a_mapping_that_lacks_a_required_field(write_config, tmp_path):
    write(tmp_path, GOOD.replace("  name: name\n", "  name: {path: name, direction: write}\n"))
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: repzo, stream: client}",
        "{connector: erp, stream: customers}",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (
        "cannot be read from: it does not read the required customer field(s) name"
        in caught.value.message
    )


def test_a_broken_mapping_fails_syncer_check_with_exit_2(write_config, tmp_path, runner):
    write(tmp_path, GOOD.replace("  name: name", "  name: {path: name, transform: upper_case}"))
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: erp, stream: customers}",
        "{connector: repzo, stream: client}",
    )
    result = runner.invoke(app, ["check", "--offline", "--config", str(path)])
    assert result.exit_code == 2
    where = f"{tmp_path / 'repzo' / 'client.yaml'}:9: fields.name.transform"
    assert f"{where}: unknown transform 'upper_case'" in result.stderr


def test_carried_fields_travel_in_extras_and_deleted_flags_are_seen(tmp_path):
    text = GOOD.replace("key: _id", "key: _id\ndeleted: disabled\ncarry: [customFields, geo.zone]")
    mapping = load_mapping(write(tmp_path, text), VARIABLES)
    record = {
        "_id": "r1",
        "client_code": "C-1",
        "name": "A",
        "disabled": True,
        "customFields": {"route": "R7"},
        "geo": {"zone": "north"},
    }
    canonical = mapping.read(record, CONTEXT)
    assert canonical.values["extras"] == {"customFields": {"route": "R7"}, "geo.zone": "north"}
    assert canonical.deleted is True and canonical.values["active"] is False
    written = mapping.write(canonical.values, CONTEXT)
    assert written["customFields"] == {"route": "R7"} and written["geo"] == {"zone": "north"}
