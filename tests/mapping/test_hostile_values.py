"""Hostile values cost their own record, never the run: a number no target can store is a
mapping error naming the field and the value (cut short), wherever it becomes a number; and
expressions read the record without changing it, have no clock, and work within a budget."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.repzo import RepzoSettings
from syncer.canonical import Customer, Payment, Tax
from syncer.canonical.numbers import MAX_DIGITS, MAX_EXPONENT, NumberOutOfBounds
from syncer.errors import ConfigError
from syncer.mapping.catalog import load_mapping
from syncer.mapping.errors import MappingError
from syncer.mapping.expressions import Expression, ExpressionError, ListView, RecordView, view
from syncer.mapping.hashing import content_hash, normalize
from syncer.mapping.mapping import MappingContext
from syncer.mapping.transforms import TransformValueError, build, to_decimal, to_float, to_int

RULE = "numbers have at most 18 significant digits and an exponent from -30 to 30"
HUGE = "1E+5000"
"""Out of bounds, and quick to fail on without the bounds (int() of it takes milliseconds,
str() of that int raises): the in-process tests use it. The billion-digit ``1e999999999``,
which hung for minutes, is tried in a child process with a timeout, at the end."""


def out_of_bounds(value: str, problem: str) -> str:
    return f"number {value} is out of bounds: {problem}; {RULE}"


# -- the bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678",  # 18 digits
        "-0.123456789012345678",
        "1e30",
        "9.99999999999999999e30",
        "1e-30",
        "-1E-30",
        "1.50000000000000000000000000000000000",  # trailing zeros are not significant
        "1" + "0" * 30,
        "0E-999999999",  # zero, however it is spelled
        "0.000",
    ],
)
def test_numbers_within_the_bounds_are_read_as_they_are(text):
    assert to_decimal(text) == Decimal(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1e999999999", "its exponent is 999999999"),
        ("1E+999999", "its exponent is 999999"),
        ("-1e31", "its exponent is 31"),
        ("1e-31", "its exponent is -31"),
        ("1e-999999999", "its exponent is -999999999"),
        ("1234567890123456789", "it has 19 significant digits"),
        ("0.1234567890123456789", "it has 19 significant digits"),
    ],
)
def test_numbers_beyond_the_bounds_are_refused_naming_the_value(text, problem):
    with pytest.raises(NumberOutOfBounds) as caught:
        to_decimal(text)
    assert str(caught.value) == out_of_bounds(repr(text), problem)
    assert (caught.value.value, caught.value.problem) == (repr(text), problem)
    assert isinstance(caught.value, ValueError)  # what mapping turns into a record error


def test_a_long_value_is_cut_short_in_the_message():
    cell = "1" + "0" * 100_000
    with pytest.raises(NumberOutOfBounds) as caught:
        to_decimal(cell)
    message = str(caught.value)
    assert len(message) < 250
    assert "(100001 characters)" in message and "its exponent is 100000" in message


def test_the_bounds_are_what_the_readme_says():
    assert (MAX_DIGITS, MAX_EXPONENT) == (18, 30)


def test_a_zero_with_a_wild_exponent_is_plain_zero():
    # Kept as it was, f"{Decimal('0E-999999999'):f}" would be a billion zeros.
    zero = to_decimal("0E-999999999")
    assert zero == 0 and zero.as_tuple().exponent == 0


@pytest.mark.parametrize(
    ("convert", "value"),
    [
        (to_decimal, 10**40),
        (to_decimal, 1e300),
        (to_decimal, 5e-324),
        (to_decimal, Decimal(HUGE)),
        (to_int, Decimal(HUGE)),
        (to_int, 1e300),
        (to_int, "9" * 4000),
        (to_float, HUGE),
        (to_float, "1e999"),  # float() would say inf
        (to_float, 10**40),
    ],
    ids=lambda value: value.__name__ if callable(value) else f"{type(value).__name__}",
)
def test_every_native_kind_is_checked(convert, value):
    with pytest.raises(NumberOutOfBounds):
        convert(value)


def test_ints_keep_their_meaning():
    assert to_int("12") == 12 and to_int(12.7) == 12 and to_int(True) == 1
    assert to_int(10**25) == 10**25  # one significant digit
    with pytest.raises(TransformValueError, match="expected a whole number, got '1e5'"):
        to_int("1e5")
    assert to_float("0.1") == 0.1 and to_float(3) == 3.0


# -- transforms ------------------------------------------------------------------------------


def t(name: str, **params):
    return build(name, params)


@pytest.mark.parametrize(
    ("name", "params", "value"),
    [
        ("money_x1000", {}, HUGE),
        ("money_x1000", {}, "1e-29"),  # a thousandth of it is below 1E-30
        ("decimal_string", {}, HUGE),
        ("decimal_string", {"places": 2}, "1" * 19),
        ("scale", {"factor": "1e-30"}, "1e30"),
        ("epoch_ms", {}, HUGE),
    ],
)
def test_transforms_refuse_numbers_beyond_the_bounds_on_read(name, params, value):
    with pytest.raises(ValueError, match="out of bounds"):
        t(name, **params).read(value)


def test_results_beyond_the_bounds_name_the_operation():
    with pytest.raises(NumberOutOfBounds) as caught:
        t("scale", factor="1e-30").read("1e30")
    assert str(caught.value).startswith(
        "the result of 1E+30 / 1E-30 is out of bounds: its exponent is above 30; "
    )


@pytest.mark.parametrize("canonical", [Decimal(HUGE), Decimal("1e30")])
def test_money_x1000_refuses_what_a_repzo_integer_cannot_hold(canonical):
    with pytest.raises(ValueError, match="out of bounds"):
        t("money_x1000").write(canonical)
    assert t("money_x1000").write(Decimal("123456789012345.678")) == 123456789012345678


def test_epoch_ms_beyond_the_calendar_is_a_value_error():
    with pytest.raises(TransformValueError, match="within the years 1 to 9999"):
        t("epoch_ms").read("1e20")


def test_decimal_string_writes_a_large_number_with_its_places():
    assert t("decimal_string", places=2).write(Decimal("1E+20")) == "100000000000000000000.00"
    assert t("decimal_string", places=18).write(Decimal("0.5")) == "0." + "5".ljust(18, "0")


def test_scale_rounds_an_inexact_result_to_the_digits_kept():
    assert t("scale", factor=3).read(1) == Decimal("0.333333333333333333")


# -- mappings --------------------------------------------------------------------------------

VARIABLES = set(RepzoSettings.model_fields)
CSV = """
connector: csv
stream: customers
entity: customer
key: code
fields:
  code: code
  name: name
  credit_limit: {path: credit_limit, transform: decimal_string}
  balance: balance
  payment_terms_days: {path: terms, type: int}
  latitude: {path: lat, type: float}
"""


def write(folder: Path, text: str, name: str = "csv/customers.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def customers(tmp_path):
    return load_mapping(write(tmp_path, CSV), VARIABLES)


def read(mapping, **cells):
    return mapping.read({"code": "C-1", "name": "Shop", **cells}, MappingContext())


@pytest.mark.parametrize(
    ("cells", "field", "fragment"),
    [
        (
            {"credit_limit": HUGE},
            "credit_limit",
            out_of_bounds("'1E+5000'", "its exponent is 5000"),
        ),
        ({"balance": HUGE}, "balance", out_of_bounds("'1E+5000'", "its exponent is 5000")),
        ({"balance": "1" * 19}, "balance", "it has 19 significant digits"),
        ({"terms": Decimal(HUGE)}, "payment_terms_days (terms)", "its exponent is 5000"),
        ({"terms": 10**40}, "payment_terms_days (terms)", "its exponent is 40"),
        ({"terms": "1e999999999"}, "payment_terms_days (terms)", "expected a whole number"),
        ({"lat": "1e999999999"}, "latitude (lat)", "its exponent is 999999999"),
    ],
)
def test_a_number_beyond_the_bounds_is_a_record_error_naming_field_and_value(
    customers, cells, field, fragment
):
    with pytest.raises(MappingError) as caught:
        read(customers, **cells)
    assert caught.value.field == field
    assert caught.value.record_key == "C-1"
    assert fragment in caught.value.reason


def test_numbers_within_the_bounds_map_as_before(customers):
    record = read(customers, credit_limit="1500.50", balance="12", terms="30", lat="31.95")
    assert record.values["credit_limit"] == Decimal("1500.50")
    assert record.values["balance"] == Decimal("12")
    assert record.values["payment_terms_days"] == 30
    assert record.values["latitude"] == 31.95


def test_a_megabyte_cell_is_quoted_cut_short(customers):
    with pytest.raises(MappingError) as caught:
        read(customers, balance="9" * 1_000_000)
    assert len(str(caught.value)) < 300
    assert "(1000000 characters)" in caught.value.reason


def test_writing_a_number_a_target_cannot_hold_is_a_record_error(tmp_path):
    mapping = load_mapping(
        write(
            tmp_path,
            "connector: repzo\nstream: client\nentity: customer\n"
            "fields: {code: client_code, name: name,\n"
            "  credit_limit: {path: financials.credit_limit, transform: money_x1000}}\n",
            "repzo/client.yaml",
        ),
        VARIABLES,
    )
    with pytest.raises(MappingError) as caught:
        mapping.write(
            {"code": "C-1", "name": "Shop", "credit_limit": Decimal("1e30")},
            MappingContext(),
            record_key="C-1",
        )
    assert caught.value.field == "credit_limit"
    assert "the result of 1000000000000000000000000000000.000 x 1000" in caught.value.reason


@pytest.mark.parametrize(
    ("transform", "fragment"),
    [
        ("{decimal_string: {places: 1000000}}", "expected a whole number from 0 to 18"),
        ("{scale: {factor: 1e999999999}}", "expected a number other than 0, got inf"),
        ("{scale: {factor: '1e999999999'}}", "its exponent is 999999999"),
    ],
)
def test_transform_parameters_are_bounded_when_the_mapping_loads(tmp_path, transform, fragment):
    text = CSV.replace(
        "  credit_limit: {path: credit_limit, transform: decimal_string}",
        f"  credit_limit: {{path: credit_limit, transform: {transform}}}",
    )
    with pytest.raises(ConfigError) as caught:
        load_mapping(write(tmp_path, text), VARIABLES)
    assert "fields.credit_limit.transform" in caught.value.message
    assert fragment in caught.value.message


# -- the canonical model ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Customer, {"credit_limit": HUGE}),
        (Customer, {"credit_limit": Decimal("1E-5000")}),
        (Customer, {"payment_terms_days": Decimal(HUGE)}),
        (Customer, {"payment_terms_days": 10**40}),
        (Tax, {"rate": "1" * 30}),
        (Payment, {"amount": HUGE}),
    ],
)
def test_canonical_numbers_are_bounded_whatever_path_they_came_by(model, values):
    base = {"code": "C", "name": "N", "rate": 16, "number": "P-1", "customer": "c"}
    base.update({"date": "2026-11-29", "amount": 1})
    fields = {name: value for name, value in base.items() if name in model.model_fields}
    with pytest.raises(ValidationError, match="out of bounds"):
        model(**{**fields, **values})


def test_a_canonical_refusal_quotes_the_value_as_given():
    with pytest.raises(ValidationError) as caught:
        Customer(code="C", name="N", credit_limit=HUGE)
    [error] = caught.value.errors(include_url=False)
    assert error["loc"] == ("credit_limit",)
    assert out_of_bounds("'1E+5000'", "its exponent is 5000") in error["msg"]


# -- the content hash ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "spelled"),
    [
        (Decimal(HUGE), "1E+5000"),
        (Decimal("-1.50E+5000"), "-1.5E+5000"),
        (Decimal("1E-5000"), "1E-5000"),
        (Decimal("0E+5000"), "0"),
        (Decimal("Infinity"), "Infinity"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (float("nan"), "NaN"),
    ],
)
def test_the_hash_of_a_number_beyond_the_bounds_is_quick_and_its_own(value, spelled):
    assert normalize(value) == spelled
    assert content_hash({"a": value}) != content_hash({"a": Decimal(1)})


@pytest.mark.parametrize(
    ("value", "spelled"),
    [
        (Decimal("1.50"), "1.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("12.000"), "12"),
        (1e300, str(int(1e300))),  # every float is spelled out, as before
        (1.5e-300, f"{Decimal('1.5e-300'):f}"),
        (10**4000, str(10**4000)),
    ],
    ids=["1.50", "1E+3", "12.000", "1e300", "1.5e-300", "10**4000"],
)
def test_hashes_of_numbers_anyone_could_store_are_unchanged(value, spelled):
    assert normalize(value) == spelled


# -- expressions: no clock, no changes, a budget ---------------------------------------------

CLIENT = """
connector: repzo
stream: client
entity: customer
key: _id
fields:
  code: client_code
  name: name
  credit_limit: {path: credit_limit, transform: money_x1000}
"""


def with_expression(expression: str) -> str:
    """CLIENT with ``name`` read through ``expression``, on a line marked ``#!``."""
    entry = f"  name: {{path: name, direction: read, expr: {{read: {json.dumps(expression)}}}}}  #!"
    return CLIENT.replace("  name: name", entry, 1)


def marked(text: str) -> int:
    for number, line in enumerate(textwrap.dedent(text).lstrip("\n").splitlines(), start=1):
        if "#!" in line:
            return number
    raise AssertionError("no #! mark")


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("datetime.now()", "reads the clock (datetime.now)"),
        ("date.today()", "reads the clock (date.today)"),
        ("datetime.utcnow()", "reads the clock (datetime.utcnow)"),
        ("datetime.today", "reads the clock (datetime.today)"),
        ("datetime(2026, 1, 1).now()", "reads the clock (.now())"),
        ("record['at'].today()", "reads the clock (.today())"),
        ("datetime.fromtimestamp(record['at'])", "use the epoch_ms transform"),
        ("record.clear()", "would change the record (.clear()): expressions only read it"),
        ("record.pop('name')", "would change the record (.pop())"),
        ("record.update({})", "would change the record (.update())"),
        ("record.get('tags').append(1)", "would change the record (.append())"),
        ("record.__class__", "attributes starting with _ are not available"),
        ("round(Decimal('1e999999999'))", "number '1e999999999' is out of bounds: its exponent"),
        ("int('1' * 40)", "its exponent is 39"),
        ("1e999999999", "number inf is out of bounds: not finite"),
        ("2 ** 1000", "the result of 2 ** 1000 is out of bounds: its exponent is about 301"),
        ("decimal(1e30) * 10 ** 30", "a decimal result is out of bounds"),
        ("'x' * 10 ** 6", "is refused: it would build more than an expression may: text of at"),
        ("'x' * 1000000000", "text of at most 100,000 characters, comprehensions of at most"),
        ("'%0999999999d' % 1", "widths and precisions go up to 100"),
        ("round(12, -40)", "round() to -40 digits: the most is 30 either way"),
        ("'{}'.format(1)", "uses .format, which is not available on text"),
    ],
)
def test_what_an_expression_may_not_do_is_refused_when_the_mapping_loads(
    tmp_path, expression, fragment
):
    text = with_expression(expression)
    file = write(tmp_path, text, "repzo/client.yaml")
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_mapping(file, VARIABLES)
    assert time.monotonic() - started < 5
    message = caught.value.message
    assert f"{file}:{marked(text)}: fields.name.expr.read: expression " in message, message
    assert fragment in message, message


def mapped(tmp_path, expression: str, record: dict):
    mapping = load_mapping(
        write(tmp_path, with_expression(expression), "repzo/client.yaml"), VARIABLES
    )
    return mapping.read({"_id": "c1", "client_code": "C-1", **record}, MappingContext())


@pytest.mark.parametrize(
    ("expression", "record", "fragment"),
    [
        ("str(round(Decimal(record['n'])))", {"n": HUGE}, "its exponent is 5000"),
        ("str(int(record['n']))", {"n": Decimal(HUGE)}, "its exponent is 5000"),
        ("str(float(record['n']))", {"n": "1e999"}, "its exponent is 999"),
        ("str(record['n'] ** record['m'])", {"n": 2, "m": 10**6}, "its exponent is about"),
        ("record['n'] * 10", {"n": 10**40}, "its exponent is 41"),
        ("record['s'].replace('a', record['s'])", {"s": "a" * 1000}, "the most is 100000"),
        ("join(record['tags'], record['s'])", {"tags": ["a"] * 1000, "s": "-" * 1000}, "100000"),
        ("f\"{record['s']:>1000000}\"", {"s": "a"}, "widths and precisions go up to 100"),
        # the clock, reached in a way only the record's values show
        ("str((record.get('at') or datetime).now)", {}, "reads the clock (datetime.now)"),
    ],
)
def test_what_only_the_record_shows_is_a_record_error_naming_the_field(
    tmp_path, expression, record, fragment
):
    started = time.monotonic()
    with pytest.raises(MappingError) as caught:
        mapped(tmp_path, expression, record)
    assert time.monotonic() - started < 5
    assert caught.value.field == "name"
    assert caught.value.reason.startswith(f"expression {expression!r} failed: ")
    assert fragment in caught.value.reason


def test_expressions_read_the_record_without_changing_it(tmp_path):
    record = {"name": "Shop", "meta": {"tags": ["a", "b"], "code": "X"}, "n": "2.5"}
    before = repr(record)
    for expression, expected in [
        ("record['meta']['tags'][1]", "b"),
        ("record.get('meta').get('code')", "X"),
        ("coalesce((record.get('missing') or {}).get('code'), record.name)", "Shop"),
        ("str(len(record['meta']['tags']) + len(record))", "7"),  # with _id and client_code
        ("str('a' in record['meta']['tags'])", "True"),
        ("join(record['meta']['tags'] + ['c'], '')", "abc"),
        ("str(record['meta'] == {'tags': ['a', 'b'], 'code': 'X'})", "True"),
        ("str(decimal(record['n']) * 2)", "5.0"),
        ("'%s-%03d' % (record['meta']['code'], 7)", "X-007"),
        ("str(round(decimal('2.675'), 2))", "2.68"),
        ("str(datetime.fromisoformat('2026-11-29T10:00:00+00:00').year)", "2026"),
    ]:
        assert mapped(tmp_path, expression, record).values["name"] == expected, expression
    assert repr(record) == before


def test_what_an_expression_returns_is_its_own_copy():
    expression = Expression("record['meta']", frozenset({"record"}))
    record = {"meta": {"tags": ["a"]}}
    result = expression({"record": record})
    assert result == {"tags": ["a"]} and type(result) is dict
    result["tags"].append("b")
    assert record == {"meta": {"tags": ["a"]}}


def test_the_record_view_is_read_only_all_the_way_down():
    record = view({"a": {"b": [1, {"c": 2}]}})
    assert isinstance(record, RecordView) and isinstance(record["a"]["b"], ListView)
    assert record["a"]["b"][1]["c"] == 2 and record.get("a").get("b")[0] == 1
    assert list(record) == ["a"] and len(record["a"]["b"]) == 2
    assert record == {"a": {"b": [1, {"c": 2}]}}
    for target, name in [
        (record, "clear"),
        (record, "pop"),
        (record, "update"),
        (record, "setdefault"),
        (record["a"]["b"], "append"),
        (record["a"]["b"], "sort"),
    ]:
        assert not hasattr(target, name)
    with pytest.raises(TypeError):
        record["x"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        record["a"]["b"][0] = 5


def test_write_expressions_see_the_canonical_record_read_only():
    expression = Expression("value", frozenset({"value", "record"}))
    values = {"tags": ["a"]}
    out = expression({"value": values["tags"], "record": values})
    out.append("b")
    assert values == {"tags": ["a"]}


def test_an_expression_error_carries_its_parts():
    with pytest.raises(ExpressionError) as caught:
        Expression("date.today()", frozenset({"record"}))
    assert caught.value.expression == "date.today()"
    assert caught.value.problem.startswith("reads the clock (date.today): mappings have no clock")


def test_dates_from_explicit_values_still_work():
    expression = Expression("datetime(2026, 11, 29, 10, 0)", frozenset({"record"}))
    assert expression({"record": {}}) == datetime(2026, 11, 29, 10, 0)  # noqa: DTZ001


# -- the billion-digit numbers themselves, in a child process with a timeout -----------------

BILLION = {
    "to_decimal": "from syncer.mapping.transforms import to_decimal\n"
    "try:\n    to_decimal('1e999999999')\nexcept ValueError as error:\n    print(error)",
    "content hash": "from decimal import Decimal\n"
    "from syncer.mapping.hashing import content_hash\n"
    "print(content_hash({'a': Decimal('1e999999999')}))",
    "canonical model": "from syncer.canonical import Customer\n"
    "try:\n    Customer(code='c', name='n', payment_terms_days=__import__('decimal')."
    "Decimal('1e999999999'))\nexcept ValueError as error:\n    print(error)",
    "expression": "from syncer.mapping.expressions import Expression\n"
    "e = Expression(\"round(Decimal(record['n']))\", frozenset({'record'}))\n"
    "try:\n    e({'record': {'n': '1e999999999'}})\nexcept ValueError as error:\n    print(error)",
    "epoch_ms": "from syncer.mapping.transforms import build\n"
    "try:\n    build('epoch_ms', {}).read('1e999999999')\n"
    "except ValueError as error:\n    print(error)",
}


@pytest.mark.parametrize("code", BILLION.values(), ids=list(BILLION))
def test_a_billion_digit_number_is_refused_in_moments(code):
    # In a child: before the bounds, int() on it ran for minutes in C, and no signal stops that.
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "999999999" in done.stdout or len(done.stdout.strip()) == 64
