from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncer.config.types import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("500ms", timedelta(milliseconds=500)),
        ("1w", timedelta(weeks=1)),
        ("90", timedelta(seconds=90)),
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        (" 5M ", timedelta(minutes=5)),
    ],
)
def test_parses_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "five", "5 minutes", "m5", "5m5", "-5s", -1, True, None, [5]])
def test_rejects_what_is_not_a_duration(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@given(st.integers(min_value=0, max_value=10**10))
def test_format_reads_back(milliseconds):
    value = timedelta(milliseconds=milliseconds)
    assert parse_duration(format_duration(value)) == value
