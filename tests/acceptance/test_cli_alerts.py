"""`conveyor alerts`, `conveyor checkin` and `conveyor monitor`, as an operator drives them."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from conveyor._outbox import DeliveryKind, NewDelivery
from conveyor.store import open_store
from conveyor.store.protocol import Store
from conveyor.testing import eventually

from .conftest import Project

pytestmark = pytest.mark.slow

WATCH_APP = '''
from conveyor import Conveyor

app = Conveyor()
app.checkin("deploy", every="1h", grace="10m")


@app.job(name="watch.noop")
def noop(ctx) -> None:
    pass
'''


@pytest.fixture
def store(project: Project) -> Iterator[Store]:
    """The project's store, opened by the test itself to set up incidents."""
    opened = open_store(project.url)
    yield opened
    opened.close()


def test_checkin_creates_pings_and_names_unknown_ones(project: Project) -> None:
    unknown = project.fails("checkin", "backup").err
    assert "no check-in named 'backup' (known: none yet)" in unknown
    assert "conveyor checkin backup --every 1d" in unknown

    out = project.ok("checkin", "backup", "--every", "1d", "--grace", "30m").out
    assert out.startswith("checked in backup at ")
    assert "next ping due by " in out and "UTC" in out
    assert project.ok("checkin", "backup").out.startswith("checked in backup at ")
    project.ok("checkin", "nightly-db", "--cron", "0 3 * * *", "--tz", "Europe/Berlin")

    listing = {c["name"]: c for c in project.ok("checkin", "--list", "--json").json()["checkins"]}
    backup = listing["backup"]
    assert (backup["timing"], backup["grace"], backup["state"]) == ("every:86400", 1800.0,
                                                                    "waiting")
    assert backup["last_ping_at"] is not None
    assert datetime.fromisoformat(backup["next_deadline"]) > datetime.fromisoformat(
        backup["last_ping_at"]
    )
    assert listing["nightly-db"]["tz"] == "Europe/Berlin"
    table = project.ok("checkin", "--list").out
    for text in ("backup", "every 1d", "nightly-db", "Europe/Berlin", "waiting"):
        assert text in table, table

    assert "known: backup, nightly-db" in project.fails("checkin", "restore").err
    assert "give its timing too" in project.fails("checkin", "backup", "--grace", "1h").err
    assert "--tz is the zone of --cron" in project.fails(
        "checkin", "backup", "--every", "1d", "--tz", "UTC").err
    assert "which check-in?" in project.fails("checkin").err
    assert "--list takes no" in project.fails("checkin", "backup", "--list").err


def test_checkin_declared_in_code_needs_no_timing(project: Project) -> None:
    (project.path / "watchapp.py").write_text(WATCH_APP)
    assert "no check-in named 'deploy'" in project.fails("checkin", "deploy").err
    out = project.ok("checkin", "deploy", "--app", "watchapp:app").out
    assert out.startswith("checked in deploy at ")
    doc = project.ok("checkin", "--list", "--json").json()["checkins"][0]
    assert (doc["name"], doc["timing"], doc["grace"]) == ("deploy", "every:3600", 600.0)


def test_alerts_lists_incidents_and_failed_deliveries(project: Project, store: Store) -> None:
    assert "no incidents firing" in project.ok("alerts").out
    opened_age = store.upsert_incident(
        "queue_age", "emails", firing=True,
        summary="emails: the oldest job has waited 12m (limit 10m)")
    opened_missed = store.upsert_incident(
        "missed_run", "nightly", firing=True,
        summary="nightly: the 03:00 UTC run failed: ValueError: boom")
    assert opened_age is not None and opened_missed is not None
    queue_age, missed = opened_age.row, opened_missed.row
    alert = DeliveryKind.ALERT
    store.add_deliveries([
        NewDelivery(alert, queue_age.id, "firing", "hook", "{}", queue_age.opened_at),
        NewDelivery(alert, missed.id, "firing", "log", "{}", missed.opened_at),
        NewDelivery(alert, missed.id, "firing", "mail", "{}", missed.opened_at),
    ])
    outcomes: dict[str, tuple[str | None, float | None]] = {
        "log": (None, None),  # delivered
        "hook": ("connection refused", 60.0),  # retrying
        "mail": ("550 mailbox unavailable", None),  # given up
    }
    for note in store.claim_deliveries("test", 10, 60.0, kinds=[alert]):
        error, retry_in = outcomes[note.destination]
        assert store.record_delivery(note.id, "test", 0, error=error, retry_in=retry_in)
    store.upsert_incident(missed.rule, missed.subject, firing=False)

    doc = project.ok("alerts", "--json").json()
    assert [(i["rule"], i["state"]) for i in doc["incidents"]] == [("queue_age", "firing")]
    undelivered = {n["sink"]: n for n in doc["undelivered"]}
    assert set(undelivered) == {"hook", "mail"}
    assert undelivered["hook"]["last_error"] == "connection refused"
    assert undelivered["mail"]["failed_at"] is not None

    everything = project.ok("alerts", "--all", "--json").json()["incidents"]
    assert [(i["rule"], i["state"], i["notifications_sent"]) for i in everything] == [
        ("queue_age", "firing", 0), ("missed_run", "resolved", 1)]

    out = project.ok("alerts", "--all").out
    for text in ("queue_age", "emails", "firing", "missed_run", "resolved", "1 incident firing",
                 "2 notifications not delivered", "connection refused", "gave up",
                 "550 mailbox", "next try in"):
        assert text in out, out
    assert "missed_run" not in project.ok("alerts").out


def test_monitor_once_opens_and_delivers_then_a_loop_stops_on_sigterm(project: Project) -> None:
    project.enqueue("shop.add", {"a": 1, "b": 2})
    needs_app = project.fails("monitor", "--once").err
    assert "needs your app" in needs_app

    first = project.ok("monitor", "--app", "shopapp:app", "--once")
    assert "opened" in first.out and "no_worker default" in first.out, first.describe()
    assert "delivered" in first.out
    assert "FIRING" in first.err  # the default sink is the log
    incidents = project.ok("alerts", "--json").json()["incidents"]
    no_worker = next(i for i in incidents if i["rule"] == "no_worker")
    assert no_worker["subject"] == "default" and no_worker["notifications_sent"] == 1

    again: dict[str, Any] = project.ok("monitor", "--app", "shopapp:app", "--once",
                                       "--json").json()
    assert again["acted"] is True and again["opened"] == []
    assert "at least 0.1s" in project.fails(
        "monitor", "--app", "shopapp:app", "--once", "--interval", "10ms").err

    # A lease of three intervals: long enough that a slow machine does not lose it meanwhile.
    loop = project.start("monitor", "--app", "shopapp:app", "--interval", "2")
    assert loop.stdout is not None
    assert "running every 2s" in loop.stdout.readline()
    assert "holding the lease" in loop.stdout.readline()
    # While the loop holds the lease, another monitor does nothing.
    waiting = project.ok("monitor", "--app", "shopapp:app", "--once").out
    assert "another monitor holds the lease" in waiting
    os.killpg(loop.pid, signal.SIGTERM)
    out, err = loop.communicate(timeout=60)
    assert loop.returncode == 0, err
    assert "lease released" in out
    # Released on exit: the next monitor acts at once.
    eventually(lambda: project.ok("monitor", "--app", "shopapp:app", "--once", "--json"
                                  ).json()["acted"], timeout=10)
