"""Unit: cron timings across daylight-saving transitions (the documented DST promise).

Instants are passed in directly (the clock is the test's). A minute-by-minute model of the rules
serves as the oracle: it is slow but obviously right, the real code is fast.

- Fixed-hour expressions fire once per matching wall-clock time: at the first occurrence of a
  repeated time, and at the end of a gap for times the gap skipped (collapsed to one slot).
- Wildcard-hour expressions fire whenever the wall clock matches in real elapsed time.
"""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.schedules.cron import CronExpr
from conveyor.schedules.timing import Cron

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe")
MINUTE = 60
DAY = 86400


def at(text: str) -> int:
    """Epoch seconds of a UTC ISO time."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def wall(zone: str, instant: float) -> datetime:
    """The naive wall-clock time in ``zone`` at ``instant``."""
    return datetime.fromtimestamp(instant, ZoneInfo(zone)).replace(tzinfo=None, fold=0)


def offset(zone: str, instant: int) -> timedelta | None:
    return datetime.fromtimestamp(instant, ZoneInfo(zone)).utcoffset()


@functools.cache
def transitions(zone: str) -> tuple[int, ...]:
    """Every offset change in 2025 and 2026, found by scanning (not hard-coded)."""
    found: list[int] = []
    step = 15 * MINUTE
    for instant in range(at("2025-01-01 00:00"), at("2027-01-01 00:00"), step):
        if offset(zone, instant) != offset(zone, instant + step):
            found.extend(
                moment
                for moment in range(instant + MINUTE, instant + step + 1, MINUTE)
                if offset(zone, moment) != offset(zone, moment - MINUTE)
            )
    return tuple(found)


def model_slots(expr: CronExpr, zone: str, after: int, until: int) -> list[int]:
    """The slots in ``(after, until]`` by the documented rules, minute by minute."""
    slots = []
    seen: set[datetime] = set()
    previous: datetime | None = None
    # Start a day early so "first occurrence" is judged with the repeated hour in view.
    for instant in range(after - after % MINUTE - DAY, until + 1, MINUTE):
        now = wall(zone, instant)
        if expr.fixed_hours:
            skipped = []
            if previous is not None:
                moment = previous + timedelta(minutes=1)
                while moment < now:
                    skipped.append(moment)
                    moment += timedelta(minutes=1)
            first_time = expr.matches(now) and now not in seen
            if first_time or any(expr.matches(moment) for moment in skipped):
                slots.append(instant)
            seen.add(now)
            previous = now
        elif expr.matches(now):
            slots.append(instant)
    return [slot for slot in slots if after < slot <= until]


fixed_expressions = st.one_of(
    st.sampled_from(["30 2 * * *", "0 2 * * *", "*/15 2 * * *", "0,30 1-3 * * *", "* 2 * * *"]),
    st.builds(
        lambda minutes, hours: (
            CronExpr.parse(
                f"{','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} * * *"
            ).text
        ),
        st.sets(st.sampled_from([0, 1, 15, 29, 30, 31, 45, 59]), min_size=1),
        st.sets(st.integers(min_value=0, max_value=4), min_size=1),
    ),
)
wildcard_expressions = st.sampled_from(
    ["*/15 * * * *", "0 * * * *", "30 * * * *", "*/7 * * * *", "0,45 * * * SUN", "@hourly"]
)


@st.composite
def windows(draw: st.DrawFn) -> tuple[str, int, int]:
    """A zone and a (after, until] window of up to two days near one of its transitions."""
    zone = draw(st.sampled_from(ZONES))
    change = draw(st.sampled_from(transitions(zone)))
    after = change + draw(st.integers(min_value=-DAY - DAY // 2, max_value=DAY // 2))
    return zone, after, after + draw(st.integers(min_value=0, max_value=2 * DAY))


def test_the_scan_finds_four_transitions_per_zone() -> None:
    assert [len(transitions(zone)) for zone in ZONES] == [4, 4, 4]


@settings(deadline=None, max_examples=150)
@given(st.one_of(fixed_expressions, wildcard_expressions), windows())
def test_slots_follow_the_documented_rules(text: str, window: tuple[str, int, int]) -> None:
    zone, after, until = window
    cron = Cron(text, zone)
    expected = model_slots(cron.expr, zone, after, until)
    assert cron.slots_between(after, until, 10**6) == [float(slot) for slot in expected]
    assert cron.count_between(after, until) == len(expected)


@settings(deadline=None)
@given(fixed_expressions, windows())
def test_fixed_time_slots_are_matching_times_or_ends_of_gaps(
    text: str, window: tuple[str, int, int]
) -> None:
    zone, after, until = window
    cron = Cron(text, zone)
    slots = cron.slots_between(after, until, 10**6)
    assert len(slots) == len(set(slots))
    assert len({wall(zone, slot) for slot in slots}) == len(slots)
    for slot in slots:
        here = wall(zone, slot)
        if cron.expr.matches(here):
            continue
        # Otherwise the slot is the instant a gap ended, and the gap held a matching time.
        before = wall(zone, slot - 1) + timedelta(seconds=1)
        assert before < here
        skipped = int((here - before).total_seconds()) // MINUTE
        assert any(cron.expr.matches(before + timedelta(minutes=step)) for step in range(skipped))


@settings(deadline=None)
@given(fixed_expressions, windows())
def test_each_existing_matching_time_fires_exactly_once(
    text: str, window: tuple[str, int, int]
) -> None:
    zone, after, until = window
    cron = Cron(text, zone)
    slots = cron.slots_between(after - DAY, until + DAY, 10**6)
    fired_walls = [wall(zone, slot) for slot in slots]
    for instant in range(after - after % MINUTE + MINUTE, until + 1, MINUTE):
        here = wall(zone, instant)
        if cron.expr.matches(here):
            assert fired_walls.count(here) == 1, here
            # ... at its first occurrence
            assert wall(zone, slots[fired_walls.index(here)]) == here
            assert slots[fired_walls.index(here)] <= instant


@settings(deadline=None)
@given(windows())
def test_every_quarter_hour_is_900_seconds_of_real_time(window: tuple[str, int, int]) -> None:
    zone, after, until = window
    slots = Cron("*/15 * * * *", zone).slots_between(after, until + DAY, 10**6)
    assert all(b - a == 900 for a, b in itertools.pairwise(slots))


@settings(deadline=None)
@given(st.one_of(fixed_expressions, wildcard_expressions), windows(), st.floats(0, 1))
def test_a_range_equals_the_concatenation_of_any_split(
    text: str, window: tuple[str, int, int], fraction: float
) -> None:
    zone, after, until = window
    cron = Cron(text, zone)
    middle = after + int((until - after) * fraction)
    assert cron.slots_between(after, until, 10**6) == cron.slots_between(
        after, middle, 10**6
    ) + cron.slots_between(middle, until, 10**6)


@settings(deadline=None)
@given(st.one_of(fixed_expressions, wildcard_expressions), windows())
def test_next_and_previous_walk_the_same_slots(text: str, window: tuple[str, int, int]) -> None:
    zone, after, until = window
    cron = Cron(text, zone)
    slots = cron.slots_between(after, until, 10**6)
    moment: float = after
    for slot in slots:
        assert cron.next_after(moment) == slot
        assert cron.previous_at_or_before(slot) == slot
        assert cron.previous_at_or_before(slot - 0.5) == cron.previous_at_or_before(moment)
        moment = slot
    assert cron.next_after(moment) > until
    newest = cron.previous_at_or_before(until)
    assert newest == (slots[-1] if slots else cron.previous_at_or_before(after))


# -- the examples the documentation gives --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "day", "expected"),
    [
        # Berlin springs forward 02:00 -> 03:00: 02:30 does not exist, it runs at 03:00 CEST.
        ("30 2 * * *", "Europe/Berlin", "2026-03-29", ["2026-03-29 01:00"]),
        # Berlin falls back 03:00 -> 02:00: 02:30 happens twice, it runs at the first (CEST).
        ("30 2 * * *", "Europe/Berlin", "2026-10-25", ["2026-10-25 00:30"]),
        ("*/15 2 * * *", "Europe/Berlin", "2026-03-29", ["2026-03-29 01:00"]),
        ("0,30 2,3 * * *", "Europe/Berlin", "2026-03-29", ["2026-03-29 01:00", "2026-03-29 01:30"]),
        # Lord Howe springs forward 30 minutes, 02:00 -> 02:30 (15:30 UTC the day before).
        ("0 2 * * *", "Australia/Lord_Howe", "2026-10-04", ["2026-10-03 15:30"]),
        # ... and falls back 02:00 -> 01:30: 01:45 happens twice, it runs at the first (+11).
        ("45 1 * * *", "Australia/Lord_Howe", "2026-04-05", ["2026-04-04 14:45"]),
        # New York springs forward 02:00 -> 03:00 and falls back 02:00 -> 01:00.
        ("30 2 * * *", "America/New_York", "2026-03-08", ["2026-03-08 07:00"]),
        ("30 1 * * *", "America/New_York", "2026-11-01", ["2026-11-01 05:30"]),
        ("30 2 * * *", "America/New_York", "2025-03-09", ["2025-03-09 07:00"]),
    ],
)
def test_fixed_time_examples(text: str, zone: str, day: str, expected: list[str]) -> None:
    start = int(datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)).timestamp())
    slots = Cron(text, zone).slots_between(start, start + DAY, 100)
    assert slots == [float(at(moment)) for moment in expected]


def test_wildcard_hours_fire_in_both_occurrences_of_a_repeated_hour() -> None:
    cron = Cron("30 * * * *", "Europe/Berlin")
    slots = cron.slots_between(at("2026-10-24 23:00"), at("2026-10-25 02:00"), 100)
    assert slots == [at("2026-10-24 23:30"), at("2026-10-25 00:30"), at("2026-10-25 01:30")]
    assert [cron.label(slot) for slot in slots] == [
        f"{h} Europe/Berlin" for h in ("01:30", "02:30", "02:30")
    ]


def test_wildcard_hours_skip_times_a_gap_removes() -> None:
    cron = Cron("30 * * * *", "Europe/Berlin")
    slots = cron.slots_between(at("2026-03-28 23:00"), at("2026-03-29 02:00"), 100)
    assert [cron.label(slot) for slot in slots] == [
        f"{h} Europe/Berlin" for h in ("00:30", "01:30", "03:30")
    ]


def test_lord_howe_quarter_hours_across_its_half_hour_gap() -> None:
    cron = Cron("*/15 * * * *", "Australia/Lord_Howe")
    slots = cron.slots_between(at("2026-10-03 15:00"), at("2026-10-03 16:00"), 100)
    assert [cron.label(slot) for slot in slots] == [
        f"{h} Australia/Lord_Howe" for h in ("01:45", "02:30", "02:45", "03:00")
    ]
