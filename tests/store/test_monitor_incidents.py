"""The monitor on real stores: schedule slots judged, incidents opened and resolved once,
notifications queued and delivered, reminders, and one monitor at a time (both backends)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from store_helpers import claim_one, complete, wait_until

from conveyor import Conveyor
from conveyor._outbox import DeliveryKind, DeliveryRow
from conveyor.monitor.service import Monitor
from conveyor.schedules.timing import Every
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo
from conveyor.store.watch_types import (
    IncidentRow,
    IncidentState,
    NoticeKind,
    ScheduleRow,
    ScheduleSource,
    SlotFire,
    SlotStatus,
    Verdict,
)

PERIOD = 60.0
GRACE = "10m"
LONG_AGO = 30
"""Periods back: a slot whose grace (10 periods) ran out long ago."""


def build_app(url: str, **schedule: Any) -> Conveyor:
    """An app with job ``report`` run every minute by schedule ``minutely`` (grace 10m), and
    no alert rules (so only schedule incidents open)."""
    app = Conveyor(url)

    @app.job(name="report")
    def report(ctx: Any) -> dict[str, int]:
        return {"rows": 1}

    schedule.setdefault("grace", GRACE)
    app.schedule("minutely", "report", every=PERIOD, **schedule)
    app.configure_monitor(rules=[])
    return app


@pytest.fixture
def app(store_url: str, store: Store) -> Iterator[Conveyor]:
    app = build_app(store_url)
    store.put_schedules([d.to_row() for d in app.schedules.values()])
    yield app
    app.close()


def past_slot(store: Store, periods_ago: int) -> float:
    """A slot of the schedule ``periods_ago`` before the latest one (0: still in its grace)."""
    latest = Every(PERIOD).previous_at_or_before(store.now())
    assert latest is not None
    return latest - periods_ago * PERIOD


def fire(app: Conveyor, store: Store, slot: float, schedule: str = "minutely") -> int:
    """Write the slot's ledger row and its job, as the scheduler does; the job's id."""
    [written] = store.fire_slots(
        schedule,
        [SlotFire(slot=slot, status=SlotStatus.ENQUEUED, job=app.jobs["report"].prepare())],
    )
    assert written.written and written.job_id is not None
    return written.job_id


def run(store: Store, kind: CompletionKind = CompletionKind.SUCCEEDED, result: Any = None) -> None:
    """Claim the one ready job and finish it as ``kind``."""
    job = claim_one(store, names=("report",))
    error = ErrorInfo("ValueError", "boom") if kind is not CompletionKind.SUCCEEDED else None
    assert complete(store, job, kind, result=result, error=error)


def incidents(store: Store) -> list[IncidentRow]:
    return store.list_incidents(include_resolved=True)


def notifications(store: Store, incident: IncidentRow) -> list[DeliveryRow]:
    """The incident's alert notices, newest first."""
    return store.list_deliveries(kind=DeliveryKind.ALERT, subject=incident.id)


def kinds(store: Store, incident: IncidentRow) -> list[NoticeKind]:
    return sorted(NoticeKind(n.event) for n in notifications(store, incident))


def test_a_dead_run_opens_one_incident_and_a_later_success_resolves_it(
    app: Conveyor, store: Store
) -> None:
    monitor = Monitor(app, store=store)
    fire(app, store, past_slot(store, LONG_AGO))
    run(store, CompletionKind.DEAD)

    report = monitor.tick()
    assert report.acted and report.judged == 1
    assert report.opened == [("missed_run", "minutely")]
    [incident] = incidents(store)
    assert incident.state is IncidentState.FIRING
    assert incident.summary.startswith("minutely: the ")
    assert "failed into the dead-letter queue (ValueError: boom)" in incident.summary
    assert json.loads(incident.details_json)["verdict"] == "failed"
    [firing] = notifications(store, incident)
    assert (NoticeKind(firing.event), firing.destination) == (NoticeKind.FIRING, "log")
    assert firing.delivered_at is not None and report.delivered == 1

    # Nothing new: nothing opens, nothing is sent again.
    again = monitor.tick()
    assert (again.judged, again.opened, again.resolved) == (0, [], [])
    assert len(notifications(store, incident)) == 1

    fire(app, store, past_slot(store, 0))
    run(store, result={"rows": 2})
    report = monitor.tick()
    assert report.resolved == [("missed_run", "minutely")]
    [incident] = incidents(store)
    assert incident.state is IncidentState.RESOLVED and incident.resolved_at is not None
    assert kinds(store, incident) == [NoticeKind.FIRING, NoticeKind.RESOLVED]
    verdicts = [e.verdict for e in store.schedule_ledger("minutely")]
    assert verdicts == [Verdict.OK, Verdict.FAILED]


def test_a_run_still_queued_after_its_grace_is_late(app: Conveyor, store: Store) -> None:
    fire(app, store, past_slot(store, LONG_AGO))

    report = Monitor(app, store=store).tick()
    assert report.opened == [("missed_run", "minutely")]
    [incident] = incidents(store)
    assert "did not succeed by" in incident.summary
    assert "(queued, not started)" in incident.summary
    [entry] = store.schedule_ledger("minutely")
    assert entry.verdict is Verdict.LATE


def test_a_run_within_its_grace_is_not_judged_yet(store_url: str, store: Store) -> None:
    app = build_app(store_url, grace="2h")
    store.put_schedules([d.to_row() for d in app.schedules.values()])
    try:
        fire(app, store, past_slot(store, 0))
        report = Monitor(app, store=store).tick()
        assert (report.judged, report.opened) == (0, [])
        [entry] = store.schedule_ledger("minutely")
        assert entry.verdict is None
    finally:
        app.close()


def test_a_broken_expectation_is_unexpected(store_url: str, store: Store) -> None:
    app = build_app(store_url, expect=lambda result: result["rows"] > 0)
    store.put_schedules([d.to_row() for d in app.schedules.values()])
    try:
        fire(app, store, past_slot(store, 0))
        run(store, result={"rows": 0})
        report = Monitor(app, store=store).tick()
        assert report.opened == [("missed_run", "minutely")]
        [incident] = incidents(store)
        assert "succeeded but broke its expectation" in incident.summary
        assert '{"rows": 0}' in incident.summary
        [entry] = store.schedule_ledger("minutely")
        assert entry.verdict is Verdict.UNEXPECTED
    finally:
        app.close()


def test_a_missed_slot_fires_and_a_skipped_one_changes_nothing(app: Conveyor, store: Store) -> None:
    store.fire_slots(
        "minutely", [SlotFire(slot=past_slot(store, LONG_AGO), status=SlotStatus.MISSED)]
    )
    monitor = Monitor(app, store=store)
    assert monitor.tick().opened == [("missed_run", "minutely")]
    assert "slot was missed" in incidents(store)[0].summary

    store.fire_slots(
        "minutely", [SlotFire(slot=past_slot(store, LONG_AGO - 1), status=SlotStatus.SKIPPED)]
    )
    report = monitor.tick()
    assert report.judged == 1 and report.resolved == []
    assert incidents(store)[0].state is IncidentState.FIRING


def test_only_the_lease_holder_acts(app: Conveyor, store: Store) -> None:
    first = Monitor(app, holder="monitor-a", store=store)
    second = Monitor(app, holder="monitor-b", store=store)
    fire(app, store, past_slot(store, LONG_AGO))

    assert first.tick().acted
    idle = second.tick()
    assert not idle.acted and idle.judged == 0 and idle.opened == []
    [incident] = incidents(store)
    assert len(notifications(store, incident)) == 1

    first.release()
    fire(app, store, past_slot(store, LONG_AGO - 1))
    taken = second.tick()
    assert taken.acted and taken.judged == 1
    assert not first.tick().acted


def test_reminders_repeat_at_the_configured_interval(app: Conveyor, store: Store) -> None:
    # The rounds run at a clock the test advances: on a loaded box two real ticks can be more
    # than a short reminder interval apart, which made "too soon" flaky.
    app.configure_monitor(rules=[], reminder=10.0)
    monitor = Monitor(app, store=store)
    fire(app, store, past_slot(store, LONG_AGO))
    start = store.now()
    assert monitor.tick(now=start).opened == [("missed_run", "minutely")]
    assert monitor.tick(now=start + 9.0).reminded == []  # too soon

    [incident] = incidents(store)
    assert incident.last_notified_at == pytest.approx(start, abs=1e-3)
    report = monitor.tick(now=start + 10.5)
    assert report.reminded == [("missed_run", "minutely")]
    assert kinds(store, incident) == [NoticeKind.FIRING, NoticeKind.REMINDER]
    [incident] = incidents(store)
    assert incident.notify_count == 2
    assert monitor.tick(now=start + 11.0).reminded == []


def test_no_reminders_when_switched_off(app: Conveyor, store: Store) -> None:
    app.configure_monitor(rules=[], reminder=None)
    monitor = Monitor(app, store=store)
    fire(app, store, past_slot(store, LONG_AGO))
    monitor.tick()
    [incident] = incidents(store)
    assert incident.last_notified_at is not None
    last = incident.last_notified_at
    wait_until(lambda: store.now() >= last + 0.1)
    assert monitor.tick().reminded == []


def test_an_incident_of_a_removed_schedule_resolves(app: Conveyor, store: Store) -> None:
    added = ScheduleRow(
        name="adhoc",
        job_name="report",
        timing="every:3600",
        grace=600.0,
        source=ScheduleSource.STORE,
    )
    assert store.put_schedules([added]) == [True]
    monitor = Monitor(app, store=store)
    fire(app, store, past_slot(store, LONG_AGO), schedule="adhoc")
    assert monitor.tick().opened == [("missed_run", "adhoc")]

    assert store.remove_schedule("adhoc")
    assert monitor.tick().resolved == [("missed_run", "adhoc")]


def test_a_slot_no_scheduler_fired_opens_an_incident(store_url: str, store: Store) -> None:
    """Every worker down: no ledger row is written, and the monitor still sees the slot pass."""
    app = Conveyor(store_url)
    try:

        @app.job(name="report")
        def report_job(ctx: Any) -> None:
            return None

        app.schedule("every_second", "report", every="1s", grace="1s")
        app.configure_monitor(rules=[])
        store.put_schedules([d.to_row() for d in app.schedules.values()])
        monitor = Monitor(app, store=store)
        assert monitor.tick().opened == []  # nothing was due yet
        # The grace (1 s) and the scheduler's on-time window (2 s) must pass after a slot:
        # the round runs at a clock advanced past them instead of sleeping.
        report = monitor.tick(now=store.now() + 4.5)
        assert report.opened == [("missed_run", "every_second")]
        [incident] = incidents(store)
        assert "was never fired" in incident.summary
        assert "it has never been fired" in incident.summary
        assert store.schedule_ledger("every_second") == []  # the monitor writes no slots
    finally:
        app.close()
