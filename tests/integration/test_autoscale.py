"""``--processes MIN..MAX`` grows with a burst and shrinks when idle, and
``--max-jobs-per-process`` replaces processes, all without losing or charging a job."""

from __future__ import annotations

import pytest

from conveyor.models import JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Workers

pytestmark = pytest.mark.slow

BURST = 10_000


def live_workers(workers: Workers) -> int:
    return len(workers.app.store.live_workers(stale_after=5.0))


def test_a_burst_grows_the_pool_and_idleness_shrinks_it(workers: Workers) -> None:
    workers.app.get("tenant_work").enqueue_many([{"ms": 8} for _ in range(BURST)])
    # A one-second target wait asks for many slots at 8 ms a job; a short cooldown lets the
    # pool come back down within the test.
    workers.start(processes=1, max_processes=4, concurrency=8, scale_wait=1.0,
                  scale_cooldown=2.0)
    peak = eventually(lambda: live_workers(workers) if live_workers(workers) > 1 else None,
                      timeout=60, interval=0.2)
    assert 1 < peak <= 4
    store = workers.app.store
    eventually(lambda: store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,))) == BURST,
               timeout=120, interval=0.5)
    # Idle: one process at a time drains away, down to the least.
    eventually(lambda: live_workers(workers) == 1, timeout=60, interval=0.5)

    # None lost, none run twice, no interrupted attempt charged: one attempt per job.
    [load] = store.queue_load(0.0)
    assert load.queue == "tenants" and load.attempts == BURST
    jobs = store.list_jobs(JobFilter(limit=BURST))
    assert {job.attempt for job in jobs} == {1}
    assert len({job.worker_id for job in jobs}) > 1


def test_max_jobs_per_process_replaces_processes_cleanly(workers: Workers) -> None:
    workers.app.get("paced_effect").enqueue_many([{"key": f"r{i}", "ms": 1} for i in range(300)])
    proc = workers.start(processes=1, concurrency=4, max_jobs_per_process=100, burst=True)
    assert proc.wait(timeout=90) == 0
    store = workers.app.store
    jobs = store.list_jobs(JobFilter(limit=300))
    assert [job.state for job in jobs] == [JobState.SUCCEEDED] * 300
    assert {job.attempt for job in jobs} == {1}
    assert len(workers.effects()) == 300
    # Each process ran about its share before making way for the next.
    assert len({job.worker_id for job in jobs}) >= 3
