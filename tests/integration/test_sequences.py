"""Sequences (``sequence=``) across real worker processes: per-key order holds with random
failures and retries, a dead job blocks (or not) its key, and a kill -9 of the worker running
a key's head keeps the order. Each job records (key, n, start, end) in the effects table."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

import pytest

from conveyor.models import JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Workers

pytestmark = pytest.mark.slow

KEYS = [f"k{i}" for i in range(10)]


def runs(workers: Workers, prefix: str = "seq-") -> dict[str, list[tuple[int, float, float]]]:
    """Per key, (n, start, end) of every recorded run, in the order they were recorded."""
    found: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for effect in workers.effects():
        lane, n, start, end = effect.split("|")
        if lane.startswith(prefix):
            found[lane.removeprefix(prefix)].append((int(n), float(start), float(end)))
    return found


def test_a_thousand_jobs_over_ten_keys_keep_per_key_order(workers: Workers) -> None:
    app = workers.app
    rng = random.Random(16)
    order: dict[str, list[int]] = defaultdict(list)
    batch = []
    for n in range(1000):
        key = rng.choice(KEYS)
        order[key].append(n)
        # Sync and async handlers share one line per key.
        name = "seq_step" if n % 2 else "seq_step_async"
        batch.append(app.jobs[name].prepare(key=key, n=n))
    # Some by enqueue_many in batches, some one by one.
    app.enqueue_many(batch[:600])
    for job in batch[600:]:
        app.enqueue_many([job])
    workers.start(queues=["seq"], processes=2, concurrency=8, poll_interval=0.1)

    eventually(lambda: len(workers.effects()) == 1000 or None, timeout=300)
    found = runs(workers)
    for key in KEYS:
        ns = [n for n, _, _ in found[key]]
        assert ns == order[key], f"key {key} ran out of order"
        spans = sorted((s, e) for _, s, e in found[key])
        # One at a time: each run starts after the one before it ended.
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), key
    # Different keys ran in parallel: some runs of different keys overlapped in time.
    every = sorted((s, e, k) for k in KEYS for _, s, e in found[k])
    overlaps = sum(
        1 for a, b in itertools.pairwise(every) if b[0] < a[1] and a[2] != b[2]
    )
    assert overlaps > 0
    failed = app.store.list_jobs(JobFilter(states=(JobState.DEAD, JobState.HELD)))
    assert failed == []


def test_a_dead_job_blocks_its_key_and_other_keys_continue(workers: Workers) -> None:
    app = workers.app
    app.jobs["seq_step"].enqueue(key="blocked", n=0)
    doomed = app.jobs["seq_doomed"].enqueue(key="blocked", n=1)
    behind = [app.jobs["seq_step"].enqueue(key="blocked", n=n) for n in (2, 3)]
    free = [app.jobs["seq_step"].enqueue(key="free", n=n) for n in range(3)]
    workers.start(queues=["seq"], processes=2, concurrency=4, poll_interval=0.1)

    for handle in free:
        workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=60)
    workers.wait_state(doomed.id, JobState.DEAD, timeout=60)
    assert {workers.job(h.id).state for h in behind} == {JobState.HELD}
    # Discarding the dead job lets the key go on, in order.
    assert app.store.discard_jobs(JobFilter(ids=(doomed.id,))) == 1
    for handle in behind:
        workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=60)
    assert [n for n, _, _ in runs(workers)["blocked"]] == [0, 2, 3]


def test_on_dead_continue_lets_the_key_go_on(workers: Workers) -> None:
    app = workers.app
    doomed = app.jobs["seq_doomed_continue"].enqueue(key="c", n=0)
    after = [app.jobs["seq_continue"].enqueue(key="c", n=n) for n in (1, 2)]
    workers.start(queues=["seq"], processes=1, concurrency=4, poll_interval=0.1)
    for handle in after:
        workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=60)
    assert workers.job(doomed.id).state is JobState.DEAD
    assert [n for n, _, _ in runs(workers, "cont-")["c"]] == [1, 2]


def test_a_kill_9_of_the_worker_running_the_head_keeps_the_order(workers: Workers) -> None:
    app = workers.app
    head = app.jobs["seq_killer"].enqueue(key="kill", n=0)
    behind = [app.jobs["seq_step"].enqueue(key="kill", n=n) for n in (1, 2)]
    workers.start(queues=["seq"], processes=1, concurrency=4, poll_interval=0.1, lease=3)
    for handle in behind:
        workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=90)
    killed = workers.job(head.id)
    assert killed.state is JobState.SUCCEEDED and killed.attempt == 2  # rescued, retried
    assert [n for n, _, _ in runs(workers)["kill"]] == [0, 1, 2]
