"""Scheduler rounds against real stores, with a controllable clock (both backends)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from store_helpers import complete

from conveyor import ConfigurationError, Conveyor
from conveyor.models import JobState
from conveyor.schedules.scheduler import (
    ALIVE_EVERY,
    ALIVE_LEASE,
    STANDBY_EVERY,
    Scheduler,
    decide_fires,
    standby_pause,
)
from conveyor.store import Store
from conveyor.store.protocol import ClaimParams
from conveyor.store.watch_types import SlotStatus


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(store_url: str, store: Store) -> Iterator[Conveyor]:
    """An app on the test's database with one job to schedule."""
    conveyor = Conveyor(store_url)

    @conveyor.job(name="report")
    def report(ctx: Any, kind: str = "daily") -> str:
        return kind

    yield conveyor
    conveyor.close()


def minute_after(store: Store, minutes: int = 1) -> float:
    """The start of the minute ``minutes`` after the store's now."""
    now = store.now()
    return (now // 60 + minutes) * 60


def scheduler(app: Conveyor, store: Store, clock: Clock) -> Scheduler:
    return Scheduler(app, store=store, now=clock)


def jobs_of(store: Store, name: str) -> list[dict[str, Any]]:
    """The schedule's jobs as (slot, state), from the ledger."""
    return [
        {"slot": e.slot, "status": e.status, "job_id": e.job_id, "state": e.job_state}
        for e in sorted(store.schedule_ledger(name, limit=10_000), key=lambda e: e.slot)
    ]


def test_a_slot_fires_once_at_its_time(app: Conveyor, store: Store) -> None:
    app.schedule("every_minute", "report", every="1m", args={"kind": "minutely"})
    start = minute_after(store)
    clock = Clock(start - 1)
    sched = scheduler(app, store, clock)
    assert sched.run_round().enqueued == {}
    clock.now = start + 0.2
    report = sched.run_round()
    assert report.enqueued == {"every_minute": [start]}
    assert sched.run_round().enqueued == {}  # the same slot again: nothing
    [entry] = jobs_of(store, "every_minute")
    job = store.get_job(entry["job_id"])
    assert job is not None and job.args == {"kind": "minutely"}
    assert job.meta == {"schedule": "every_minute", "slot": start}
    assert sched.sleep_hint(report) <= 1.0


def test_racing_schedulers_write_each_slot_once(
    app: Conveyor, store: Store, open_store_on: Callable[..., Store]
) -> None:
    app.schedule("every_minute", "report", every="1m")
    start = minute_after(store)
    Scheduler(app, store=store).sync()
    clock = Clock(start + 5 * 60 + 1)  # six slots due at once, all late but the newest
    results: list[Any] = []
    barrier = threading.Barrier(6)

    def race() -> None:
        own = scheduler(app, open_store_on(), clock)
        barrier.wait()
        results.append(own.run_round())

    threads = [threading.Thread(target=race) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = jobs_of(store, "every_minute")
    assert [e["slot"] for e in entries] == [start + 60 * i for i in range(6)]
    assert sum(len(r.enqueued.get("every_minute", [])) for r in results) == sum(
        1 for e in entries if e["status"] == SlotStatus.ENQUEUED
    )
    job_ids = [e["job_id"] for e in entries if e["job_id"] is not None]
    assert len(job_ids) == len(set(job_ids))


@pytest.mark.parametrize(
    ("policy", "late_run"),
    [("latest", [4]), ("all", [2, 3, 4]), ("none", [])],
)
def test_downtime_follows_the_catch_up_policy(
    app: Conveyor, store: Store, policy: str, late_run: list[int]
) -> None:
    app.schedule("hourly", "report", every="1h", catch_up=policy, catch_up_cap=3)
    clock = Clock(store.now())
    sched = scheduler(app, store, clock)
    sched.sync()
    first = (clock.now // 3600 + 1) * 3600
    clock.now = first + 5 * 3600 + 10  # slots 0..4 late, slot 5 on time
    report = sched.run_round()
    entries = jobs_of(store, "hourly")
    assert [e["slot"] for e in entries] == [first + 3600 * i for i in range(6)]
    ran = [i for i, e in enumerate(entries) if e["status"] == SlotStatus.ENQUEUED]
    assert ran == [*late_run, 5]
    assert report.missed.get("hourly", 0) == 5 - len(late_run)
    assert all(
        e["status"] == SlotStatus.MISSED and e["job_id"] is None
        for i, e in enumerate(entries) if i not in ran
    )


def test_overlap_policies(app: Conveyor, store: Store) -> None:
    app.schedule("skipper", "report", every="1m", overlap="skip")
    app.schedule("queuer", "report", every="1m", overlap="queue")
    app.schedule("allower", "report", every="1m", overlap="allow")
    start = minute_after(store)
    clock = Clock(start + 1)
    sched = scheduler(app, store, clock)
    sched.run_round()
    clock.now = start + 61  # the first runs are still queued
    sched.run_round()
    assert [e["status"] for e in jobs_of(store, "skipper")] == [
        SlotStatus.ENQUEUED, SlotStatus.SKIPPED
    ]
    assert [e["status"] for e in jobs_of(store, "allower")] == [SlotStatus.ENQUEUED] * 2
    queued = jobs_of(store, "queuer")
    assert [e["status"] for e in queued] == [SlotStatus.ENQUEUED] * 2
    # "queue" runs them one after the other: the second waits for the first to finish.
    claimed = store.claim_jobs(
        ClaimParams(
            worker_id="w", queues=("default",), names=("report",), limit=10,
            lease_seconds=30, limited_names=("report",),
        )
    )
    assert queued[1]["job_id"] not in {j.id for j in claimed}
    assert queued[0]["job_id"] in {j.id for j in claimed}
    for job in claimed:
        complete(store, job)
    clock.now = start + 121
    sched.run_round()
    assert jobs_of(store, "skipper")[-1]["status"] == SlotStatus.ENQUEUED


def test_pause_records_skipped_slots_and_trigger_runs_now(app: Conveyor, store: Store) -> None:
    app.schedule("every_minute", "report", every="1m")
    start = minute_after(store)
    clock = Clock(start - 1)
    sched = scheduler(app, store, clock)
    sched.run_round()
    assert store.set_schedule_paused("every_minute", True, "alice")
    clock.now = start + 61
    sched.run_round()
    entries = jobs_of(store, "every_minute")
    assert [e["status"] for e in entries] == [SlotStatus.PAUSED] * 2
    clock.now = start + 62
    written = sched.trigger("every_minute", by="bob")
    assert written.written and written.job_id is not None
    manual = [e for e in store.schedule_ledger("every_minute") if e.manual]
    assert len(manual) == 1 and manual[0].by == "bob" and manual[0].slot == start + 62
    row = store.get_schedule("every_minute")
    assert row is not None and row.last_slot == start + 60  # a trigger is outside the timing


def test_a_broken_schedule_does_not_stop_the_others(app: Conveyor, store: Store) -> None:
    app.schedule("good", "report", every="1m")
    app.schedule("bad", "report", every="1m")
    # The code changed under the stored schedule: its arguments no longer fit the job.
    app.schedules["bad"] = app.schedules["bad"].__class__(
        **{**app.schedules["bad"].__dict__, "args": {"nope": 1}}
    )
    start = minute_after(store)
    clock = Clock(start + 1)
    report = scheduler(app, store, clock).run_round()
    assert report.enqueued == {"good": [start]}
    assert "nope" in report.errors["bad"]


def test_run_time_schedules_fire_from_the_store(app: Conveyor, store: Store) -> None:
    from conveyor.schedules.definition import build_schedule, make_timing
    from conveyor.store.watch_types import ScheduleSource

    definition = build_schedule(
        "added", "report", make_timing("*/5 * * * *", None, "UTC"), args={"kind": "x"},
        source=ScheduleSource.STORE,
    )
    assert store.put_schedules([definition.to_row()])[0]
    start = (store.now() // 300 + 1) * 300
    clock = Clock(start + 1)
    report = scheduler(app, store, clock).run_round()
    assert report.enqueued == {"added": [start]}
    [entry] = jobs_of(store, "added")
    job = store.get_job(entry["job_id"])
    assert job is not None and job.args == {"kind": "x"} and job.state == JobState.QUEUED


def test_a_cron_slot_in_the_spring_gap_fires_once(app: Conveyor, store: Store) -> None:
    """02:30 does not exist in Berlin on 2027-03-28: it runs once, at 03:00 CEST."""
    app.schedule("nightly", "report", cron="30 2 * * *", tz="Europe/Berlin", overlap="allow")
    clock = Clock(datetime(2027, 3, 27, 0, 0, tzinfo=UTC).timestamp())
    sched = scheduler(app, store, clock)
    if store.now() > clock.now:
        pytest.skip("the machine's clock is past the 2027 transition")
    sched.sync()
    for _ in range(3 * 24 * 6):
        clock.now += 600
        sched.run_round()
    start = datetime(2027, 3, 27, 0, 0, tzinfo=UTC).timestamp()
    # Slots between the schedule's creation (today) and the clock's start were missed.
    entries = [e for e in jobs_of(store, "nightly") if e["slot"] >= start]
    slots = [e["slot"] for e in entries]
    assert [datetime.fromtimestamp(s, UTC).isoformat() for s in slots] == [
        "2027-03-27T01:30:00+00:00",  # 02:30 CET
        "2027-03-28T01:00:00+00:00",  # the gap: just after it, 03:00 CEST
        "2027-03-29T00:30:00+00:00",  # 02:30 CEST
    ]
    assert all(e["status"] == SlotStatus.ENQUEUED for e in entries)


def test_decide_fires_runs_on_time_slots_and_applies_the_policy_to_late_ones() -> None:
    slots = [0.0, 10.0, 20.0, 30.0]
    now = 31.0
    kwargs: dict[str, Any] = {"now": now, "on_time": 5.0, "late_total": 3, "cap": 2}
    assert decide_fires(slots, catch_up="latest", **kwargs) == [False, False, True, True]
    assert decide_fires(slots, catch_up="all", **kwargs) == [False, True, True, True]
    assert decide_fires(slots, catch_up="none", **kwargs) == [False, False, False, True]


def test_three_schedulers_over_an_hour_of_minute_slots_give_one_job_per_slot(
    app: Conveyor, store: Store, open_store_on: Callable[..., Store]
) -> None:
    """Each scheduler walks its own clock through the hour in random steps, all at once."""
    import random

    app.schedule("every_minute", "report", every="1m", overlap="allow")
    start = minute_after(store)
    Scheduler(app, store=store).sync()
    errors: list[BaseException] = []

    def walk(seed: int) -> None:
        rng = random.Random(seed)
        clock = Clock(start - 1)
        own = scheduler(app, open_store_on(), clock)
        try:
            while clock.now < start + 3600:
                clock.now = min(start + 3600, clock.now + rng.uniform(1, 20))
                own.run_round()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=walk, args=(seed,)) for seed in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries = jobs_of(store, "every_minute")
    assert [e["slot"] for e in entries] == [start + 60 * i for i in range(61)]
    assert {e["status"] for e in entries} == {SlotStatus.ENQUEUED}
    assert len({e["job_id"] for e in entries}) == 61


def test_the_app_triggers_a_schedule_without_a_scheduler(app: Conveyor, store: Store) -> None:
    app.schedule("every_minute", "report", every="1m", args={"kind": "weekly"})
    Scheduler(app, store=store).sync()  # what a worker does at start
    before = store.now()
    written = app.trigger_schedule("every_minute", by="carol", store=store)
    assert written.written and written.job_id is not None
    (manual,) = [e for e in store.schedule_ledger("every_minute") if e.manual]
    assert manual.by == "carol" and manual.job_id == written.job_id and manual.slot >= before
    job = store.get_job(written.job_id)
    assert job is not None and job.name == "report" and job.args == {"kind": "weekly"}
    known = r"no schedule named 'nope' \(known: every_minute\)"
    with pytest.raises(ConfigurationError, match=known):
        app.trigger_schedule("nope", store=store)


def test_a_round_reads_the_store_clock_only_when_a_schedule_needs_it(
    app: Conveyor, store: Store
) -> None:
    # The store's clock is a statement on PostgreSQL, and every supervisor runs a round a
    # second: an idle fleet's rounds were most of its statements (decision 129).
    reads: list[float] = []

    def now() -> float:
        reads.append(store.now())
        return reads[-1]

    sched = Scheduler(app, store=store)  # the store's clock, as a worker's scheduler has
    sched._now = now  # counted
    assert sched.run_round().enqueued == {}
    assert sched.run_round().enqueued == {}
    assert reads == []  # no schedule: no clock read ...
    assert store.lease_holder(ALIVE_LEASE) == sched.holder  # ... and it still says it runs
    app.schedule("every_minute", "report", every="1m")
    sched.sync()
    report = sched.run_round()
    assert len(reads) == 1 and report.next_due is not None
    assert 0.01 <= sched.sleep_hint(report) <= 1.0
    assert len(reads) == 1  # the pause is the round's reading moved on, not a new one


def test_one_scheduler_keeps_the_pace_and_the_others_stand_by(
    app: Conveyor, store: Store
) -> None:
    # A fleet runs a scheduler per supervisor: only the one holding the alive lease runs a
    # round a second; the others run one every STANDBY_EVERY seconds (decision 143), still
    # firing what is due, and one of them takes over once the holder is gone.
    app.schedule("every_minute", "report", every="1m")
    start = minute_after(store)
    clock = Clock(start - 5)
    first, second = scheduler(app, store, clock), scheduler(app, store, clock)
    report = first.run_round()
    assert first.active and first.sleep_hint(report) <= 1.0
    report = second.run_round()
    assert not second.active and second.sleep_hint(report) == STANDBY_EVERY
    assert store.lease_holder(ALIVE_LEASE) == first.holder
    # A standby's round fires a slot the holder has not written.
    clock.now = start + 0.5
    assert second.run_round().enqueued == {"every_minute": [start]}
    assert first.run_round().enqueued == {}  # written once
    # The holder stops: at its next attempt a standby holds the lease and keeps the pace.
    first.release()
    clock.now = start + ALIVE_EVERY + 1
    report = second.run_round()
    assert second.active and second.sleep_hint(report) <= 1.0
    assert store.lease_holder(ALIVE_LEASE) == second.holder
    report = first.run_round()
    assert not first.active and first.sleep_hint(report) == STANDBY_EVERY


def test_a_standby_comes_round_within_half_the_shortest_on_time_window(
    app: Conveyor, store: Store
) -> None:
    app.schedule("every_minute", "report", every="1m")
    app.schedule("every_four_seconds", "report", every="4s")
    clock = Clock(store.now())
    holder, standby = scheduler(app, store, clock), scheduler(app, store, clock)
    holder.run_round()
    report = standby.run_round()
    # A 4-second schedule's slot is on time for 4 seconds: a standby comes every 2, so a
    # slot the holder leaves unwritten (the holder died) is still fired on time.
    assert not standby.active and standby.sleep_hint(report) == 2.0
    assert standby_pause([], clock.now) == STANDBY_EVERY
