"""Conformance: usage rows (``conveyor.store.contract.usage``): recorded in batches, summed per
job name, queue or tenant over a time window, and folded into an hourly roll-up when their job
is deleted."""

from __future__ import annotations

import pytest
from store_helpers import claim_one, complete, insert_one

from conveyor.errors import ConfigurationError
from conveyor.store import Store
from conveyor.store.contract.records import Retention
from conveyor.store.contract.usage import UsageRow
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter


def _row(job_id: int, *, name: str = "a", queue: str = "q", tenant: str | None = None,
         at: float = 1000.0, attempt: int = 1, wall: float = 1.0, cpu: float = 0.5,
         memory: float = 100.0, **units: float) -> UsageRow:
    return UsageRow(job_id=job_id, attempt=attempt, name=name, queue=queue, tenant=tenant,
                    finished_at=at, wall=wall, cpu=cpu, memory_mb=memory, units=units)


def test_totals_sum_per_group_and_units_per_name(store: Store) -> None:
    ids = [insert_one(store) for _ in range(3)]
    store.record_usage([
        _row(ids[0], name="a", tenant="t1", tokens=10, cost=0.5),
        _row(ids[0], name="a", tenant="t1", attempt=2, wall=2.0, memory=300.0, tokens=5),
        _row(ids[1], name="b", queue="r", tenant="t2", cpu=1.25, cost=2),
        _row(ids[2], name="b", queue="r"),
    ])
    assert store.record_usage([]) is None  # nothing to write is no error
    by_name = {t.key: t for t in store.usage_totals("name")}
    assert set(by_name) == {"a", "b"}
    a, b = by_name["a"], by_name["b"]
    assert (a.attempts, a.jobs, a.wall, a.cpu, a.memory_mb) == (2, 1, 3.0, 1.0, 300.0)
    assert a.units == {"cost": 0.5, "tokens": 15.0}
    assert (b.attempts, b.jobs, b.cpu) == (2, 2, 1.75)
    assert b.units == {"cost": 2.0}
    tenants = store.usage_totals("tenant")
    assert [t.key for t in tenants] == ["t1", "t2", None]  # no tenant comes last
    assert [t.key for t in store.usage_totals("queue")] == ["q", "r"]
    (everything,) = store.usage_totals()
    assert (everything.key, everything.attempts, everything.jobs) == (None, 4, 3)
    assert everything.units == {"cost": 2.5, "tokens": 15.0}


def test_the_window_is_half_open(store: Store) -> None:
    job_id = insert_one(store)
    store.record_usage([_row(job_id, at=t, cost=1) for t in (100.0, 200.0, 300.0)])
    assert store.usage_totals(since=200.0)[0].units == {"cost": 2.0}
    assert store.usage_totals(until=200.0)[0].units == {"cost": 1.0}
    assert store.usage_totals(since=200.0, until=300.0)[0].attempts == 1
    assert store.usage_totals(since=301.0) == []


def test_names_and_figures_are_kept_exactly(store: Store) -> None:
    # PostgreSQL sends a batch as one JSON array of rows (decision 140): quotes, backslashes
    # and non-ASCII text in names, and floats, must come back as they were.
    job_id = insert_one(store)
    name, queue, tenant = 'a "b" \\c', "q\tü", "t'1"
    wall, cpu = 0.1 + 0.2, 1 / 3
    store.record_usage([_row(job_id, name=name, queue=queue, tenant=tenant, wall=wall, cpu=cpu,
                             memory=123.456789, **{"ünits \"x\"": 0.7})])
    (total,) = store.usage_totals("name")
    assert (total.key, total.wall, total.cpu, total.memory_mb) == (name, wall, cpu, 123.456789)
    assert total.units == {"ünits \"x\"": 0.7}
    assert [t.key for t in store.usage_totals("queue")] == [queue]
    assert [t.key for t in store.usage_totals("tenant")] == [tenant]


def test_a_bad_grouping_is_refused_by_name(store: Store) -> None:
    with pytest.raises(ConfigurationError, match=r"name, queue, tenant.*not 'worker'"):
        store.usage_totals("worker")  # type: ignore[arg-type]


def test_usage_is_never_written_for_a_missing_job(store: Store) -> None:
    job_id = insert_one(store)
    store.record_usage([_row(job_id, cost=1), _row(job_id + 1000, cost=5)])
    assert store.usage_totals()[0].units == {"cost": 1.0}


def _dead(store: Store, **fields: object) -> int:
    job_id = insert_one(store, max_attempts=1, **fields)
    job = claim_one(store)
    assert complete(store, job, CompletionKind.DEAD, error=ErrorInfo("E", "x"))
    return job_id


def test_usage_outlives_a_discarded_job_in_the_hourly_roll_up(store: Store) -> None:
    first, second = _dead(store), _dead(store)
    hour = 3600.0 * 500
    store.record_usage([
        _row(first, at=hour + 10, tenant="t1", wall=1.0, memory=100.0, cost=1, tokens=3),
        _row(first, at=hour + 3700, attempt=2, tenant="t1", wall=2.0, memory=50.0, cost=2),
        _row(second, at=hour + 20, wall=4.0, memory=400.0, cost=4),
    ])
    before = {t.key: t for t in store.usage_totals("tenant")}
    assert store.discard_jobs(JobFilter(ids=(first, second))) == 2
    after = {t.key: t for t in store.usage_totals("tenant")}
    assert set(after) == {"t1", None}  # no tenant stays None, not ''
    for key in ("t1", None):
        b, a = before[key], after[key]
        assert (a.attempts, a.jobs, a.wall, a.cpu, a.memory_mb, a.units) == (
            b.attempts, b.jobs, b.wall, b.cpu, b.memory_mb, b.units
        )
    # A job counts once, in the hour of its last attempt; each attempt in its own hour.
    assert [(t.attempts, t.jobs) for t in store.usage_totals(since=hour + 3600)] == [(1, 1)]
    (early,) = store.usage_totals(until=hour + 3600)
    assert (early.attempts, early.jobs, early.units) == (2, 1, {"cost": 5.0, "tokens": 3.0})
    # Folding again into the same hours adds up (the upsert path).
    third = _dead(store, tenant="t1")
    store.record_usage([_row(third, at=hour + 30, tenant="t1", cost=10, memory=700.0)])
    assert store.discard_jobs(JobFilter(ids=(third,))) == 1
    t1 = {t.key: t for t in store.usage_totals("tenant")}["t1"]
    assert (t1.attempts, t1.jobs, t1.memory_mb, t1.units) == (
        3, 2, 700.0, {"cost": 13.0, "tokens": 3.0}
    )


def test_retention_folds_usage_and_prunes_the_roll_up_by_its_own_age(store: Store) -> None:
    job_id = _dead(store)
    store.record_usage([_row(job_id, at=3600.0 * 2, cost=1)])
    now = store.now()
    pruned = store.prune(Retention(dead=0.0, usage=now), now=now + 1)
    assert pruned >= 1
    assert store.list_jobs(JobFilter(ids=(job_id,))) == []
    assert store.usage_totals()[0].units == {"cost": 1.0}  # the roll-up is younger than usage=
    store.prune(Retention(dead=0.0, usage=now - 3600.0 * 10), now=now + 1)
    assert store.usage_totals() == []
