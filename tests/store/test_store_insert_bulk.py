"""Conformance: long batches (PostgreSQL COPYs them, decision 100) store exactly what short ones
store: fields, states, ids in input order, the NOTIFY, unique keys, the caller's transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from typing import Any

import psycopg
import pytest
from store_helpers import claim, new_job

from conveyor.models import Job
from conveyor.store import Store, open_async_store
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.copy_rows import COPY_MIN_BATCH
from conveyor.store.protocol import JobFilter, NewJob
from conveyor.store.sqlite import SQLiteStore

LONG = COPY_MIN_BATCH + 50
"""A batch long enough to take the COPY path on PostgreSQL."""


def varied(i: int, now: float) -> NewJob:
    """Job ``i`` of a batch that covers every column an insert computes or copies."""
    job = new_job(
        queue=("bulk-a", "bulk-b", "bulk-c")[i % 3],
        args={"i": i, "text": "tab\there, newline\nhere, back\\slash, quote\" é"},
        max_attempts=1 + i % 5,
        priority=i % 7 - 3,
        run_at=(now - 30, now + 3600, None, None)[i % 4],
        delay=(0.0, 0.0, 0.0, 90.5)[i % 4],
        timeout=None if i % 2 else 12.5,
        tenant=None if i % 3 else f"tenant-{i % 4}",
        meta={"headers": {"n": str(i)}} if i % 5 == 0 else None,
    )
    return dataclasses.replace(
        job,
        limit_key=f"lk{i % 2}" if i % 11 == 0 else None,
        limit_max=4 if i % 11 == 0 else None,
        rate_key="rk" if i % 13 == 0 else None,
        rate_max=10 if i % 13 == 0 else None,
        rate_per=1.5 if i % 13 == 0 else None,
        start_by=now + 7200 if i % 17 == 0 else None,
        expires_in=600.0 if i % 19 == 0 else None,
    )


def stored(store: Store, job_id: int) -> dict[str, Any]:
    """A stored job's fields, without its id."""
    job = store.get_job(job_id)
    assert isinstance(job, Job)
    fields = dataclasses.asdict(job)
    del fields["id"]
    return fields


def test_a_long_batch_stores_what_one_job_at_a_time_stores(store: Store) -> None:
    now = store.now()
    jobs = [varied(i, now) for i in range(LONG)]
    batch = store.insert_jobs(jobs, now=now)
    singles = [store.insert_jobs([job], now=now)[0] for job in jobs]
    assert [b.id for b in batch] == sorted(b.id for b in batch)
    assert [b.state for b in batch] == [s.state for s in singles]
    assert [b.created_at for b in batch] == [s.created_at for s in singles]
    for b, s in zip(batch, singles, strict=True):
        assert stored(store, b.id) == stored(store, s.id)


def test_a_long_batch_wakes_listeners_once_per_queue(store: Store) -> None:
    if not isinstance(store, PostgresStore):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite workers are woken in process")
    now = store.now()
    # Where the store's own workers LISTEN: a direct connection when behind a pooler.
    listen = store.pooling.listen_target(store.url)
    assert listen is not None
    with psycopg.connect(listen, autocommit=True) as listener:
        listener.execute(f'LISTEN "{store.plans.channel}"')
        store.insert_jobs([varied(i, now) for i in range(LONG)])
        got = [n.payload for n in listener.notifies(timeout=5, stop_after=3)]
        # Once per queue: nothing more arrives (a short wait, not the whole timeout).
        got += [n.payload for n in listener.notifies(timeout=0.5)]
    assert sorted(got) == ["bulk-a", "bulk-b", "bulk-c"]


def test_ten_thousand_jobs_in_one_batch_keep_their_order(store: Store) -> None:
    n = 10_000
    inserted = store.insert_jobs([new_job(args={"i": i}) for i in range(n)])
    ids = [i.id for i in inserted]
    assert len(set(ids)) == n
    assert ids == sorted(ids)
    assert store.count_jobs(JobFilter()) == n
    first = claim(store, limit=5)
    assert [j.id for j in first] == ids[:5]
    assert [json.loads(j.args_json)["i"] for j in first] == [0, 1, 2, 3, 4]


def test_a_long_batch_mixing_unique_and_plain_jobs(store: Store) -> None:
    jobs = [new_job(args={"i": i}) for i in range(LONG)]
    jobs[3] = dataclasses.replace(jobs[3], unique_key="bulk:one")
    jobs[7] = dataclasses.replace(jobs[7], unique_key="bulk:one")  # held by jobs[3]
    jobs[9] = dataclasses.replace(jobs[9], unique_key="bulk:two")
    inserted = store.insert_jobs(jobs)
    assert [i.duplicate for i in inserted].count(True) == 1
    assert inserted[7].duplicate and inserted[7].id == inserted[3].id
    written = [i.id for i in inserted if not i.duplicate]
    assert written == sorted(written)
    assert store.count_jobs(JobFilter()) == LONG - 1


def _connection(store: Store) -> Any:
    if isinstance(store, SQLiteStore):
        return sqlite3.connect(store.path, isolation_level="")
    assert isinstance(store, PostgresStore)
    return psycopg.connect(store.url, autocommit=False)


def test_a_long_batch_in_the_callers_transaction_is_all_or_nothing(store: Store) -> None:
    conn = _connection(store)
    try:
        store.insert_jobs_in(conn, [new_job(args={"i": i}) for i in range(LONG)])
        conn.rollback()
        assert store.count_jobs(JobFilter()) == 0
        kept = store.insert_jobs_in(conn, [new_job(args={"i": i}) for i in range(LONG)])
        assert store.count_jobs(JobFilter()) == 0  # not committed yet
        conn.commit()
    finally:
        conn.close()
    assert store.count_jobs(JobFilter()) == LONG
    assert [j.id for j in claim(store, limit=3)] == [k.id for k in kept[:3]]


def test_the_async_store_inserts_a_long_batch(store: Store) -> None:
    now = store.now()
    jobs = [varied(i, now) for i in range(LONG)]

    async def scenario() -> list[int]:
        astore = open_async_store(store)
        try:
            return [i.id for i in await astore.insert_jobs(jobs, now=now)]
        finally:
            await astore.release()

    ids = asyncio.run(scenario())
    assert ids == sorted(ids)
    assert len(set(ids)) == LONG
    assert [stored(store, i)["queue"] for i in ids[:3]] == ["bulk-a", "bulk-b", "bulk-c"]
