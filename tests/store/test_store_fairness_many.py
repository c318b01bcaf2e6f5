"""Conformance: fairness with many tenants and claims of a worker's size (issue 14, item 4).

PostgreSQL reads each tenant's head only as deep as a tenant could contribute when every one
has work (a short read) and reads the full heads again when that might have left out a better
job; SQLite does the same in two statements. These tests hold both stores to the exact fair
order (the model of test_fairness_property.py) at 20 tenants and claims of 50, on backlogs
where the short read is enough and where it is not, and check that no tenant is starved.
"""

from __future__ import annotations

import time
from collections import Counter

from store_helpers import claim, complete, insert, new_job
from test_fairness_property import check_claims

from conveyor.store import Store

TENANTS = [f"t{k:02d}" for k in range(20)]


def _warm(store: Store) -> None:
    """A claim over several tenant groups (in a queue of its own), so the store's next claim
    is one it makes while its claims span several groups (PostgreSQL then reads short heads
    from the first claim of a test on)."""
    insert(store, *[new_job(queue="warm", tenant=t) for t in ("x", "y")])
    assert len(claim(store, queues=("warm",), limit=2)) == 2


def test_twenty_deep_tenants_take_exact_turns(store: Store) -> None:
    _warm(store)
    # Every tenant has a deep backlog: the short read is enough, claim after claim.
    jobs = [(t, 0, s % 4) for s in range(30) for t in TENANTS]
    check_claims(store, jobs, [50])


def test_short_reads_that_miss_fall_back_to_full_heads(store: Store) -> None:
    _warm(store)
    # 18 tenants with one job each and two with deep backlogs: a claim of 50 takes 16 jobs of
    # each deep tenant, far more than the short read's depth, so the claim must read again.
    jobs = [(t, 0, 1) for t in TENANTS[:18]]
    jobs += [(t, 0, s % 3) for s in range(100) for t in TENANTS[18:]]
    jobs += [("", 0, 2)] * 5  # and jobs without a tenant, one group of their own
    check_claims(store, jobs, [50, 50, 7])


def test_priorities_and_uneven_backlogs_over_twenty_tenants(store: Store) -> None:
    _warm(store)
    jobs = [
        (t, 1 if k % 7 == 0 else 0, k % 4)
        for i, t in enumerate(TENANTS)
        for k in range(i * 3 % 17 + 1)
    ]
    check_claims(store, jobs, [50, 13, 50])


def test_no_tenant_is_starved_and_shares_stay_within_one(store: Store) -> None:
    _warm(store)
    past = time.time() - 60
    for tenant in TENANTS:
        insert(store, *[new_job(tenant=tenant, run_at=past) for _ in range(40)])
    for _ in range(8):  # a worker with 50 slots taking work and finishing it between claims
        batch = claim(store, limit=50)
        assert len(batch) == 50
        shares = Counter(j.tenant for j in batch)
        assert set(shares) == set(TENANTS), "every tenant gets a turn in every claim"
        assert max(shares.values()) - min(shares.values()) <= 1
        for job in batch:
            assert complete(store, job)
