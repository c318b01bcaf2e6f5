"""`conveyor scheduler`: cron that keeps firing while no worker runs."""

from __future__ import annotations

import os
import signal

import pytest

from conveyor.schedules.scheduler import ALIVE_LEASE
from conveyor.store import open_store
from conveyor.testing import eventually

from .conftest import Project

pytestmark = pytest.mark.slow

CRON_APP = '''
from conveyor import Conveyor

app = Conveyor()


@app.every("1s", name="cron.tick", schedule_name="every-second", overlap="allow")
def tick(ctx) -> None:
    pass
'''

HOURLY_APP = '''
from conveyor import Conveyor

app = Conveyor()


@app.every("1h", name="cron.hourly", catch_up="none")
def hourly(ctx) -> None:
    pass
'''


def test_scheduler_fires_slots_with_no_worker_and_stops_on_sigterm(project: Project) -> None:
    (project.path / "cronapp.py").write_text(CRON_APP)
    assert "needs your app" in project.fails("scheduler").err

    proc = project.start("scheduler", "--app", "cronapp:app")
    assert proc.stdout is not None
    assert "scheduler running with the monitor" in proc.stdout.readline()

    def fired() -> list[dict[str, object]]:
        jobs = [job for job in project.all_jobs() if job["name"] == "cron.tick"]
        assert len(jobs) >= 2, jobs
        return jobs

    jobs = eventually(fired, timeout=30, interval=0.2)
    # Nothing runs them: no worker is up; the schedule alone enqueued one per slot.
    assert {job["state"] for job in jobs} <= {"queued", "scheduled"}, jobs
    ledger = project.ok("schedules", "show", "every-second", "--app", "cronapp:app").out
    assert "every-second" in ledger
    store = open_store(project.env["CONVEYOR_URL"])
    try:
        # It says it is alive (the monitor's no_scheduler watch reads this) ...
        assert store.lease_holder(ALIVE_LEASE) is not None

        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "scheduler stopped" in out
        assert "Traceback" not in err
        assert store.lease_holder(ALIVE_LEASE) is None  # ... and hands over as it stops
    finally:
        store.close()


def test_scale_hint_sizes_the_backlog_and_keeps_cron_alive(project: Project) -> None:
    assert project.ok("scale-hint", "--json").json()["processes"] == 0
    for order in range(3):
        project.enqueue("shop.add", {"a": order, "b": 1})
    # Ready jobs whose run time nothing measured yet: one process starts them.
    doc = project.ok("scale-hint", "--json").json()
    assert doc["processes"] == 1 and "no run time measured" in doc["reason"]
    [queue] = doc["queues"]
    assert queue["queue"] == "default" and queue["ready"] == 3
    project.burst()
    # Drained: the window saw three attempts and no job waits.
    doc = project.ok("scale-hint", "--json", "--window", "1h").json()
    assert doc["processes"] == 1  # three tiny attempts still round up to one slot busy
    [queue] = doc["queues"]
    assert queue["ready"] == 0 and queue["attempts_per_second"] > 0
    table = project.ok("scale-hint", "--window", "1h").out
    assert "1 process:" in table and "default" in table
    assert "must be more than zero" in project.fails("scale-hint", "--target-wait", "0s").err

    # Schedules with no standalone scheduler: never zero, and the reason says why.
    (project.path / "hourlyapp.py").write_text(HOURLY_APP)
    proc = project.start("scheduler", "--app", "hourlyapp:app", "--no-monitor")
    assert proc.stdout is not None
    assert "scheduler running on" in proc.stdout.readline()
    eventually(lambda: project.ok("scale-hint", "--json", "--window", "1s").json()[
        "processes"] == 0 or None, timeout=30, interval=0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.communicate(timeout=30) and proc.returncode == 0
    # The scheduler gave its lease up: the workers are what fires cron now.
    doc = project.ok("scale-hint", "--json", "--window", "1s").json()
    assert "no `conveyor scheduler` is running" in doc["reason"], doc
    assert doc["processes"] >= 1
