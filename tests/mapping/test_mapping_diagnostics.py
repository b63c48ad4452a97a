"""Mapping and flow mistakes a user can act on: every problem of a file from one load, each with
its file, line and key path, and a "did you mean" wherever a name is looked up."""

from __future__ import annotations

import asyncio
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.repzo import RepzoConnector, RepzoSettings
from syncer.cli import app
from syncer.config import load_config
from syncer.errors import ConfigError, ConfigIssue
from syncer.mapping.catalog import MappingCatalog, load_mapping
from syncer.mapping.transforms import (
    TEXT,
    TRANSFORMS,
    Param,
    ParameterError,
    Transform,
    TransformType,
    build,
)

VARIABLES = set(RepzoSettings.model_fields)


def write(folder: Path, text: str, name: str = "repzo/client.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(file: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_mapping(file, VARIABLES)
    return list(caught.value.issues)


def located(issues: list[ConfigIssue]) -> list[tuple[int | None, str]]:
    return [(issue.line, issue.path) for issue in issues]


# -- transform parameters ----------------------------------------------------------------


def test_a_misspelled_parameter_is_refused_with_a_suggestion():
    with pytest.raises(ParameterError) as caught:
        build("decimal_string", {"place": 2})
    message = (
        "unknown parameter 'place' of transform decimal_string (did you mean 'places'?); "
        "expected: places"
    )
    assert caught.value.problems == (("place", message),)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name", "params", "param", "fragment"),
    [
        ("decimal_string", {"places": "two"}, "places", "expected a whole number >= 0, got 'two'"),
        ("decimal_string", {"places": True}, "places", "expected a whole number >= 0, got True"),
        ("decimal_string", {"places": -1}, "places", "expected a whole number >= 0, got -1"),
        ("scale", {"factor": 0}, "factor", "expected a number other than 0, got 0"),
        ("scale", {"factor": "lots"}, "factor", "expected a number other than 0, got 'lots'"),
        ("date_format", {"format": 5}, "format", "expected text, got 5"),
        ("join", {"separator": ""}, "separator", "expected text of at least one character"),
        ("iso_datetime", {"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        (
            "iso_datetime",
            {"precision": "msec"},
            "precision",
            "unknown precision 'msec' (did you mean 'ms'?); expected one of: ms, s, us",
        ),
    ],
)
def test_a_parameter_of_the_wrong_kind_is_refused(name, params, param, fragment):
    with pytest.raises(ParameterError) as caught:
        build(name, params)
    [(where, message)] = caught.value.problems
    assert where == param
    assert message.startswith(f"transform {name}: {param} must be "), message
    assert fragment in message, message


def test_a_transform_without_parameters_says_so():
    with pytest.raises(ParameterError, match="unknown parameter 'places' of transform "):
        build("money_x1000", {"places": 2})
    with pytest.raises(ParameterError, match="money_x1000; it takes no parameters"):
        build("money_x1000", {"places": 2})


def test_a_missing_required_parameter_is_refused():
    kind = TransformType(
        "prefix",
        lambda text: Transform("prefix", lambda v: v.removeprefix(text), lambda v: text + v),
        (Param("text", TEXT, "what every native value starts with", required=True),),
    )
    with pytest.raises(ParameterError) as caught:
        kind({})
    assert caught.value.problems == (
        (
            None,
            "transform prefix needs the parameter text: what every native value starts with, text",
        ),
    )
    assert kind({"text": "C-"}).read("C-7") == "7"


def test_every_problem_of_one_transform_at_once():
    with pytest.raises(ParameterError) as caught:
        build("iso_datetime", {"timezon": "UTC", "precision": "minutes", "assume_timezone": 3})
    assert [param for param, _ in caught.value.problems] == [
        "timezon",
        "assume_timezone",
        "precision",
    ]
    assert "(did you mean 'timezone'?)" in caught.value.problems[0][1]


def test_every_transform_declares_its_parameters_and_keeps_its_defaults():
    declared = {name: [p.name for p in kind.params] for name, kind in TRANSFORMS.items()}
    assert declared == {
        "money_x1000": [],
        "scale": ["factor"],
        "decimal_string": ["places"],
        "date_ymd": [],
        "date_format": ["format"],
        "epoch_ms": [],
        "iso_datetime": ["assume_timezone", "timezone", "precision"],
        "strip": [],
        "upper": [],
        "lower": [],
        "negate": [],
        "join": ["separator"],
        "first_word": [],
    }
    assert build("scale", {}).write(Decimal("2.5")) == Decimal("2.5")
    assert build("decimal_string", {"places": None}).write(Decimal("1.50")) == "1.5"
    assert build("date_format", {}).read("2026-11-29").isoformat() == "2026-11-29"
    assert build("join", {}).write(["a", "b"]) == "a,b"
    assert build("scale", {"factor": 0.01}).read(Decimal("0.16")) == Decimal("16")


# -- one load, every problem ---------------------------------------------------------------

THREE_PROBLEMS = """
connector: repzo
stream: client
entity: customer
fields:
  code: client_code
  name: {path: name, tranform: upper}
  nmae: name
  credit_limit: {path: credit_limit, transform: money_x100}
"""


def test_one_load_reports_every_problem_of_a_file(tmp_path):
    file = write(tmp_path, THREE_PROBLEMS)
    issues = problems(file)
    assert located(issues) == [
        (6, "fields.name.tranform"),
        (7, "fields.nmae"),
        (8, "fields.credit_limit.transform"),
    ]
    assert {issue.file for issue in issues} == {str(file)}
    messages = [issue.message for issue in issues]
    assert messages[0].startswith("unknown key (did you mean 'transform'?)")
    assert messages[1].startswith("unknown field 'nmae' of customer (did you mean 'name'?)")
    assert messages[2].startswith("unknown transform 'money_x100' (did you mean 'money_x1000'?)")


def test_syncer_check_prints_every_problem_of_a_mapping_and_exits_2(write_config, tmp_path, runner):
    file = write(tmp_path, THREE_PROBLEMS)
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: erp, stream: customers}",
        "{connector: repzo, stream: client}",
    )
    result = runner.invoke(app, ["check", "--offline", "--config", str(path)])
    assert result.exit_code == 2
    for line, key in [(6, "fields.name.tranform"), (7, "fields.nmae"), (8, "fields.credit_limit")]:
        assert f"{file}:{line}: {key}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_broken_sub_record_entry_does_not_hide_the_others(tmp_path):
    file = write(
        tmp_path,
        """
        connector: erp_stub
        stream: invoices
        entity: invoice
        key: id
        fields:
          number: number
          lines:
            path: lines
            each:
              quantity: {path: qty, tranform: decimal_string}
              qty_total: total
              unit_price: {path: unit_price, transform: {decimal_string: {place: 3}}}
        """,
        "erp_stub/invoices.yaml",
    )
    issues = problems(file)
    assert located(issues) == [
        (10, "fields.lines.each.quantity.tranform"),
        (11, "fields.lines.each.qty_total"),
        (12, "fields.lines.each.unit_price.transform.decimal_string.place"),
    ]
    assert issues[1].message.startswith("unknown field 'qty_total' of invoice.lines")
    assert "(did you mean 'places'?)" in issues[2].message


def test_top_level_problems_do_not_hide_field_problems(tmp_path):
    file = write(
        tmp_path,
        """
        stream: client
        entity: customer
        cursr: updatedAt
        fields:
          code: client_code
          name: {path: name, transform: uper}
        """,
    )
    issues = problems(file)
    assert located(issues) == [
        (1, "connector"),
        (3, "cursr"),
        (6, "fields.name.transform"),
    ]
    assert issues[0].message == "required key is missing"
    assert issues[1].message.startswith("unknown key (did you mean 'cursor'?)")
    assert issues[2].message.startswith("unknown transform 'uper' (did you mean 'upper'?)")


def test_an_unknown_entity_does_not_hide_field_problems(tmp_path):
    file = write(
        tmp_path,
        """
        connector: repzo
        stream: client
        entity: cutsomer
        fields:
          code: {path: client..code}
          name: {path: name, transform: {decimal_string: {places: two}}}
        """,
    )
    issues = problems(file)
    assert located(issues) == [
        (3, "entity"),
        (5, "fields.code.path"),
        (6, "fields.name.transform.decimal_string.places"),
    ]
    assert issues[0].message.startswith("unknown entity 'cutsomer' (did you mean 'customer'?)")
    assert "expected a whole number >= 0, got 'two'" in issues[2].message


def test_a_missing_environment_variable_does_not_hide_other_problems(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNCER_TEST_UNSET_NAMESPACE", raising=False)
    file = write(
        tmp_path,
        """
        connector: repzo
        stream: client
        entity: customer
        constants:
          company_namespace: "${SYNCER_TEST_UNSET_NAMESPACE}"
        fields:
          code: client_code
          name: {path: name, transform: uper}
        """,
    )
    issues = problems(file)
    assert located(issues) == [
        (5, "constants.company_namespace"),
        (8, "fields.name.transform"),
    ]
    assert "environment variable SYNCER_TEST_UNSET_NAMESPACE is not set" in issues[0].message


def test_a_parameter_from_the_environment_is_never_quoted(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNCER_TEST_PLACES", "s3cret-value")
    text = """
        connector: repzo
        stream: client
        entity: customer
        fields:
          code: client_code
          name: {path: name, transform: {decimal_string: {places: "${SYNCER_TEST_PLACES}"}}}
        """
    [issue] = problems(write(tmp_path, text))
    assert (issue.line, issue.path) == (6, "fields.name.transform.decimal_string.places")
    assert issue.message.endswith("expected a whole number >= 0")
    assert "s3cret" not in issue.message


# -- did you mean ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "path", "message"),
    [
        (
            "{path: tax, type: integer}",
            "fields.name.type",
            "expected 'str', 'int', 'float', 'decimal' or 'bool', got 'integer' "
            "(did you mean 'int'?)",
        ),
        (
            "{path: name, direction: reads}",
            "fields.name.direction",
            "expected 'both', 'read' or 'write', got 'reads' (did you mean 'read'?)",
        ),
        (
            "{path: name, transform: {decimal_string: {place: 2}}}",
            "fields.name.transform.decimal_string.place",
            "unknown parameter 'place' of transform decimal_string (did you mean 'places'?); "
            "expected: places",
        ),
        (
            "{path: name, transform: [strip, {decimal_string: {places: two}}]}",
            "fields.name.transform[1].decimal_string.places",
            "transform decimal_string: places must be the number of decimals written; "
            "expected a whole number >= 0, got 'two'",
        ),
    ],
)
def test_names_and_parameters_in_a_field(tmp_path, entry, path, message):
    text = f"""
        connector: repzo
        stream: client
        entity: customer
        fields:
          code: client_code
          name: {entry}
        """
    [issue] = problems(write(tmp_path, text))
    assert (issue.line, issue.path, issue.message) == (6, path, message)


def test_a_reference_to_a_misspelled_entity(tmp_path):
    text = """
        connector: repzo
        stream: client
        entity: customer
        fields:
          code: client_code
          price_list: {path: sv_priceList, ref: pricelist}
        """
    [issue] = problems(write(tmp_path, text))
    assert (issue.line, issue.path) == (6, "fields.price_list.ref")
    assert issue.message.startswith("unknown entity 'pricelist' (did you mean 'price_list'?)")


def test_a_template_naming_a_misspelled_field(tmp_path):
    text = """
        connector: repzo
        stream: client
        entity: customer
        identity:
          integration_meta.id: "{namespace}_{kode}"
        fields:
          code: client_code
        """
    [issue] = problems(write(tmp_path, text))
    assert (issue.line, issue.path) == (5, "identity.integration_meta.id")
    assert "names unknown 'kode' (did you mean 'code'?); it can use" in issue.message


# -- streams in flows ------------------------------------------------------------------------


def flow_config(write_config, mappings_dir: Path, source: str, target: str) -> Path:
    return write_config(
        f"""
        mappings: [{mappings_dir}]
        connectors:
          repzo: {{type: repzo, api_key: k, namespace: demo}}
          erp: {{type: erp_stub, username: u, password: p}}
          drop: {{type: csv, path: {mappings_dir / "drop"}}}
        flows:
          - name: f
            source: {source}
            target: {target}
        """
    )


def test_an_unknown_repzo_stream_is_refused_with_a_suggestion(write_config, tmp_path, runner):
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: erp, stream: customers}",
        "{connector: repzo, stream: clients}",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.path) == (str(path), 9, "flows[0].target.stream")
    assert issue.message.startswith(
        "unknown stream 'clients' of connector repzo (did you mean 'client'?); "
        "expected one of the 89 known streams"
    )
    result = runner.invoke(app, ["check", "--offline", "--config", str(path)])
    assert result.exit_code == 2
    assert f"{path}:9: flows[0].target.stream: unknown stream 'clients'" in result.stderr


def test_repzo_lists_its_streams_without_credentials_or_a_connection():
    names = RepzoConnector.stream_names()
    connector = RepzoConnector("repzo", RepzoSettings(api_key="k", namespace="demo"))
    try:
        assert names == set(connector.streams())  # the names the connector accepts at run time
    finally:
        asyncio.run(connector.aclose())
    assert {"client", "pricelists", "fullinvoices"} <= names


def test_csv_streams_are_any_file_name(write_config, tmp_path):
    write(
        tmp_path,
        "connector: csv\nstream: kunden_2026\nentity: customer\nkey: code\n"
        "fields: {code: code, name: name}\n",
        "csv/kunden_2026.yaml",
    )
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: erp, stream: customers}",
        "{connector: drop, stream: kunden_2026}",
    )
    assert [flow.name for flow in load_config(path).flows] == ["f"]


def test_a_stream_without_a_mapping_suggests_the_close_ones(write_config, tmp_path):
    path = flow_config(
        write_config,
        tmp_path,
        "{connector: erp, stream: customer}",
        "{connector: repzo, stream: client}",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [issue] = caught.value.issues
    assert (issue.line, issue.path) == (8, "flows[0].source")
    assert issue.message.startswith("no mapping for erp_stub stream 'customer': write ")
    assert issue.message.endswith("; did you mean 'customers' (erp_stub/customers.yaml)?")


def test_catalog_suggests_only_streams_that_have_a_mapping(tmp_path):
    write(tmp_path, "connector: repzo\n", "repzo/client-contact.yaml")
    catalog = MappingCatalog([tmp_path], shipped=False)
    assert catalog.close_streams("repzo", "client-contacts") == ["client-contact"]
    assert catalog.close_streams("repzo", "warehouse") == []
