"""Fairness between tenants with a real worker: a flood does not hold back a small tenant."""

from __future__ import annotations

from .conftest import Workers

SLOTS = 4


def test_a_small_tenant_is_not_kept_behind_a_flood(workers: Workers) -> None:
    app = workers.app
    work = app.jobs["tenant_work"]
    flood = work.enqueue_many([{"ms": 5}] * 2_000, tenant="a")
    workers.start(queues=["tenants"], concurrency=SLOTS)
    workers.wait_state(flood[20].id, "succeeded")
    small = work.enqueue_many([{"ms": 5}] * 10, tenant="b")
    done = [workers.wait_state(h.id, "succeeded", timeout=60) for h in small]

    enqueued = min(j.created_at for j in done)
    last_b = max(j.started_at or 0.0 for j in done)
    a_jobs = app.store.get_jobs([h.id for h in flood])
    a_between = [j for j in a_jobs if j.started_at and enqueued < j.started_at <= last_b]
    # In order terms, not time: while b's 10 jobs waited, a took turns with them (one a job
    # per b job) plus at most the jobs of the claims already in flight on each slot.
    assert len(a_between) <= 10 + 2 * SLOTS, len(a_between)
    # The flood was still there when b's jobs ran, so they really did overtake it.
    assert any(j.started_at is None or j.started_at > last_b for j in a_jobs)
