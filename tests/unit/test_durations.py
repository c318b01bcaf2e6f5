"""Unit: reading human durations ('500ms', '1h30m', numbers, timedeltas) into seconds."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor import ConfigurationError
from conveyor._durations import to_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),
        ("1.5h", 5400.0),
        ("1m30s", 90.0),
        ("1h0m5s250ms", 3605.25),
        ("0s", 0.0),
        ("  30S ", 30.0),
        ("2.5", 2.5),
        ("10", 10.0),
    ],
)
def test_strings(text: str, seconds: float) -> None:
    assert to_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(0, 0.0), (5, 5.0), (2.5, 2.5), (0.001, 0.001), (10**6, 1e6)],
)
def test_numbers_are_seconds(value: float, seconds: float) -> None:
    result = to_seconds(value)
    assert result == seconds
    assert isinstance(result, float)


def test_timedeltas() -> None:
    assert to_seconds(timedelta(minutes=2, milliseconds=500)) == 120.5
    assert to_seconds(timedelta(0)) == 0.0


@given(
    st.integers(0, 400),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999),
)
def test_composed_strings_add_up(hours: int, minutes: int, secs: int, millis: int) -> None:
    text = f"{hours}h{minutes}m{secs}s{millis}ms"
    expected = hours * 3600 + minutes * 60 + secs + millis / 1000
    assert to_seconds(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "5x", "1h30", "h", "ms", "1h 30m", "1.5.5s", "-5s", "5 s", "30sec", "1,5s"],
)
def test_unreadable_strings_raise_with_examples(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"is not a duration; write e\.g\. '500ms'"):
        to_seconds(text)


@pytest.mark.parametrize("value", [-1, -0.5, timedelta(seconds=-3), "-2", math.nan, "nan"])
def test_negative_or_nan_raise(value: object) -> None:
    with pytest.raises(ConfigurationError, match="must be zero or positive"):
        to_seconds(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (True, "not a bool"),
        (False, "not a bool"),
        (None, "not NoneType"),
        ([30], "not list"),
        (b"30s", "not bytes"),
    ],
)
def test_other_types_raise(value: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        to_seconds(value)  # type: ignore[arg-type]


def test_the_message_names_what_was_being_read() -> None:
    with pytest.raises(ConfigurationError, match=r"^timeout 'soon' is not a duration"):
        to_seconds("soon", what="timeout")
    with pytest.raises(ConfigurationError, match=r"^delay must be zero or positive, got -1"):
        to_seconds(-1, what="delay")
    with pytest.raises(ConfigurationError, match=r"^retry delay must be a duration"):
        to_seconds(True, what="retry delay")
