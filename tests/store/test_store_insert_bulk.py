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
from conveyor.store.protocol import JobBatch, JobFilter, NewJob
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


# -- JobBatch: one template, many arguments (decision 124) ---------------------------------------

ODD_ARGS: list[dict[str, Any]] = [
    {"i": 0, "text": "tab\there\tnewline\nreturn\r back\\slash \\N \\. quote\" end\\"},
    {"i": 1, "text": "unicode é ü ß 漢字 \u2028 \U0001f680", "empty": ""},
    {"i": 2, "big": 2**70, "neg": -(2**63), "float": -0.1, "tiny": 5e-324},
    {"i": 3, "nested": {"a": [1, {"b": [None, True, False, {"c": "d\te"}]}], "e": {}}},
    {"i": 4, "none": None, "list": [], "ctl": "\x01\x1f\x7f"},
]
"""Arguments whose text a COPY could mangle: every escape of the text format, multi-byte
UTF-8, integers past 64 bits, deep nesting (NUL-free: PostgreSQL's text cannot hold NUL)."""


def batch_templates(now: float) -> list[NewJob]:
    """Templates covering the shared columns: defaults, a scheduled job with every optional
    column set, a delayed one with a relative deadline, and an absolute deadline."""
    plain = new_job(queue="batch", name="batch.plain")
    full = dataclasses.replace(
        new_job(
            queue="batch-é",
            name="batch.full\tname",
            priority=-3,
            max_attempts=9,
            run_at=now + 3600.123456,
            timeout=2.5,
            tenant="tenant \\ é\n",
            meta={"headers": {"k": "v\tw"}, "x": "漢字"},
        ),
        limit_key="lk é",
        limit_max=3,
        rate_key="rk",
        rate_max=2**31 - 1,
        rate_per=0.25,
        expires_in=60.0,
    )
    delayed = dataclasses.replace(new_job(queue="batch", delay=90.5), expires_in=30.0)
    deadline = dataclasses.replace(new_job(queue="batch"), start_by=now + 7200.5)
    return [plain, full, delayed, deadline]


def odd_batch(template: NewJob, n: int = LONG) -> JobBatch:
    """``n`` jobs of ``template``, cycling through :data:`ODD_ARGS`."""
    args = [json.dumps(ODD_ARGS[i % len(ODD_ARGS)] | {"i": i}, ensure_ascii=False)
            for i in range(n)]
    return JobBatch(template, args)


@pytest.mark.parametrize("shape", range(4), ids=["plain", "full", "delayed", "deadline"])
def test_a_job_batch_stores_what_the_list_of_its_jobs_stores(store: Store, shape: int) -> None:
    now = store.now()
    batch = odd_batch(batch_templates(now)[shape])
    as_batch = store.insert_jobs(batch, now=now)
    as_list = store.insert_jobs(list(batch), now=now)
    assert [i.id for i in as_batch] == sorted(i.id for i in as_batch)
    assert [i.state for i in as_batch] == [i.state for i in as_list]
    assert [i.created_at for i in as_batch] == [i.created_at for i in as_list]
    for b, s, job in zip(as_batch, as_list, batch, strict=True):
        written = stored(store, b.id)
        assert written == stored(store, s.id)
        assert written["args"] == json.loads(job.args_json)


def test_a_short_job_batch_and_a_long_one_store_alike(store: Store) -> None:
    # Short batches take the INSERT (and SQLite reads every batch as its jobs).
    now = store.now()
    template = batch_templates(now)[1]
    short = store.insert_jobs(odd_batch(template, 7), now=now)
    long = store.insert_jobs(odd_batch(template), now=now)
    for s, lg in zip(short, long[:7], strict=True):
        assert stored(store, s.id) == stored(store, lg.id)


def test_the_async_store_inserts_a_job_batch(store: Store) -> None:
    now = store.now()
    batch = odd_batch(batch_templates(now)[1])

    async def scenario() -> list[int]:
        astore = open_async_store(store)
        try:
            return [i.id for i in await astore.insert_jobs(batch, now=now)]
        finally:
            await astore.release()

    ids = asyncio.run(scenario())
    assert ids == sorted(ids) and len(set(ids)) == LONG
    assert [stored(store, i)["args"] for i in ids[:5]] == [
        json.loads(job.args_json) for job in batch[:5]
    ]


def test_a_job_batch_in_the_callers_transaction_is_all_or_nothing(store: Store) -> None:
    conn = _connection(store)
    try:
        store.insert_jobs_in(conn, odd_batch(new_job()))
        conn.rollback()
        assert store.count_jobs(JobFilter()) == 0
    finally:
        conn.close()


def test_a_job_batch_of_unique_jobs_takes_the_unique_path(store: Store) -> None:
    # Every job of a batch shares its template's key: the first is written, the rest are
    # duplicates of it, as for the same jobs in a list.
    inserted = store.insert_jobs(odd_batch(new_job(unique_key="batch:one")))
    assert [i.duplicate for i in inserted].count(False) == 1
    assert {i.id for i in inserted} == {inserted[0].id}
    assert store.count_jobs(JobFilter()) == 1


def test_enqueue_many_through_the_app_writes_a_batch_sync_and_async(store_url: str) -> None:
    from conveyor import Conveyor, JobState

    app = Conveyor(store_url)
    try:

        @app.job(name="batch.app", queue="batch")
        def handler(ctx: object, i: int, text: str = "") -> None:
            """Nothing."""

        calls = [{"i": i, "text": ODD_ARGS[i % len(ODD_ARGS)].get("text", "")}
                 for i in range(LONG)]
        handles = handler.enqueue_many(calls, delay=3600)
        more = asyncio.run(handler.enqueue_many_async(calls))
        assert {h.state for h in handles} == {JobState.SCHEDULED}
        assert {h.state for h in more} == {JobState.QUEUED}
        assert all(h.name == "batch.app" and h.created_at is not None for h in handles + more)
        ids = [h.id for h in handles + more]
        assert ids == sorted(ids) and len(set(ids)) == 2 * LONG
        for index in (0, 1, LONG - 1):
            assert handles[index].refresh().args == calls[index]
            assert more[index].refresh().args == calls[index]
    finally:
        app.close()
