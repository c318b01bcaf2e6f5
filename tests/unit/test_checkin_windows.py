"""Check-in windows: which pings count for which slot, and which slot is due (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from conveyor.monitor.checkins import describe, satisfied, slot_to_check, window_of
from conveyor.schedules.timing import Cron, Every

DAILY = Cron("0 3 * * *", "UTC")
GRACE = 30 * 60.0
DAY = 86400.0
SLOT = datetime(2026, 6, 2, 3, 0, tzinfo=UTC).timestamp()
CREATED = SLOT - 10 * DAY


def test_a_window_runs_from_the_previous_deadline_to_its_own() -> None:
    window = window_of(DAILY, GRACE, SLOT)
    assert window.opens == SLOT - DAY + GRACE
    assert window.closes == SLOT + GRACE


def test_pings_early_or_within_the_grace_count_for_the_slot() -> None:
    window = window_of(DAILY, GRACE, SLOT)
    assert satisfied(window, [SLOT - 3600])  # an early run
    assert satisfied(window, [SLOT + GRACE])  # just in time
    assert not satisfied(window, [SLOT + GRACE + 1])  # counts for the next slot
    assert not satisfied(window, [SLOT - DAY + GRACE])  # the previous slot's last moment
    assert not satisfied(window, [])


def test_the_slot_checked_is_the_newest_whose_deadline_passed() -> None:
    assert slot_to_check(DAILY, GRACE, CREATED, SLOT + GRACE - 1) == window_of(
        DAILY, GRACE, SLOT - DAY
    )
    due = slot_to_check(DAILY, GRACE, CREATED, SLOT + GRACE)
    assert due is not None and due.slot == SLOT


def test_no_slot_before_the_check_in_existed_is_expected() -> None:
    assert slot_to_check(DAILY, GRACE, SLOT + 1, SLOT + GRACE + 10) is None
    due = slot_to_check(DAILY, GRACE, SLOT, SLOT + GRACE)
    assert due is not None and due.slot == SLOT


def test_interval_check_ins_use_elapsed_time() -> None:
    every = Every(900)
    window = window_of(every, 60.0, 1800.0)
    assert (window.opens, window.closes) == (960.0, 1860.0)


def test_the_summary_names_slot_and_deadline() -> None:
    window = window_of(DAILY, GRACE, SLOT)
    assert describe("backup", DAILY, "UTC", window, ok=False) == (
        "backup: no check-in for the 03:00 UTC slot by 03:30"
    )


@given(
    grace=st.floats(min_value=0, max_value=3 * 3600),
    ping=st.floats(min_value=SLOT - 5 * DAY, max_value=SLOT + 5 * DAY),
)
def test_every_ping_counts_for_exactly_one_slot(grace: float, ping: float) -> None:
    counted = [
        slot
        for slot in DAILY.slots_between(SLOT - 8 * DAY, SLOT + 8 * DAY, limit=100)
        if window_of(DAILY, grace, slot).contains(ping)
    ]
    assert len(counted) == 1
    # the first slot whose deadline is at or after the ping
    assert counted[0] - DAY + grace < ping <= counted[0] + grace
