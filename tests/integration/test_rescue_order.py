"""Real worker processes: a job orphaned by kill -9 re-runs in its old place, not behind the
backlog enqueued while its worker held it (issue 11, item 3)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from conveyor.models import AttemptOutcome, JobState
from conveyor.testing import eventually

from .conftest import Workers

pytestmark = pytest.mark.slow

LEASE = 2.0
RESCUE_INTERVAL = 1.0
SLACK = 5.0
BACKLOG = 40
BACKLOG_SECONDS = 0.5
"""The backlog takes one worker 20 s, far past the bound, so an orphan sent to the back of
the queue would miss it."""


def started_before(workers: Workers, job_id: int, at: float) -> bool:
    """Whether the job's (latest) attempt started before ``at``."""
    started = workers.job(job_id).started_at
    return started is not None and started < at


def test_an_orphan_of_a_killed_worker_re_runs_within_lease_and_rescue_interval(
    workers: Workers,
) -> None:
    config = {
        "processes": 1,
        "concurrency": 1,
        "lease": LEASE,
        "rescue_interval": RESCUE_INTERVAL,
        "scheduler": False,
        "monitor": False,
    }
    orphan = workers.app.enqueue("slow_first", key="orphan", seconds=60)
    doomed = workers.start(**config)
    held = workers.wait_state(orphan.id, JobState.RUNNING)
    eventually(lambda: workers.effects() == ["orphan:start:1"])

    # Enqueued after the orphan was claimed: every one of them is due later than the orphan.
    backlog = workers.app.get("sleeper").enqueue_many(
        [{"seconds": BACKLOG_SECONDS} for _ in range(BACKLOG)]
    )
    workers.start(**config)
    eventually(lambda: any(workers.job(h.id).state != JobState.QUEUED for h in backlog))

    os.killpg(doomed.pid, signal.SIGKILL)  # supervisor and child: only the lease frees the job
    killed_at = time.time()
    doomed.wait(timeout=10)

    done = workers.wait_state(orphan.id, JobState.SUCCEEDED, timeout=60)
    assert done.result == 2
    assert done.worker_id != held.worker_id
    lost, rerun = workers.app.store.list_attempts(orphan.id)
    assert (lost.outcome, rerun.outcome) == (AttemptOutcome.LOST, AttemptOutcome.SUCCEEDED)
    assert rerun.started_at is not None
    waited = rerun.started_at - killed_at
    assert waited <= LEASE + RESCUE_INTERVAL + SLACK, (
        f"the orphan re-ran {waited:.1f}s after the kill; "
        f"{sum(started_before(workers, h.id, rerun.started_at) for h in backlog)} of the "
        f"{BACKLOG} backlog jobs had started before it"
    )
    assert workers.effects() == ["orphan:start:1", "orphan:start:2"]
