"""Cluster-wide concurrency and rate limits, enforced across real worker processes."""

from __future__ import annotations

from collections import defaultdict

import pytest

from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually, max_overlap

from .conftest import Workers

pytestmark = pytest.mark.slow


def test_a_concurrency_limit_holds_across_supervisors(workers: Workers) -> None:
    app = workers.app
    calls = [
        app.jobs["vendor_call"].prepare(vendor=vendor, n=n, seconds=0.15)
        for n in range(30)
        for vendor in ("acme", "globex")
    ]
    app.enqueue_many(calls)
    # Two supervisors of two processes each: eight slots per process, far more than the limit.
    workers.start(queues=["vendors"], processes=2, concurrency=8, poll_interval=0.2)
    workers.start(queues=["vendors"], processes=2, concurrency=8, poll_interval=0.2)

    eventually(lambda: len(workers.effects()) == 60 or None, timeout=90)
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key in workers.effects():
        lane, _, start, end = key.split("|")
        spans[lane].append((float(start), float(end)))
    for vendor in ("acme", "globex"):
        # Never more than 3 at once, and the limit was reached (the workers had the room).
        assert max_overlap(spans[f"vendor-{vendor}"]) == 3


def test_a_rate_limit_holds_across_supervisors(workers: Workers) -> None:
    app = workers.app
    handles = app.jobs["rated_call"].enqueue_many([{"n": n} for n in range(17)])
    workers.start(queues=["rated"], processes=2, poll_interval=0.2)
    workers.start(queues=["rated"], processes=2, poll_interval=0.2)

    eventually(lambda: len(workers.effects()) == 17 or None, timeout=60)
    jobs = app.store.list_jobs(JobFilter(ids=tuple(h.id for h in handles)))
    # Starts are stamped by the database clock at the claim that spent the budget.
    starts = sorted(j.started_at for j in jobs if j.started_at is not None)
    assert len(starts) == 17
    for t in starts:
        assert sum(1 for s in starts if t - 1.0 < s <= t) <= 5
    # Waiting is not failing: 17 jobs at 5 per second take more than 3 seconds, all succeed.
    assert starts[-1] - starts[0] > 3.0 - 0.05
    assert {j.attempt for j in jobs} == {1}
