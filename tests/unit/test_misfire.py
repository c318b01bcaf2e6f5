"""Misfire decisions: on-time slots run, late ones follow the catch-up policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import ConfigurationError
from conveyor.schedules.misfire import (
    check_catch_up,
    check_overlap,
    decide_fires,
    on_time_window,
)
from conveyor.schedules.timing import Cron, Every

NOW = 10_000.0


def run(slots: list[float], catch_up: str, cap: int = 10, on_time: float = 60.0) -> list[float]:
    late_total = sum(1 for s in slots if NOW - s > on_time)
    decisions = decide_fires(
        slots, now=NOW, on_time=on_time, late_total=late_total, catch_up=catch_up, cap=cap
    )
    return [s for s, d in zip(slots, decisions, strict=True) if d]


def test_on_time_slots_always_run() -> None:
    for policy in ("latest", "all", "none"):
        assert run([NOW - 30, NOW], policy) == [NOW - 30, NOW]


def test_on_time_is_inclusive() -> None:
    assert run([NOW - 60], "none") == [NOW - 60]


def test_latest_runs_the_newest_missed_slot_once() -> None:
    assert run([NOW - 300, NOW - 200, NOW - 100], "latest") == [NOW - 100]
    assert run([NOW - 300, NOW - 200, NOW - 100, NOW - 5], "latest") == [NOW - 100, NOW - 5]


def test_all_runs_the_newest_missed_slots_up_to_the_cap() -> None:
    slots = [NOW - 500, NOW - 400, NOW - 300, NOW - 200, NOW - 100]
    assert run(slots, "all", cap=2) == [NOW - 200, NOW - 100]
    assert run(slots, "all", cap=10) == slots


def test_none_runs_no_missed_slot() -> None:
    assert run([NOW - 300, NOW - 200, NOW], "none") == [NOW]


def test_a_backlog_longer_than_one_round_counts_every_late_slot() -> None:
    # The round sees the oldest 3 of 10 late slots: none of them is among the newest 2.
    decisions = decide_fires(
        [NOW - 1000, NOW - 900, NOW - 800], now=NOW, on_time=60.0, late_total=10,
        catch_up="all", cap=2,
    )
    assert decisions == [False, False, False]


def test_the_on_time_window_is_one_period_between_2_seconds_and_a_minute() -> None:
    assert on_time_window(Every(1), NOW) == 2.0
    assert on_time_window(Every(30), NOW) == 30.0
    assert on_time_window(Every(3600), NOW) == 60.0
    assert on_time_window(Cron("0 3 * * *", "Europe/Berlin"), NOW) == 60.0


@pytest.mark.parametrize("value", ["latest", "all", "none"])
def test_check_catch_up_accepts_the_three_choices(value: str) -> None:
    assert check_catch_up(value) == value


@pytest.mark.parametrize("value", ["Latest", "", None, 1])
def test_check_catch_up_lists_the_choices(value: object) -> None:
    with pytest.raises(ConfigurationError, match="'latest', 'all', 'none'"):
        check_catch_up(value)


@pytest.mark.parametrize("value", ["skip", "queue", "allow"])
def test_check_overlap_accepts_the_three_choices(value: str) -> None:
    assert check_overlap(value) == value


@pytest.mark.parametrize("value", ["wait", None])
def test_check_overlap_lists_the_choices(value: object) -> None:
    with pytest.raises(ConfigurationError, match="'skip', 'queue', 'allow'"):
        check_overlap(value)


due_slots = st.lists(
    st.integers(min_value=0, max_value=10_000).map(float), unique=True, max_size=40
).map(sorted)


@given(
    due_slots,
    st.sampled_from(["latest", "all", "none"]),
    st.integers(min_value=1, max_value=50),
    st.floats(min_value=0, max_value=5_000),
)
def test_on_time_slots_run_and_late_ones_obey_the_policy(
    due: list[float], catch_up: str, cap: int, on_time: float
) -> None:
    ran = run(due, catch_up, cap=cap, on_time=on_time)
    late = [s for s in due if NOW - s > on_time]
    assert all(s in ran for s in due if NOW - s <= on_time)
    late_ran = [s for s in ran if NOW - s > on_time]
    expected = {"latest": late[-1:], "all": late[-cap:], "none": []}[catch_up]
    assert late_ran == expected
