"""A handler that returned is never recorded as lost while its process lives on.

Real worker processes (see conftest.py). The first test is issue 11's "six pairs": a success
followed at once by a job that kills its process; the second keeps completions from being
written for longer than the lease (a foreign SQLite write lock) and checks the finished job is
neither re-run nor charged.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from conveyor.models import AttemptOutcome, JobState
from conveyor.testing import eventually

from .conftest import Workers, load_itapp


def test_a_success_followed_by_a_crash_stays_succeeded(
    workers: Workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IT_MARKERS", str(tmp_path))
    app = load_itapp(tmp_path.name, "roundapp")
    try:
        pairs = []
        for n in range(6):
            ok = app.enqueue("quick", n=n)
            boom = app.enqueue("crash", n=n)
            pairs.append((ok.id, boom.id))
        workers.start("roundapp:app", processes=1, concurrency=1, lease=30)
        for _, boom_id in pairs:
            assert workers.wait_state(boom_id, "dead", timeout=60).attempt == 1
        for ok_id, _ in pairs:
            job = workers.wait_state(ok_id, "succeeded", "dead", timeout=20)
            assert (job.state, job.attempt, job.error_type) == (JobState.SUCCEEDED, 1, None)
            assert [a.outcome for a in app.store.list_attempts(ok_id)] == [
                AttemptOutcome.SUCCEEDED
            ]
    finally:
        app.close()


def test_a_finished_job_survives_a_write_outage_longer_than_its_lease(
    workers: Workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if workers.backend != "sqlite":
        pytest.skip("the outage is a foreign SQLite write lock")
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("IT_MARKERS", str(markers))
    workers.env["IT_MARKERS"] = str(markers)
    # Writes give up after 0.3 s, so completions, heartbeats and rescues all fail while the
    # lock is held, and are retried.
    workers.env["CONVEYOR_SQLITE_BUSY_TIMEOUT"] = "0.3"
    app = load_itapp(tmp_path.name, "roundapp")
    try:
        job = app.enqueue("return_when_told", name="held")
        workers.start("roundapp:app", processes=1, lease=1.5, rescue_interval=0.2)
        eventually((markers / "held.started").exists, timeout=20)
        foreign = sqlite3.connect(
            workers.app.url.removeprefix("sqlite:///"), isolation_level=None, timeout=30
        )
        try:
            foreign.execute("BEGIN IMMEDIATE")
            (markers / "held.go").touch()  # the handler returns while nothing can be written
            time.sleep(8.0)  # several leases (1.5 s) and many busy timeouts
        finally:
            foreign.execute("ROLLBACK")
            foreign.close()
        done = workers.wait_state(job.id, "succeeded", "dead", "retrying", "queued", timeout=20)
        time.sleep(1.0)  # a rescue racing the completion would show by now
        done = workers.job(job.id)
        assert (done.state, done.attempt) == (JobState.SUCCEEDED, 1)
        assert [a.outcome for a in app.store.list_attempts(job.id)] == [AttemptOutcome.SUCCEEDED]
    finally:
        app.close()
