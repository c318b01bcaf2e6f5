"""`conveyor scheduler`: cron that keeps firing while no worker runs."""

from __future__ import annotations

import os
import signal

import pytest

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

    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "scheduler stopped" in out
    assert "Traceback" not in err
