"""Conformance: claims are fair between tenants (docs/queues.md, "Fairness between tenants").

The rule: priority first; among ready jobs of equal priority each tenant's k-th job (counting
the jobs it already has running in the queue) comes before any tenant's (k+1)-th; within a
tenant, run_at then id. Jobs without a tenant count as one tenant.
"""

from __future__ import annotations

import time
from dataclasses import replace

from store_helpers import claim, complete, insert, insert_one, new_job

from conveyor.models import JobState
from conveyor.store import Store


def _flood(store: Store, tenant: str | None, n: int, *, at: float, **kwargs: object) -> list[int]:
    """``n`` jobs of ``tenant``, inserted in one call, run_at ``at`` (in the past)."""
    return insert(store, *[new_job(tenant=tenant, run_at=at, **kwargs) for _ in range(n)])


def test_tenants_take_turns_in_claim_order(store: Store) -> None:
    past = time.time() - 60
    a = _flood(store, "a", 4, at=past)
    b = _flood(store, "b", 2, at=past + 1)
    c = _flood(store, "c", 1, at=past + 2)
    order = [j.id for j in claim(store, limit=10)]
    # Turn 1 of a, b, c (by run_at), turn 2 of a, b, then a's remaining jobs.
    assert order == [a[0], b[0], c[0], a[1], b[1], a[2], a[3]]


def test_turns_carry_over_between_claims_through_running_jobs(store: Store) -> None:
    past = time.time() - 60
    a = _flood(store, "a", 3, at=past)
    b = _flood(store, "b", 3, at=past + 1)
    seen = [claim(store, limit=1)[0].id for _ in range(6)]
    assert seen == [a[0], b[0], a[1], b[1], a[2], b[2]]


def test_priority_still_dominates(store: Store) -> None:
    past = time.time() - 60
    a_low = _flood(store, "a", 2, at=past)
    b_high = _flood(store, "b", 3, at=past + 1, priority=5)
    a_high = _flood(store, "a", 1, at=past + 2, priority=5)
    order = [j.id for j in claim(store, limit=10)]
    # Priority 5 first (b's turn 1, a's turn 1, b's turns 2 and 3), then priority 0.
    assert order == [b_high[0], a_high[0], b_high[1], b_high[2], *a_low]


def test_jobs_without_a_tenant_form_one_group(store: Store) -> None:
    past = time.time() - 60
    none = _flood(store, None, 3, at=past)
    t = _flood(store, "t", 2, at=past + 1)
    order = [j.id for j in claim(store, limit=10)]
    assert order == [none[0], t[0], none[1], t[1], none[2]]


def test_without_tenants_the_order_is_priority_run_at_id(store: Store) -> None:
    past = time.time() - 60
    late = insert_one(store, run_at=past + 5)
    early = insert_one(store, run_at=past)
    high = insert_one(store, run_at=past + 9, priority=1)
    assert [j.id for j in claim(store, limit=10)] == [high, early, late]


def test_a_flood_does_not_keep_another_tenants_jobs_behind_it(store: Store) -> None:
    past = time.time() - 60
    _flood(store, "a", 5_000, at=past)
    b = set(_flood(store, "b", 10, at=time.time() - 1))
    claimed: list[int] = []
    for _ in range(5):  # a worker with 5 free slots at a time, finishing what it took
        batch = claim(store, limit=5)
        claimed += [j.id for j in batch]
        for job in batch:
            assert complete(store, job)
    # Each claim of 5 takes turns 1-3 of A and 1-2 of B (A's older jobs win the ties), so
    # B's 10 jobs are all among the first 25 claimed, not behind 5,000 of A's.
    assert b <= set(claimed)
    assert sum(1 for i in claimed if i in b) == 10


def test_a_tenant_holding_slots_waits_for_others(store: Store) -> None:
    past = time.time() - 60
    _flood(store, "a", 20, at=past)
    held = claim(store, limit=8)  # a holds 8 running jobs
    b = _flood(store, "b", 3, at=time.time() - 1)
    assert [j.id for j in claim(store, limit=3)] == b
    for job in held:
        assert complete(store, job)


def test_each_queue_is_its_own_line(store: Store) -> None:
    past = time.time() - 60
    x_a = _flood(store, "a", 2, at=past, queue="x")
    y_b = _flood(store, "b", 2, at=past + 1, queue="y")
    # a's jobs running in queue x do not count against a in queue y.
    held = claim(store, queues=("x",), limit=2)
    assert [j.id for j in held] == x_a
    y_a = _flood(store, "a", 1, at=past + 2, queue="y")
    assert [j.id for j in claim(store, queues=("y",), limit=3)] == [y_b[0], y_a[0], y_b[1]]


def test_paused_queues_are_still_skipped(store: Store) -> None:
    past = time.time() - 60
    _flood(store, "a", 3, at=past, queue="x")
    y = _flood(store, "b", 2, at=past, queue="y")
    assert store.set_queue_paused("x", True, "test")
    assert [j.id for j in claim(store, queues=("x", "y"), limit=10)] == y
    assert store.set_queue_paused("x", False, "test")
    assert len(claim(store, queues=("x", "y"), limit=10)) == 3


def test_limited_jobs_stay_out_of_the_plain_candidates(store: Store) -> None:
    past = time.time() - 60
    limited = insert(store, replace(new_job(tenant="a", run_at=past), limit_key="k", limit_max=1))
    plain = _flood(store, "a", 2, at=past + 1)
    # The plain candidate selection never picks a limited job, whatever the tenant turns say.
    candidates = [j.id for j in claim(store, limit=10)]
    assert plain[0] in candidates and plain[1] in candidates
    row = store.get_job(limited[0])
    assert row is not None
    if limited[0] not in candidates:
        assert row.state is JobState.QUEUED
