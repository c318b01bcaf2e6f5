"""Property: every claim takes the first jobs of the fair order (docs/queues.md).

Random tenants (some jobs without one), job counts, priorities and run_at values go into a
fresh SQLite file, or, for fewer examples, a fresh PostgreSQL database; claims of random sizes
then run until the queue is empty, without completing anything, so each tenant's running jobs
are exactly the ones claimed before. Each claim must equal the first ``limit`` jobs of a
model of the rule, computed over what was still ready then.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import claim, new_job

from conveyor.store import Store, open_store


@dataclass(frozen=True)
class Ready:
    """What the rule looks at for one ready job."""

    id: int
    tenant: str
    priority: int
    run_at: int


def fair_order(ready: list[Ready], held: Counter[str]) -> list[int]:
    """The model: priority, then turn (held + rank within tenant and priority), run_at, id."""
    ranks: Counter[tuple[str, int]] = Counter()
    keyed = []
    for job in sorted(ready, key=lambda j: (j.tenant, -j.priority, j.run_at, j.id)):
        ranks[(job.tenant, job.priority)] += 1
        turn = held[job.tenant] + ranks[(job.tenant, job.priority)]
        keyed.append(((-job.priority, turn, job.run_at, job.id), job.id))
    return [job_id for _, job_id in sorted(keyed)]


jobs_strategy = st.lists(
    st.tuples(
        st.sampled_from(["", "a", "b", "c", "d"]),  # "" stands for no tenant
        st.integers(min_value=-1, max_value=1),  # priority
        st.integers(min_value=0, max_value=3),  # run_at, in seconds before a base time
    ),
    min_size=1,
    max_size=40,
)
limits_strategy = st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=10)


def check_claims(store: Store, jobs: list[tuple[str, int, int]], limits: list[int]) -> None:
    """Insert ``jobs``, claim with ``limits`` in turn until empty, compare with the model."""
    base = int(time.time()) - 100
    inserted = store.insert_jobs(
        [
            new_job(tenant=tenant or None, priority=priority, run_at=float(base - seconds))
            for tenant, priority, seconds in jobs
        ]
    )
    ready = {
        i.id: Ready(i.id, tenant, priority, base - seconds)
        for i, (tenant, priority, seconds) in zip(inserted, jobs, strict=True)
    }
    held: Counter[str] = Counter()
    step = 0
    while ready:
        limit = limits[step % len(limits)]
        step += 1
        expected = fair_order(list(ready.values()), held)[:limit]
        got = [j.id for j in claim(store, limit=limit)]
        assert got == expected, f"claim {step} (limit {limit})"
        for job_id in got:
            held[ready.pop(job_id).tenant] += 1
    assert claim(store, limit=5) == []


@settings(max_examples=60, deadline=None)
@given(jobs=jobs_strategy, limits=limits_strategy)
def test_sqlite_claims_follow_the_fair_order(
    jobs: list[tuple[str, int, int]], limits: list[int]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'conveyor.db'}")
        try:
            check_claims(store, jobs, limits)
        finally:
            store.close()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(jobs=jobs_strategy, limits=limits_strategy)
def test_postgres_claims_follow_the_fair_order(
    fresh_postgres_url: Callable[[], str],
    jobs: list[tuple[str, int, int]],
    limits: list[int],
) -> None:
    store = open_store(fresh_postgres_url())
    try:
        check_claims(store, jobs, limits)
    finally:
        store.close()
