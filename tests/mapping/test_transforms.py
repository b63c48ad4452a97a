"""Transforms at their edges: money rounding, negatives, dates, epochs, time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from syncer.mapping.transforms import TRANSFORMS, TransformValueError, build


def t(name: str, **params):
    return build(name, params)


@pytest.mark.parametrize(
    ("native", "canonical"),
    [
        (12500, Decimal("12.5")),
        (0, Decimal("0")),
        (-1250, Decimal("-1.25")),
        (1, Decimal("0.001")),
        ("7000", Decimal("7")),
        (12500.0, Decimal("12.5")),
        (999_999_999_999, Decimal("999999999.999")),
    ],
)
def test_money_x1000_reads_exactly(native, canonical):
    assert t("money_x1000").read(native) == canonical


@pytest.mark.parametrize(
    ("canonical", "native"),
    [
        (Decimal("12.5"), 12500),
        (Decimal("0.0005"), 1),  # half rounds away from zero...
        (Decimal("0.0004999"), 0),
        (Decimal("-0.0005"), -1),  # ...on both sides
        (Decimal("2.0015"), 2002),
        (Decimal("2.0025"), 2003),  # not banker's rounding
        (Decimal("-3.10"), -3100),
        (Decimal("0.1"), 100),
    ],
)
def test_money_x1000_writes_rounded_half_away_from_zero(canonical, native):
    assert t("money_x1000").write(canonical) == native
    assert isinstance(t("money_x1000").write(canonical), int)


@pytest.mark.parametrize("bad", ["twelve", True, None, "NaN", "Infinity", [1], "1.2.3"])
def test_money_refuses_what_is_not_a_number(bad):
    with pytest.raises(TransformValueError):
        t("money_x1000").read(bad)


def test_floats_go_through_their_repr_not_binary():
    assert t("money_x1000").read(0.1) == Decimal("0.0001")
    assert t("decimal_string").read(0.1) == Decimal("0.1")


@pytest.mark.parametrize(
    ("places", "canonical", "native"),
    [
        (2, Decimal("1234.5"), "1234.50"),
        (3, Decimal("7"), "7.000"),
        (None, Decimal("1.500"), "1.5"),
        (None, Decimal("100"), "100"),
        (None, Decimal("-0"), "0"),
        (None, Decimal("1E+3"), "1000"),
    ],
)
def test_decimal_string_round_trip(places, canonical, native):
    transform = t("decimal_string", places=places) if places is not None else t("decimal_string")
    assert transform.write(canonical) == native
    assert transform.read(native) == canonical


@pytest.mark.parametrize(
    ("canonical", "native"),
    [(Decimal("0.005"), "0.01"), (Decimal("-0.005"), "-0.01"), (Decimal("0.0049"), "0.00")],
)
def test_decimal_string_rounds_half_away_from_zero(canonical, native):
    assert t("decimal_string", places=2).write(canonical) == native


def test_date_ymd_round_trip_and_errors():
    transform = t("date_ymd")
    assert transform.read("2026-02-28") == date(2026, 2, 28)
    assert transform.write(date(2024, 2, 29)) == "2024-02-29"
    for bad in ("2026-02-30", "29/11/2026", "2026-11-29T10:00:00Z", 20261129):
        with pytest.raises(TransformValueError, match="expected a date"):
            transform.read(bad)
    with pytest.raises(TransformValueError):
        transform.write(datetime(2026, 1, 1, tzinfo=UTC))  # a time is not a business date


def test_date_format_compact():
    transform = t("date_format", format="%Y%m%d")
    assert transform.read("20261129") == date(2026, 11, 29)
    assert transform.write(date(2026, 1, 5)) == "20260105"


@pytest.mark.parametrize(
    ("millis", "moment"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1666774230771, datetime(2022, 10, 26, 8, 50, 30, 771000, tzinfo=UTC)),
        (-1, datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        (-86_400_000, datetime(1969, 12, 31, tzinfo=UTC)),
    ],
)
def test_epoch_ms(millis, moment):
    assert t("epoch_ms").read(millis) == moment
    assert t("epoch_ms").write(moment) == millis


def test_epoch_ms_refuses_naive_and_junk():
    with pytest.raises(TransformValueError, match="naive"):
        t("epoch_ms").write(datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(TransformValueError):
        t("epoch_ms").read("yesterday")
    with pytest.raises(TransformValueError):
        t("epoch_ms").read(True)


def test_iso_datetime_normalises_offsets_to_utc():
    transform = t("iso_datetime")
    expected = datetime(2026, 11, 29, 10, 4, 5, 123000, tzinfo=UTC)
    assert transform.read("2026-11-29T13:04:05.123+03:00") == expected
    assert transform.read("2026-11-29T10:04:05.123Z") == expected
    assert transform.write(expected) == "2026-11-29T10:04:05.123Z"


def test_iso_datetime_refuses_naive_times_unless_told_their_zone():
    with pytest.raises(TransformValueError, match="has no offset; set assume_timezone"):
        t("iso_datetime").read("2026-11-29T13:04:05")
    amman = t("iso_datetime", assume_timezone="Asia/Amman", timezone="Asia/Amman", precision="s")
    moment = amman.read("2026-11-29T13:04:05")
    assert moment == datetime(2026, 11, 29, 10, 4, 5, tzinfo=UTC)
    assert amman.write(moment) == "2026-11-29T13:04:05+03:00"


def test_iso_datetime_across_daylight_saving_changes():
    berlin = t(
        "iso_datetime", assume_timezone="Europe/Berlin", timezone="Europe/Berlin", precision="s"
    )
    # Spring forward: 02:30 does not exist on 2026-03-29; zoneinfo reads it with the winter
    # offset, and an hour either side is exact.
    assert berlin.read("2026-03-29T01:30:00") == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert berlin.read("2026-03-29T03:30:00") == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # Fall back: 02:30 happens twice on 2026-10-25; the first (summer) one is taken, and an
    # explicit offset always wins.
    assert berlin.read("2026-10-25T02:30:00") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert berlin.read("2026-10-25T02:30:00+01:00") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    # Written back, each instant gets the offset in force at that instant.
    assert berlin.write(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "2026-10-25T02:30:00+02:00"
    assert berlin.write(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "2026-10-25T02:30:00+01:00"


def test_iso_datetime_write_refuses_naive():
    with pytest.raises(TransformValueError, match="timezone-aware"):
        t("iso_datetime").write(datetime(2026, 1, 1))  # noqa: DTZ001
    plus5 = datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))
    assert t("iso_datetime").write(plus5) == "2026-01-01T00:00:00.000Z"


def test_text_normalisers_and_negate_and_join():
    assert t("strip").read("  Al Noor ") == "Al Noor" and t("strip").write("x") == "x"
    assert t("upper").read("jo") == "JO"
    assert t("negate").read(False) is True and t("negate").write(True) is False
    with pytest.raises(TransformValueError):
        t("negate").read("no")
    assert t("join").read("a, b,,c") == ["a", "b", "c"]
    assert t("join", separator="|").write(["a", "b"]) == "a|b"
    assert t("scale", factor="0.01").read(Decimal("0.16")) == Decimal("16")
    assert t("scale", factor="0.01").write(Decimal("16")) == Decimal("0.16")


def test_unknown_transform_and_bad_parameters():
    with pytest.raises(ValueError, match="unknown transform 'money'"):
        build("money", {})
    with pytest.raises(ValueError, match="places must be"):
        build("decimal_string", {"places": -1})
    with pytest.raises(ValueError, match="unknown time zone"):
        build("iso_datetime", {"timezone": "Mars/Olympus"})


def test_every_transform_but_the_lossy_ones_is_invertible():
    lossy = {name for name, factory in TRANSFORMS.items() if not factory({}).invertible}
    assert lossy == {"first_word"}
