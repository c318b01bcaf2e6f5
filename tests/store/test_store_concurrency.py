"""Conformance: concurrent claimers, as threads and as processes, each with its own store.

"Every job exactly once, none lost" is checked by counting rows in the store, not by trusting
what the claimers report.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from store_helpers import claim, drain_in_process, new_job

from conveyor.models import AttemptOutcome, JobState
from conveyor.store import Store
from conveyor.store.protocol import JobFilter


def test_threads_with_their_own_stores_claim_each_job_exactly_once(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    ids = [i.id for i in store.insert_jobs([new_job(args={"n": n}) for n in range(500)])]
    stores = [open_store_on() for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def claimer(worker: str, own: Store) -> None:
        mine: list[int] = []
        claimed[worker] = mine
        try:
            barrier.wait()
            while batch := claim(own, limit=7, worker=worker):
                mine.extend(j.id for j in batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"t{n}", s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    every = [i for mine in claimed.values() for i in mine]
    assert len(every) == 500
    assert sorted(every) == ids
    assert store.count_jobs(JobFilter(states=(JobState.RUNNING,))) == 500
    # Each job is held by the worker that claimed it, and only by it.
    owner = {i: w for w, mine in claimed.items() for i in mine}
    for job in store.list_jobs(JobFilter()):
        assert job.worker_id == owner[job.id]
        assert job.attempt == 1


RACED_JOBS = 4000
"""Jobs the four processes race for. With 1,000 (a third of a second of work), a loaded CI
lane once let one process drain them all before the others were scheduled at all."""


@pytest.mark.slow
def test_processes_claim_and_complete_each_job_exactly_once(store: Store, store_url: str) -> None:
    n_jobs = RACED_JOBS
    ids = [i.id for i in store.insert_jobs([new_job(args={"n": n}) for n in range(n_jobs)])]
    workers = [f"p{n}" for n in range(4)]
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(workers))
    results = ctx.Queue()
    procs = [
        ctx.Process(target=drain_in_process, args=(store_url, w, 10, start, results))
        for w in workers
    ]
    for p in procs:
        p.start()
    done: dict[str, list[int]] = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    results.close()
    results.join_thread()

    completed = [i for mine in done.values() for i in mine]
    assert len(completed) == n_jobs
    assert sorted(completed) == ids
    # All four really raced (none finished before another began).
    assert sorted(done) == workers
    assert sum(1 for mine in done.values() if mine) >= 2

    assert store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,))) == n_jobs
    assert store.count_jobs(JobFilter()) == n_jobs
    assert store.count_jobs(JobFilter(states=(JobState.RUNNING, JobState.QUEUED))) == 0
    owner = {i: w for w, mine in done.items() for i in mine}
    outcomes: Counter[AttemptOutcome] = Counter()
    for job in store.list_jobs(JobFilter()):
        assert job.attempt == 1
        assert job.result == {"worker": owner[job.id]}
        (attempt,) = store.list_attempts(job.id)
        assert attempt.worker_id == owner[job.id]
        outcomes[attempt.outcome] += 1
    assert outcomes == Counter({AttemptOutcome.SUCCEEDED: n_jobs})
