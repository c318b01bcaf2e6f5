"""Real worker processes: no job lost, none run twice, crashes and kills survived."""

from __future__ import annotations

import os
import signal
import time

import pytest

from conveyor.models import AttemptOutcome, JobState
from conveyor.store.protocol import JobFilter, NewJob
from conveyor.testing import eventually

from .conftest import Workers

pytestmark = pytest.mark.slow


def outcomes(workers: Workers, job_id: int) -> list[AttemptOutcome]:
    return [a.outcome for a in workers.app.store.list_attempts(job_id)]


def test_two_thousand_jobs_over_two_processes_none_lost_none_twice(workers: Workers) -> None:
    sync_jobs = workers.app.get("effect").enqueue_many([{"key": f"s{i}"} for i in range(1000)])
    async_jobs = workers.app.get("effect_async").enqueue_many(
        [{"key": f"a{i}"} for i in range(1000)]
    )
    proc = workers.start(processes=2, concurrency=8, burst=True)
    assert proc.wait(timeout=90) == 0

    store = workers.app.store
    assert store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,))) == 2000
    assert store.count_jobs(JobFilter()) == 2000
    effects = workers.effects()
    assert len(effects) == 2000  # the UNIQUE key column proves none ran twice
    assert set(effects) == {f"s{i}" for i in range(1000)} | {f"a{i}" for i in range(1000)}
    workers_seen = set()
    for handle in (sync_jobs[0], sync_jobs[-1], async_jobs[0], async_jobs[-1]):
        assert workers.job(handle.id).attempt == 1
        assert outcomes(workers, handle.id) == [AttemptOutcome.SUCCEEDED]
    for job in store.list_jobs(JobFilter(limit=2000)):
        workers_seen.add(job.worker_id)
    assert len(workers_seen) == 2, "both processes should have done work"


def test_kill_9_of_a_worker_process_mid_job_runs_it_again_elsewhere(workers: Workers) -> None:
    handle = workers.app.enqueue("slow_first", key="k", seconds=60)
    workers.start(processes=2, lease=30)
    running = workers.wait_state(handle.id, JobState.RUNNING)
    assert running.worker_id is not None
    eventually(lambda: workers.effects() == ["k:start:1"])  # the handler is under way
    os.kill(workers.pid_of(running.worker_id), signal.SIGKILL)

    # The lease is 30 s: the job comes back long before that because the supervisor
    # lapses the dead child's leases at once.
    done = workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=15)
    assert done.result == 2
    assert done.worker_id != running.worker_id
    assert outcomes(workers, handle.id) == [AttemptOutcome.LOST, AttemptOutcome.SUCCEEDED]
    assert workers.effects() == ["k:start:1", "k:start:2"]


def test_whole_worker_killed_its_jobs_run_after_the_lease_lapses(workers: Workers) -> None:
    handle = workers.app.enqueue("slow_first", key="k", seconds=60)
    first = workers.start(processes=1, lease=2)
    workers.wait_state(handle.id, JobState.RUNNING)
    os.killpg(first.pid, signal.SIGKILL)  # supervisor and child: nobody lapses the lease
    first.wait(timeout=10)

    workers.start(processes=1, lease=2)
    done = workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=20)
    assert done.result == 2
    attempts = workers.app.store.list_attempts(handle.id)
    assert [a.outcome for a in attempts] == [AttemptOutcome.LOST, AttemptOutcome.SUCCEEDED]
    assert attempts[0].error_type == "WorkerLost"


def test_sigterm_lets_running_jobs_finish(workers: Workers) -> None:
    sync_handle = workers.app.enqueue("sleeper", seconds=1.5)
    proc = workers.start(processes=1, drain_timeout=20)
    workers.wait_state(sync_handle.id, JobState.RUNNING)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    job = workers.job(sync_handle.id)
    assert job.state is JobState.SUCCEEDED
    assert job.result == "done"


def test_sigterm_past_the_drain_timeout_hands_jobs_back_uncharged(workers: Workers) -> None:
    handle = workers.app.enqueue("sleeper", seconds=60)
    proc = workers.start(processes=1, drain_timeout=0.5)
    workers.wait_state(handle.id, JobState.RUNNING)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    job = workers.job(handle.id)
    assert job.state is JobState.QUEUED
    assert job.attempt == 0  # the released attempt is not charged
    assert outcomes(workers, handle.id) == [AttemptOutcome.RELEASED]
    assert workers.app.store.live_workers(stale_after=60) == []


def test_second_sigterm_stops_at_once_and_loses_nothing(workers: Workers) -> None:
    handle = workers.app.enqueue("sleeper", seconds=60)
    proc = workers.start(processes=1, drain_timeout=120)
    workers.wait_state(handle.id, JobState.RUNNING)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    job = workers.job(handle.id)
    assert job.state is JobState.QUEUED
    assert job.attempt == 0


def test_hanging_sync_job_is_reaped_and_its_process_replaced(workers: Workers) -> None:
    other = workers.app.enqueue("sleeper", seconds=60)
    hang = workers.app.enqueue("hang")
    workers.start(processes=1, concurrency=4, drain_timeout=1)
    dead = workers.wait_state(hang.id, JobState.DEAD, timeout=20)
    assert dead.error_type == "TimeoutError"
    assert outcomes(workers, hang.id) == [AttemptOutcome.DEAD]

    # The other job of the replaced process was handed back uncharged and runs again.
    def released_and_rerun() -> bool:
        history = outcomes(workers, other.id)
        return history == [AttemptOutcome.RELEASED] and workers.job(other.id).state in (
            JobState.RUNNING,
        )

    eventually(released_and_rerun, timeout=20)
    assert workers.job(other.id).attempt == 1

    # The worker keeps serving.
    after = workers.app.enqueue("effect", key="after")
    workers.wait_state(after.id, JobState.SUCCEEDED, timeout=20)


def test_async_job_over_its_timeout_is_cancelled_without_replacing_the_process(
    workers: Workers,
) -> None:
    job = workers.app.enqueue("async_sleeper", seconds=30)
    workers.start(processes=1)
    dead = workers.wait_state(job.id, JobState.DEAD, timeout=20)
    assert dead.error_type == "TimeoutError"
    live = workers.app.store.live_workers(stale_after=60)
    assert len(live) == 1
    assert dead.worker_id == live[0].id  # same process: cancelling a coroutine needs no restart


def test_poison_job_that_kills_its_process_ends_dead(workers: Workers) -> None:
    handle = workers.app.enqueue("poison")
    workers.start(processes=1, lease=30)
    dead = workers.wait_state(handle.id, JobState.DEAD, timeout=40)
    assert dead.attempt == 3  # retries=2: three attempts, each killed its process
    assert outcomes(workers, handle.id) == [
        AttemptOutcome.LOST,
        AttemptOutcome.LOST,
        AttemptOutcome.DEAD,
    ]
    after = workers.app.enqueue("effect", key="after-poison")
    workers.wait_state(after.id, JobState.SUCCEEDED, timeout=20)


def test_supervisor_restarts_a_child_that_dies(workers: Workers) -> None:
    workers.start(processes=1)
    first = eventually(lambda: workers.app.store.live_workers(stale_after=60), timeout=15)
    os.kill(first[0].pid, signal.SIGKILL)

    def replaced() -> bool:
        live = workers.app.store.live_workers(stale_after=60)
        return len(live) == 1 and live[0].pid != first[0].pid

    eventually(replaced, timeout=15)
    job = workers.app.enqueue("effect", key="x")
    workers.wait_state(job.id, JobState.SUCCEEDED)


def is_stopped(pid: int) -> bool:
    """True once the kernel reports the process stopped (SIGSTOP is delivered asynchronously)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def pause_outside_a_write(workers: Workers, pid: int) -> None:
    """SIGSTOP ``pid`` at a moment it holds no open write transaction.

    A process frozen inside a write transaction holds its locks until it resumes: on SQLite
    that blocks every writer (see docs/architecture.md). That is not the scenario here, which
    is a worker frozen while it holds a job's lease.
    """
    for _ in range(50):
        os.kill(pid, signal.SIGSTOP)
        eventually(lambda: is_stopped(pid), timeout=5, interval=0.005)
        if not workers.writer_active():
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("could not pause the worker outside a write transaction")


def test_paused_worker_cannot_complete_a_job_it_lost(workers: Workers) -> None:
    handle = workers.app.enqueue("slow_first", key="k", seconds=4)
    workers.start(processes=2, lease=2)
    running = workers.wait_state(handle.id, JobState.RUNNING)
    assert running.worker_id is not None
    pid = workers.pid_of(running.worker_id)
    # Pause inside the 4 s sleep, not inside the effect write: a process frozen while it
    # writes the effects file would block the other worker's write of its own effect.
    eventually(lambda: workers.effects() == ["k:start:1"], timeout=10)
    pause_outside_a_write(workers, pid)
    try:
        done = workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=20)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert done.result == 2
    # Give the resumed attempt time to finish its 4 s sleep and try to complete.
    time.sleep(5)
    job = workers.job(handle.id)
    assert job.state is JobState.SUCCEEDED
    assert job.result == 2  # the late completion of attempt 1 was refused
    assert outcomes(workers, handle.id) == [AttemptOutcome.LOST, AttemptOutcome.SUCCEEDED]


def test_undecodable_row_goes_dead_on_its_first_attempt(workers: Workers) -> None:
    bad = workers.app.enqueue("effect", key="bad")
    good = workers.app.enqueue("effect", key="good")
    expected = workers.corrupt_args(bad.id)
    proc = workers.start(processes=1, burst=True)
    assert proc.wait(timeout=30) == 0
    job = workers.job(bad.id)
    assert job.state is JobState.DEAD
    assert job.attempt == 1
    assert job.error_type == "ArgumentError"
    assert expected in (job.error_message or "")
    assert workers.job(good.id).state is JobState.SUCCEEDED


def test_job_no_worker_knows_stays_queued(workers: Workers) -> None:
    [inserted] = workers.app.store.insert_jobs(
        [NewJob(queue="work", name="billing.charge", args_json="{}", max_attempts=1)]
    )
    known = workers.app.enqueue("effect", key="known")
    proc = workers.start(processes=1, burst=True)
    assert proc.wait(timeout=30) == 0
    assert workers.job(known.id).state is JobState.SUCCEEDED
    assert workers.job(inserted.id).state is JobState.QUEUED
    [stats] = workers.app.store.queue_stats()
    assert stats.waiting_names == ("billing.charge",)


def test_finished_jobs_are_pruned_after_retention(workers: Workers) -> None:
    workers.env["IT_RETAIN_SUCCEEDED"] = "0"
    handles = workers.app.get("effect").enqueue_many([{"key": f"p{i}"} for i in range(20)])
    workers.start(processes=1, prune_interval=0.3)
    eventually(lambda: workers.app.store.count_jobs(JobFilter()) == 0, timeout=20)
    assert workers.app.store.get_job(handles[0].id) is None
    assert len(workers.effects()) == 20


def test_sigterm_to_every_process_still_drains(workers: Workers) -> None:
    """systemd's default stop signals the whole group; children must not take it as a 2nd."""
    handle = workers.app.enqueue("sleeper", seconds=1.5)
    proc = workers.start(processes=2, drain_timeout=20)
    workers.wait_state(handle.id, JobState.RUNNING)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert workers.job(handle.id).state is JobState.SUCCEEDED


def test_workers_of_a_killed_supervisor_drain_and_exit(workers: Workers) -> None:
    handle = workers.app.enqueue("sleeper", seconds=1.5)
    proc = workers.start(processes=1, drain_timeout=20)
    running = workers.wait_state(handle.id, JobState.RUNNING)
    assert running.worker_id is not None
    child = workers.pid_of(running.worker_id)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=20)
    eventually(lambda: workers.app.store.live_workers(stale_after=60) == [], timeout=20)

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        # A zombie until its parent (now init) reaps it also counts as gone.
        with open(f"/proc/{child}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"

    eventually(gone, timeout=10)
