"""Conformance: usage rows (``conveyor.store.contract.usage``): recorded in batches, summed per
job name, queue or tenant over a time window, and deleted with their job."""

from __future__ import annotations

import pytest
from store_helpers import claim_one, complete, insert_one

from conveyor.errors import ConfigurationError
from conveyor.store import Store
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


def test_a_bad_grouping_is_refused_by_name(store: Store) -> None:
    with pytest.raises(ConfigurationError, match=r"name, queue, tenant.*not 'worker'"):
        store.usage_totals("worker")  # type: ignore[arg-type]


def test_usage_goes_with_its_job_and_is_never_written_for_a_missing_one(store: Store) -> None:
    job_id = insert_one(store, max_attempts=1)
    job = claim_one(store)
    store.record_usage([_row(job_id, cost=1), _row(job_id + 1000, cost=5)])
    assert store.usage_totals()[0].units == {"cost": 1.0}
    assert complete(store, job, CompletionKind.DEAD, error=ErrorInfo("E", "x"))
    assert store.discard_jobs(JobFilter(ids=(job_id,))) == 1
    assert store.usage_totals() == []
