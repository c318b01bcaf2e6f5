"""Unit: cron expression parsing, matching and the next/previous wall-clock search."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import ConfigurationError
from conveyor.schedules.cron import CronExpr, parse_cron


def test_star_means_every_value() -> None:
    expr = CronExpr.parse("* * * * *")
    assert expr.minutes == frozenset(range(60))
    assert expr.hours == frozenset(range(24))
    assert expr.days == frozenset(range(1, 32))
    assert expr.months == frozenset(range(1, 13))
    assert expr.weekdays == frozenset(range(7))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("5", {5}),
        ("1,5,10-12", {1, 5, 10, 11, 12}),
        ("*/15", {0, 15, 30, 45}),
        ("10-30/10", {10, 20, 30}),
        ("50/3", {50, 53, 56, 59}),
        ("0-59/30,7", {0, 30, 7}),
    ],
)
def test_minute_field_syntax(field: str, expected: set[int]) -> None:
    assert CronExpr.parse(f"{field} * * * *").minutes == expected


def test_month_and_weekday_names_are_case_insensitive() -> None:
    expr = CronExpr.parse("0 0 * jan,Mar-may mon-FRI")
    assert expr.months == {1, 3, 4, 5}
    assert expr.weekdays == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("field", "expected"), [("0", {0}), ("7", {0}), ("5-7", {5, 6, 0}), ("*/2", {0, 2, 4, 6})]
)
def test_sunday_is_zero_and_seven(field: str, expected: set[int]) -> None:
    assert CronExpr.parse(f"0 0 * * {field}").weekdays == expected


@pytest.mark.parametrize(
    ("macro", "same_as"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
    ],
)
def test_macros(macro: str, same_as: str) -> None:
    expr, plain = CronExpr.parse(macro), CronExpr.parse(same_as)
    assert (expr.minutes, expr.hours, expr.days, expr.months, expr.weekdays) == (
        plain.minutes,
        plain.hours,
        plain.days,
        plain.months,
        plain.weekdays,
    )
    assert expr.text == macro.lower()


def test_text_is_normalised_and_str_returns_it() -> None:
    expr = parse_cron("  0   3 *  * *\t")
    assert expr.text == "0 3 * * *"
    assert str(expr) == "0 3 * * *"
    assert expr == CronExpr.parse("0 3 * * *")


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("0 3 * * *", True),
        ("*/15 2 * * *", True),
        ("0 */2 * * *", True),
        ("0 * * * *", False),
        ("*/15 */1 * * *", False),
        ("0 0-23 * * *", False),
        ("@hourly", False),
        ("@daily", True),
    ],
)
def test_fixed_hours(text: str, fixed: bool) -> None:
    assert CronExpr.parse(text).fixed_hours is fixed


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("61 3 * * *", ["'61 3 * * *'", "minute", "'61'", "0-59"]),
        ("0 24 * * *", ["hour", "'24'", "0-23"]),
        ("0 0 0 * *", ["day-of-month", "'0'", "1-31"]),
        ("0 0 * 13 *", ["month", "'13'", "JAN-DEC"]),
        ("0 0 * * 8", ["day-of-week", "'8'", "0 and 7 are Sunday"]),
        ("0 0 * * MOO", ["day-of-week", "'MOO'", "SUN-SAT"]),
        ("x 0 * * *", ["minute", "'x'"]),
        ("*/0 * * * *", ["minute", "'*/0'", "step"]),
        ("*/x * * * *", ["minute", "step"]),
        ("30-10 * * * *", ["minute", "'30-10'", "backwards"]),
        ("1,,2 * * * *", ["minute", "empty"]),
        ("0 3 * *", ["'0 3 * *'", "4 fields", "needs 5"]),
        ("0 0 3 * * *", ["6 fields", "seconds"]),
        ("", ["0 fields"]),
        ("@reboot", ["'@reboot'", "not supported"]),
        ("@often", ["'@often'", "@daily"]),
        ("0 0 31 2 *", ["never runs"]),
        ("0 0 30,31 2 *", ["never runs"]),
        ("0 0 31 4,6,9,11 *", ["never runs"]),
    ],
)
def test_errors_quote_the_expression_name_the_field_and_show_an_example(
    text: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        CronExpr.parse(text)
    message = str(raised.value)
    assert "write e.g. '0 3 * * *'" in message
    for fragment in fragments:
        assert fragment in message


def test_non_string_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        CronExpr.parse(5)  # type: ignore[arg-type]


def test_feb_29_is_a_valid_if_rare_expression() -> None:
    expr = CronExpr.parse("0 0 29 2 *")
    assert expr.next_local(datetime(2025, 1, 1)) == datetime(2028, 2, 29)
    assert expr.previous_local(datetime(2027, 1, 1)) == datetime(2024, 2, 29)


def test_matches_ignores_seconds() -> None:
    expr = CronExpr.parse("30 2 * * *")
    assert expr.matches(datetime(2026, 3, 29, 2, 30, 59))
    assert not expr.matches(datetime(2026, 3, 29, 2, 31))
    assert not expr.matches(datetime(2026, 3, 29, 3, 30))


def test_day_of_month_or_weekday_when_both_are_restricted() -> None:
    expr = CronExpr.parse("0 0 13 * FRI")  # the 13th, and every Friday
    assert expr.matches(datetime(2026, 1, 13))  # a Tuesday
    assert expr.matches(datetime(2026, 1, 16))  # a Friday
    assert not expr.matches(datetime(2026, 1, 14))


def test_day_of_month_and_weekday_when_one_is_a_star() -> None:
    expr = CronExpr.parse("0 0 */2 * FRI")  # '*/2' counts as unrestricted: both must match
    assert expr.matches(datetime(2026, 1, 9))  # Friday the 9th (odd day)
    assert not expr.matches(datetime(2026, 1, 16))  # Friday the 16th (even)
    assert not expr.matches(datetime(2026, 1, 11))  # odd, but a Sunday


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("0 3 * * *", datetime(2026, 1, 1, 3, 0), datetime(2026, 1, 2, 3, 0)),
        ("0 3 * * *", datetime(2026, 1, 1, 2, 59, 59), datetime(2026, 1, 1, 3, 0)),
        ("*/15 * * * *", datetime(2026, 1, 1, 23, 50), datetime(2026, 1, 2, 0, 0)),
        ("0 0 1 1 *", datetime(2026, 1, 1, 0, 0), datetime(2027, 1, 1, 0, 0)),
        ("0 12 31 * *", datetime(2026, 4, 1), datetime(2026, 5, 31, 12, 0)),
        ("0 9 * * MON", datetime(2026, 1, 1), datetime(2026, 1, 5, 9, 0)),
        ("59 23 31 12 *", datetime(2026, 12, 31, 23, 59), datetime(2027, 12, 31, 23, 59)),
        ("5 4 * * SUN", datetime(2026, 2, 28, 4, 5), datetime(2026, 3, 1, 4, 5)),
    ],
)
def test_next_local(text: str, after: datetime, expected: datetime) -> None:
    assert CronExpr.parse(text).next_local(after) == expected


expressions = st.sampled_from(
    [
        "* * * * *",
        "*/7 * * * *",
        "0 3 * * *",
        "15,45 */5 * * *",
        "0 0 1,15 * *",
        "30 8 * * MON-FRI",
        "0 12 13 * 5",
        "0 0 29 2 *",
        "10 4 31 * *",
        "0 22 * JAN,JUL SAT",
    ]
)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1))


def _brute_next(expr: CronExpr, after: datetime) -> datetime:
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not expr.matches(minute):
        minute += timedelta(minutes=1)
    return minute


@settings(deadline=None)
@given(expressions, moments)
def test_next_local_matches_and_is_strictly_after(text: str, after: datetime) -> None:
    expr = CronExpr.parse(text)
    found = expr.next_local(after)
    assert found > after
    assert expr.matches(found)
    assert found.second == found.microsecond == 0
    # Nothing matches in between: the previous match at or before found - 1 minute is <= after.
    before = expr.previous_local(found - timedelta(minutes=1))
    assert before is None or before <= after


@settings(deadline=None, max_examples=40)
@given(st.sampled_from(["*/7 * * * *", "15,45 */5 * * *", "0 3 * * *"]), moments)
def test_next_local_agrees_with_a_minute_by_minute_scan(text: str, after: datetime) -> None:
    expr = CronExpr.parse(text)
    assert expr.next_local(after) == _brute_next(expr, after)


@settings(deadline=None)
@given(expressions, moments)
def test_previous_local_is_the_mirror_of_next(text: str, moment: datetime) -> None:
    expr = CronExpr.parse(text)
    previous = expr.previous_local(moment)
    assert previous is not None
    assert previous <= moment
    assert expr.matches(previous)
    assert expr.next_local(previous) > moment
    assert expr.next_local(previous - timedelta(minutes=1)) == previous
