"""Conformance: check-ins (work outside Conveyor that pings) and pruning their pings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conveyor.store import Store
from conveyor.store.protocol import Retention
from conveyor.store.watch_types import CheckinRow

KEEP_ALL = Retention(watch=3600.0)


def daily(name: str = "backup", **changes: Any) -> CheckinRow:
    """A check-in expected once a day, with ``changes`` applied."""
    return replace(CheckinRow(name=name, timing="every:86400", grace=600.0), **changes)


def test_there_are_no_check_ins_at_first(store: Store) -> None:
    assert store.list_checkins() == []
    assert store.checkin_pings("backup", 0.0) == []


def test_a_new_check_in_is_stored_with_its_definition(store: Store) -> None:
    before = store.now()
    store.put_checkin("backup", daily(tz="Europe/Berlin", timing="cron:0 3 * * *", paused=True))
    [row] = store.list_checkins()
    assert row.name == "backup"
    assert row.timing == "cron:0 3 * * *"
    assert row.tz == "Europe/Berlin"
    assert row.grace == 600.0
    assert row.paused is True
    assert row.last_ping_at is None
    # The store sets created_at when it first sees the check-in, whatever the row says.
    assert before - 1 <= row.created_at <= store.now() + 1


def test_a_new_check_in_is_created_at_the_callers_clock(store: Store) -> None:
    assert store.put_checkin("backup", daily(), now=1000.0) is True
    assert store.put_checkin("backup", daily(grace=5.0), now=2000.0) is True
    [row] = store.list_checkins()
    assert (row.created_at, row.grace) == (1000.0, 5.0)


def test_check_ins_are_listed_by_name(store: Store) -> None:
    for name in ("zeta", "alpha", "mid"):
        store.put_checkin(name, daily(name))
    assert [c.name for c in store.list_checkins()] == ["alpha", "mid", "zeta"]


def test_upsert_updates_the_definition_and_keeps_created_and_last_ping(store: Store) -> None:
    store.put_checkin("backup", daily())
    pinged = store.record_checkin("backup")
    [first] = store.list_checkins()
    assert store.put_checkin(
        "backup", daily(timing="every:3600", tz="UTC", grace=30.0, paused=True, created_at=1.0)
    )
    [row] = store.list_checkins()
    assert (row.timing, row.tz, row.grace, row.paused) == ("every:3600", "UTC", 30.0, True)
    assert row.created_at == first.created_at
    assert row.last_ping_at == pinged
    store.put_checkin("backup", daily(paused=False))
    [resumed] = store.list_checkins()
    assert resumed.paused is False and resumed.timing == "every:86400"


def test_a_ping_of_an_unknown_check_in_records_nothing(store: Store) -> None:
    assert store.record_checkin("nobody") is None
    assert store.checkin_pings("nobody", 0.0) == []
    assert store.list_checkins() == []


def test_a_ping_is_recorded_now_and_becomes_the_last_ping(store: Store) -> None:
    store.put_checkin("backup", daily())
    before = store.now()
    at = store.record_checkin("backup")
    assert at is not None
    assert before - 1 <= at <= store.now() + 1
    [row] = store.list_checkins()
    assert row.last_ping_at == at
    assert store.checkin_pings("backup", at - 60) == [at]


def test_pings_are_listed_after_since_in_time_order(store: Store) -> None:
    store.put_checkin("backup", daily())
    store.put_checkin("other", daily("other"))
    pings = [store.record_checkin("backup") for _ in range(3)]
    store.record_checkin("other")
    times = [p for p in pings if p is not None]
    assert len(times) == 3 and times == sorted(times)
    assert store.checkin_pings("backup", times[0] - 60) == times
    # "After since": a ping exactly at since is not returned.
    assert store.checkin_pings("backup", times[0]) == times[1:]
    assert store.checkin_pings("backup", times[-1]) == []
    [row] = [c for c in store.list_checkins() if c.name == "backup"]
    assert row.last_ping_at == times[-1]


def test_removing_a_check_in_removes_its_pings(store: Store) -> None:
    store.put_checkin("backup", daily())
    store.put_checkin("other", daily("other"))
    store.record_checkin("backup")
    kept = store.record_checkin("other")
    assert store.put_checkin("backup", None) is True
    assert [c.name for c in store.list_checkins()] == ["other"]
    assert store.checkin_pings("backup", 0.0) == []
    assert store.checkin_pings("other", 0.0) == [kept]
    assert store.put_checkin("backup", None) is False
    assert store.put_checkin("never", None) is False
    # Created again, it starts without the old pings.
    store.put_checkin("backup", daily())
    [again] = [c for c in store.list_checkins() if c.name == "backup"]
    assert again.last_ping_at is None
    assert store.checkin_pings("backup", 0.0) == []


# -- pruning -----------------------------------------------------------------------------------


def test_pruning_drops_old_pings_but_keeps_each_check_ins_newest(store: Store) -> None:
    store.put_checkin("backup", daily())
    store.put_checkin("quiet", daily("quiet"))
    old = [store.record_checkin("backup") for _ in range(3)]
    lone = store.record_checkin("quiet")
    # The caller's clock, advanced instead of sleeping: the fresh ping comes 0.3 s later.
    later = store.now() + 0.3
    fresh = store.record_checkin("backup", now=later)
    assert store.prune(KEEP_ALL, now=later) == 0
    assert store.checkin_pings("backup", 0.0) == [*old, fresh]

    assert store.prune(Retention(watch=0.2), now=later) == 3
    assert store.checkin_pings("backup", 0.0) == [fresh]
    # Its only ping is old, but it is the newest: kept, so the check-in's last ping is known.
    assert store.checkin_pings("quiet", 0.0) == [lone]

    assert store.prune(Retention(watch=0.0), now=later) == 0
    assert store.checkin_pings("backup", 0.0) == [fresh]


def test_pruning_pings_stops_at_the_limit(store: Store) -> None:
    store.put_checkin("backup", daily())
    pings = [store.record_checkin("backup") for _ in range(6)]
    later = store.now() + 0.05  # the caller's clock, advanced instead of sleeping
    assert store.prune(Retention(watch=0.0), limit=2, now=later) == 2
    assert len(store.checkin_pings("backup", 0.0)) == 4
    assert store.prune(Retention(watch=0.0), limit=10, now=later) == 3
    assert store.checkin_pings("backup", 0.0) == [pings[-1]]
