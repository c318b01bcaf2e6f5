"""Real worker processes behind PgBouncer in transaction pooling mode (issue 14, item 5).

The ``workers`` fixture starts Debian's pgbouncer on a free loopback port (``pool_mode =
transaction``, see tests/conftest.py) and points every store at it with
``CONVEYOR_PG_POOLER=transaction``: no server-side prepared statements, no startup option, and
wake-ups by polling or, with ``+listen``, by LISTEN on a direct connection.
"""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from conveyor.models import AttemptOutcome, JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Workers, load_itapp
from .test_schedules import ledger, start_schedulers, stop, wait_all_finished

pytestmark = pytest.mark.slow

POOLED = ["postgres-via-pgbouncer", "postgres-via-pgbouncer+listen"]


def _server_connections(workers: Workers) -> int:
    """Backends of the test's database on the server itself (not through the pooler)."""
    direct = workers.env.get("CONVEYOR_PG_LISTEN_URL")
    if direct is None:
        return -1
    with psycopg.connect(direct, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("workers", POOLED, indirect=True)
def test_four_processes_through_the_pooler_none_lost_none_twice(workers: Workers) -> None:
    keys = [f"k{i}" for i in range(3000)]
    workers.app.get("effect").enqueue_many([{"key": k} for k in keys[:1500]])
    workers.app.get("effect_async").enqueue_many([{"key": k} for k in keys[1500:]])
    # More than five rounds of every statement: psycopg would have prepared them by now.
    proc = workers.start(processes=4, concurrency=8, burst=True)
    assert proc.wait(timeout=180) == 0
    store = workers.app.store
    assert store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,))) == 3000
    effects = workers.effects()
    assert len(effects) == 3000  # the UNIQUE key column refuses a second run
    assert set(effects) == set(keys)
    assert {job.attempt for job in store.list_jobs(JobFilter(limit=3000))} == {1}


@pytest.mark.parametrize("workers", POOLED, indirect=True)
def test_a_failing_job_is_retried_through_the_pooler(workers: Workers) -> None:
    handle = workers.app.get("flaky").enqueue(key="r1", fail_times=2)
    proc = workers.start(processes=1, concurrency=2, poll_interval=0.2)
    try:
        job = workers.wait_state(handle.id, JobState.SUCCEEDED, JobState.DEAD, timeout=60)
    finally:
        stop(proc)
    outcomes = [a.outcome for a in workers.app.store.list_attempts(handle.id)]
    assert job.state == JobState.SUCCEEDED
    assert job.attempt == 3
    assert outcomes == [AttemptOutcome.FAILED, AttemptOutcome.FAILED, AttemptOutcome.SUCCEEDED]
    assert workers.effects() == ["r1:1", "r1:2", "r1:3"]


@pytest.mark.parametrize("workers", ["postgres-via-pgbouncer+listen"], indirect=True)
def test_listen_on_the_direct_connection_wakes_an_idle_worker(workers: Workers) -> None:
    # A poll interval far longer than the wait below: only a NOTIFY can start the job in time.
    proc = workers.start(processes=1, concurrency=2, poll_interval=60.0)
    try:
        eventually(lambda: workers.app.store.live_workers(stale_after=60) or None, timeout=30)
        time.sleep(1.0)  # the worker has claimed nothing and is waiting
        handle = workers.app.get("effect").enqueue(key="woken")
        job = workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=20)
        assert job.state == JobState.SUCCEEDED
        assert _server_connections(workers) > 0
    finally:
        stop(proc)


@pytest.mark.parametrize("workers", ["postgres-via-pgbouncer"], indirect=True)
def test_without_a_listen_url_idle_workers_poll(workers: Workers) -> None:
    proc = workers.start(processes=1, concurrency=2, poll_interval=0.3)
    try:
        eventually(lambda: workers.app.store.live_workers(stale_after=60) or None, timeout=30)
        handle = workers.app.get("effect_async").enqueue(key="polled")
        assert workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=20).attempt == 1
    finally:
        stop(proc)


@pytest.mark.parametrize("workers", ["postgres-via-pgbouncer"], indirect=True)
def test_schedules_fire_each_slot_once_through_the_pooler(workers: Workers) -> None:
    workers.app = load_itapp(f"sched{os.getpid()}", "schedapp")
    procs = start_schedulers(workers, 2)
    try:
        eventually(lambda: len(ledger(workers, "tick")) >= 4 or None, timeout=40)
    finally:
        for proc in procs:
            stop(proc)
    # The last scheduler keeps firing while its process drains, so a slot's job may be left
    # queued with no worker running: a burst worker (no scheduler of its own) finishes it.
    finisher = workers.start("schedapp:app", processes=1, concurrency=4, burst=True)
    assert finisher.wait(timeout=60) == 0
    entries = wait_all_finished(workers, "tick")
    slots = [e.slot for e in entries]
    assert len(slots) == len(set(slots)), "a slot fired twice"
    fired = [e for e in entries if e.job_id is not None]
    assert fired, "the schedule never fired"


@pytest.mark.parametrize("workers", ["postgres-via-pgbouncer"], indirect=True)
def test_transactional_enqueue_through_the_pooler(workers: Workers) -> None:
    url = workers.app.url
    with psycopg.connect(url, prepare_threshold=None) as conn:
        with conn.transaction():
            workers.app.get("effect").enqueue(key="committed", connection=conn)
        with conn.transaction(force_rollback=True):
            workers.app.get("effect").enqueue(key="rolled-back", connection=conn)
    proc = workers.start(processes=1, concurrency=2, burst=True)
    assert proc.wait(timeout=60) == 0
    assert workers.effects() == ["committed"]
    assert workers.app.store.count_jobs(JobFilter()) == 1
