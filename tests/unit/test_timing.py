"""Unit: timings (Every and Cron in UTC): slots, counting, next/previous, specs and labels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import ConfigurationError
from conveyor.schedules.cron import CronExpr
from conveyor.schedules.timing import Cron, Every, Timing, parse_timing


def at(text: str) -> float:
    """Epoch seconds of a UTC ISO time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# -- Every -------------------------------------------------------------------------------------


def test_every_slots_are_multiples_of_the_interval_since_the_epoch() -> None:
    every = Every(900)
    assert every.slots_between(at("2026-01-01 14:01"), at("2026-01-01 15:00"), 10) == [
        at("2026-01-01 14:15"),
        at("2026-01-01 14:30"),
        at("2026-01-01 14:45"),
        at("2026-01-01 15:00"),
    ]


def test_every_bounds_are_exclusive_then_inclusive() -> None:
    every = Every(60)
    assert every.slots_between(60, 180, 10) == [120.0, 180.0]
    assert every.slots_between(59.5, 60, 10) == [60.0]
    assert every.slots_between(60, 60, 10) == []
    assert every.slots_between(100, 50, 10) == []


def test_every_limit_keeps_the_oldest() -> None:
    assert Every(10).slots_between(0, 100, 3) == [10.0, 20.0, 30.0]
    assert Every(10).slots_between(0, 100, 0) == []


def test_every_counts_a_year_of_seconds_by_arithmetic() -> None:
    year = 365 * 86400
    assert Every(1).count_between(0, year) == year
    assert Every(1).slots_between(0, year, 2) == [1.0, 2.0]


def test_every_next_and_previous() -> None:
    every = Every(900)
    assert every.next_after(900) == 1800
    assert every.next_after(901) == 1800
    assert every.previous_at_or_before(1800) == 1800
    assert every.previous_at_or_before(1799.9) == 900


def test_every_with_a_fractional_interval() -> None:
    every = Every(1.5)
    assert every.slots_between(0, 6, 10) == [1.5, 3.0, 4.5, 6.0]
    assert every.spec == "every:1.5"
    assert every.describe() == "every 1.5s"


@pytest.mark.parametrize("seconds", [0, 0.5, -1, float("nan"), float("inf")])
def test_every_rejects_intervals_below_a_second(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="at least 1 second"):
        Every(seconds)


def test_every_rejects_non_numbers() -> None:
    with pytest.raises(ConfigurationError, match="number of seconds"):
        Every("15m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "every 1s"),
        (900, "every 15m"),
        (3600, "every 1h"),
        (5400, "every 1h30m"),
        (86400, "every 1d"),
    ],
)
def test_every_describe(seconds: float, text: str) -> None:
    assert Every(seconds).describe() == text


def test_every_label() -> None:
    slot = at("2026-03-29 14:15")
    assert Every(900).label(slot) == "14:15:00 UTC"
    assert Every(900).label(slot, with_date=True) == "2026-03-29 14:15:00 UTC"


# -- Cron in UTC -------------------------------------------------------------------------------


def test_cron_daily_in_utc() -> None:
    cron = Cron("0 3 * * *")
    assert cron.slots_between(at("2026-01-01 00:00"), at("2026-01-03 12:00"), 10) == [
        at("2026-01-01 03:00"),
        at("2026-01-02 03:00"),
        at("2026-01-03 03:00"),
    ]
    assert cron.count_between(at("2026-01-01 00:00"), at("2026-01-03 12:00")) == 3


def test_cron_limit_keeps_the_oldest() -> None:
    cron = Cron("*/15 * * * *")
    assert cron.slots_between(at("2026-01-01 00:00"), at("2026-01-01 12:00"), 2) == [
        at("2026-01-01 00:15"),
        at("2026-01-01 00:30"),
    ]
    assert cron.count_between(at("2026-01-01 00:00"), at("2026-01-01 12:00")) == 48


def test_cron_bounds_are_exclusive_then_inclusive() -> None:
    cron = Cron("0 * * * *")
    assert cron.slots_between(at("2026-01-01 01:00"), at("2026-01-01 02:00"), 5) == [
        at("2026-01-01 02:00")
    ]
    assert cron.slots_between(at("2026-01-01 01:00"), at("2026-01-01 01:59:59"), 5) == []


def test_cron_next_and_previous() -> None:
    cron = Cron("30 8 * * MON-FRI")
    friday = at("2026-01-02 08:30")
    assert cron.next_after(friday) == at("2026-01-05 08:30")
    assert cron.previous_at_or_before(friday) == friday
    assert cron.previous_at_or_before(friday - 1) == at("2026-01-01 08:30")


def test_cron_previous_is_none_beyond_eight_years() -> None:
    cron = Cron("0 0 29 2 *")
    assert cron.previous_at_or_before(at("2026-01-01 00:00")) == at("2024-02-29 00:00")
    # Mondays that are the 1st or the 29th of February: 2027-02-01, then 2038-02-01.
    rare = Cron("0 0 */28 2 MON")
    assert rare.previous_at_or_before(at("2030-01-01 00:00")) == at("2027-02-01 00:00")
    assert rare.previous_at_or_before(at("2037-12-31 00:00")) is None
    assert rare.next_after(at("2030-01-01 00:00")) == at("2038-02-01 00:00")


def test_cron_accepts_a_parsed_expression_and_compares_by_value() -> None:
    assert Cron(CronExpr.parse("0 3 * * *"), "UTC") == Cron("0 3 * * *")
    assert Cron("0 3 * * *", "Europe/Berlin") != Cron("0 3 * * *")
    assert len({Cron("0 3 * * *"), Cron("0  3 * * *")}) == 1


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_cron_unknown_zone_names_it_and_suggests_one(zone: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Cron("0 3 * * *", zone)
    assert repr(zone) in str(raised.value)
    assert "Europe/Berlin" in str(raised.value)


def test_cron_bad_expression_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="minute"):
        Cron("99 3 * * *")


def test_cron_describe_and_labels() -> None:
    cron = Cron("0 3 * * *", "Europe/Berlin")
    slot = at("2026-03-29 01:00")  # 03:00 CEST
    assert cron.describe() == "cron 0 3 * * * Europe/Berlin"
    assert cron.label(slot) == "03:00 Europe/Berlin"
    assert cron.label(slot, with_date=True) == "2026-03-29 03:00 Europe/Berlin"


# -- specs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timing", "spec", "tz"),
    [
        (Cron("0 3 * * *", "Europe/Berlin"), "cron:0 3 * * *", "Europe/Berlin"),
        (Cron("@daily"), "cron:@daily", "UTC"),
        (Every(900), "every:900", "UTC"),
        (Every(2.5), "every:2.5", "UTC"),
    ],
)
def test_parse_timing_reverses_spec(timing: Timing, spec: str, tz: str) -> None:
    assert timing.spec == spec
    assert parse_timing(spec, tz) == timing


@pytest.mark.parametrize("spec", ["daily", "every:soon", "every:0", "cron:61 * * * *", "cron:"])
def test_parse_timing_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_timing(spec, "UTC")


# -- properties --------------------------------------------------------------------------------

timings = st.one_of(
    st.sampled_from(
        [
            Cron("*/15 * * * *"),
            Cron("0 3 * * *"),
            Cron("15,45 */5 * * MON-FRI"),
            Cron("0 0 1 * *"),
        ]
    ),
    st.integers(min_value=1, max_value=7200).map(Every),
)
instants = st.integers(min_value=int(at("2020-01-01")), max_value=int(at("2030-01-01")))
spans = st.integers(min_value=0, max_value=3 * 86400)


@settings(deadline=None)
@given(timings, instants, spans, spans)
def test_a_range_equals_the_concatenation_of_its_parts(
    timing: Timing, start: int, first: int, second: int
) -> None:
    middle, end = start + first, start + first + second
    whole = timing.slots_between(start, end, 10**6)
    assert whole == timing.slots_between(start, middle, 10**6) + timing.slots_between(
        middle, end, 10**6
    )
    assert timing.count_between(start, end) == len(whole)
    assert all(start < slot <= end for slot in whole)
    assert whole == sorted(set(whole))


@settings(deadline=None)
@given(timings, instants)
def test_next_and_previous_bracket_an_instant(timing: Timing, moment: int) -> None:
    following = timing.next_after(moment)
    preceding = timing.previous_at_or_before(moment)
    assert preceding is not None
    assert preceding <= moment < following
    assert timing.slots_between(preceding, following, 10) == [following]
    assert timing.next_after(preceding) == following
