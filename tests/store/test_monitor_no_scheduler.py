"""The ``no_scheduler`` incident on both stores, with the caller's clock: schedules are
active and no scheduler holds the ``scheduler:alive`` lease, so the monitor says so before
the next slot is missed; it resolves when a scheduler runs again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.monitor.scheduler_watch import NOT_SEEN_FOR
from conveyor.monitor.service import Monitor
from conveyor.schedules.scheduler import ALIVE_EVERY, ALIVE_FOR, ALIVE_LEASE, Scheduler
from conveyor.store import Store

HOUR = 3600.0


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    app = Conveyor(store_url)

    @app.cron("0 * * * *", tz="UTC", name="hourly")
    def hourly(ctx: Any) -> None: ...

    app.configure_monitor(rules=[], reminder=None)
    yield app
    app.close()


def no_scheduler(store: Store) -> list[str]:
    return [i.summary for i in store.firing_incidents() if i.rule == "no_scheduler"]


def test_no_scheduler_fires_before_the_next_slot_and_resolves(app: Conveyor, store: Store) -> None:
    # Half past an hour by the store's clock: the next slot is 30 minutes away.
    t = (store.now() // HOUR) * HOUR + HOUR + 1800
    clock = [t]
    scheduler = Scheduler(app, store=store, now=lambda: clock[0])
    scheduler.sync()
    monitor = Monitor(app, store=store)
    monitor.tick(now=t)
    assert no_scheduler(store) == []  # just noticed: a starting worker may not have run yet
    monitor.tick(now=t + NOT_SEEN_FOR - 1)
    assert no_scheduler(store) == []
    monitor.tick(now=t + NOT_SEEN_FOR)
    [summary] = no_scheduler(store)
    assert "no scheduler is running" in summary
    assert "next slot of hourly is due at" in summary and "conveyor scheduler" in summary
    [incident] = store.firing_incidents()
    details = json.loads(incident.details_json)
    assert details["next_schedule"] == "hourly" and details["next_slot"] == t + 1800
    # A scheduler's round takes the lease: the next tick resolves the incident.
    clock[0] = t + NOT_SEEN_FOR + 1
    scheduler.run_round()
    assert store.lease_holder(ALIVE_LEASE, now=clock[0]) == scheduler.holder
    monitor.tick(now=clock[0])
    assert no_scheduler(store) == []


def test_a_running_scheduler_keeps_the_alarm_off(app: Conveyor, store: Store) -> None:
    t = (store.now() // HOUR) * HOUR + HOUR + 60
    clock = [t]
    scheduler = Scheduler(app, store=store, now=lambda: clock[0])
    monitor = Monitor(app, store=store)
    for step in range(0, 300, 5):  # five minutes of rounds every 5s, the monitor every 5s
        clock[0] = t + step
        scheduler.run_round()
        monitor.tick(now=clock[0])
        assert no_scheduler(store) == []
    # It stops without a word (killed): the lease runs out, then the alarm comes.
    last = clock[0]
    monitor.tick(now=last + ALIVE_FOR - 1)
    assert no_scheduler(store) == []
    monitor.tick(now=last + ALIVE_FOR + 1)
    monitor.tick(now=last + ALIVE_FOR + 1 + NOT_SEEN_FOR)
    assert len(no_scheduler(store)) == 1


def test_a_spare_scheduler_takes_over_before_the_alarm(app: Conveyor, store: Store) -> None:
    t = (store.now() // HOUR) * HOUR + HOUR + 60
    clock = [t]
    first = Scheduler(app, store=store, now=lambda: clock[0])
    spare = Scheduler(app, store=store, now=lambda: clock[0])
    monitor = Monitor(app, store=store)
    first.run_round()
    spare.run_round()
    assert store.lease_holder(ALIVE_LEASE, now=t) == first.holder
    # The first dies; the spare keeps trying every ALIVE_EVERY and takes the lease over.
    for step in range(1, 120):
        clock[0] = t + step
        spare.run_round()
        monitor.tick(now=clock[0])
        assert no_scheduler(store) == []
    assert store.lease_holder(ALIVE_LEASE, now=clock[0]) == spare.holder
    assert ALIVE_EVERY < NOT_SEEN_FOR


def test_a_stopping_scheduler_hands_the_lease_over(app: Conveyor, store: Store) -> None:
    scheduler = Scheduler(app, store=store)
    scheduler.run_round()
    assert store.lease_holder(ALIVE_LEASE) == scheduler.holder
    scheduler.release()
    assert store.lease_holder(ALIVE_LEASE) is None


def test_no_alarm_without_active_schedules(store_url: str, store: Store) -> None:
    app = Conveyor(store_url)
    try:
        @app.cron("0 * * * *", tz="UTC", name="hourly")
        def hourly(ctx: Any) -> None: ...

        app.configure_monitor(rules=[], reminder=None)
        Scheduler(app, store=store).sync()
        assert store.set_schedule_paused("hourly", True, by="test")
        monitor = Monitor(app, store=store)
        t = store.now()
        monitor.tick(now=t)
        monitor.tick(now=t + 10 * NOT_SEEN_FOR)
        assert no_scheduler(store) == []
    finally:
        app.close()
