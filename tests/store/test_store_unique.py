"""Conformance: unique keys. A held key makes an insert a duplicate that writes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from store_helpers import claim_one, complete, insert_one, new_job, wait_until

from conveyor.models import JobState
from conveyor.store import Store, open_async_store
from conveyor.store.postgres import PostgresStore
from conveyor.store.protocol import (
    CompletionKind,
    ErrorInfo,
    InsertedJob,
    JobFilter,
    NewJob,
    Retention,
)
from conveyor.store.sqlite import SQLiteStore

FOREVER = -1.0


def keyed(key: str, unique_for: float | None = None, **kwargs: Any) -> NewJob:
    """A job holding ``key``, kept ``unique_for`` seconds after success."""
    return replace(new_job(unique_key=key, **kwargs), unique_for=unique_for)


def put(store: Store, *jobs: NewJob) -> list[InsertedJob]:
    return store.insert_jobs(list(jobs))


def count(store: Store) -> int:
    return store.count_jobs(JobFilter())


def succeed(store: Store, job_id: int) -> None:
    job = claim_one(store)
    assert job.id == job_id
    assert complete(store, job, result="ok")


def test_duplicate_while_active_returns_the_holder_and_writes_nothing(store: Store) -> None:
    [first] = put(store, keyed("charge:1"))
    assert not first.duplicate and first.state is JobState.QUEUED
    [again] = put(store, keyed("charge:1"))
    assert again == InsertedJob(
        id=first.id,
        state=JobState.QUEUED,
        duplicate=True,
        held_until=None,
        name=new_job().name,
        created_at=first.created_at,
    )
    assert count(store) == 1

    running = claim_one(store)
    [while_running] = put(store, keyed("charge:1"))
    assert (while_running.id, while_running.state) == (first.id, JobState.RUNNING)

    assert complete(
        store, running, CompletionKind.RETRY, retry_delay=3600, error=ErrorInfo("E", "boom")
    )
    [while_retrying] = put(store, keyed("charge:1"))
    assert (while_retrying.id, while_retrying.state) == (first.id, JobState.RETRYING)
    assert while_retrying.duplicate and while_retrying.held_until is None
    assert count(store) == 1


def test_a_scheduled_job_holds_its_key(store: Store) -> None:
    [first] = put(store, keyed("report:7", delay=3600))
    [again] = put(store, keyed("report:7"))
    assert (again.id, again.state, again.duplicate) == (first.id, JobState.SCHEDULED, True)


def test_other_keys_and_unkeyed_jobs_are_not_duplicates(store: Store) -> None:
    results = put(store, keyed("a"), keyed("b"), new_job(), new_job())
    assert [r.duplicate for r in results] == [False] * 4
    assert len({r.id for r in results}) == 4


def test_keys_are_shared_by_every_job_type(store: Store) -> None:
    [first] = put(store, keyed("user:1", name="send_email"))
    [other] = put(store, keyed("user:1", name="resize"))
    assert (other.id, other.duplicate, other.name) == (first.id, True, "send_email")


def test_after_success_without_a_window_the_key_is_free(store: Store) -> None:
    [first] = put(store, keyed("charge:2"))
    succeed(store, first.id)
    [second] = put(store, keyed("charge:2"))
    assert not second.duplicate and second.id != first.id
    assert count(store) == 2


def test_a_window_holds_the_key_after_success_until_it_passes(store: Store) -> None:
    [first] = put(store, keyed("digest:1", unique_for=1.0))
    succeed(store, first.id)
    job = store.get_job(first.id)
    assert job is not None and job.finished_at is not None
    [again] = put(store, keyed("digest:1", unique_for=1.0))
    assert (again.id, again.state, again.duplicate) == (first.id, JobState.SUCCEEDED, True)
    assert again.held_until == pytest.approx(job.finished_at + 1.0, abs=0.01)
    assert count(store) == 1

    wait_until(lambda: store.now() > job.finished_at + 1.05, timeout=10)  # type: ignore[operator]
    [later] = put(store, keyed("digest:1", unique_for=1.0))
    assert not later.duplicate and later.id != first.id


def test_forever_holds_the_key_as_long_as_the_job_exists(store: Store) -> None:
    [first] = put(store, keyed("welcome:9", unique_for=FOREVER))
    succeed(store, first.id)
    [again] = put(store, keyed("welcome:9"))
    assert (again.id, again.state, again.duplicate) == (first.id, JobState.SUCCEEDED, True)
    assert again.held_until is None
    # Deleting the job (an operator's discard) is what ends a forever hold.
    assert store.discard_jobs(JobFilter(ids=(first.id,))) == 1
    [after] = put(store, keyed("welcome:9"))
    assert not after.duplicate


def test_dead_and_cancelled_jobs_release_the_key_at_once(store: Store) -> None:
    [dead] = put(store, keyed("k:dead", unique_for=FOREVER, max_attempts=1))
    assert complete(store, claim_one(store), CompletionKind.DEAD, error=ErrorInfo("E", "x"))
    [cancelled] = put(store, keyed("k:cancel", unique_for=FOREVER))
    assert store.cancel_jobs(JobFilter(ids=(cancelled.id,))) == [cancelled.id]

    fresh = put(store, keyed("k:dead"), keyed("k:cancel"))
    assert [r.duplicate for r in fresh] == [False, False]
    assert {r.id for r in fresh}.isdisjoint({dead.id, cancelled.id})


def test_replaying_a_dead_job_does_not_check_its_key(store: Store) -> None:
    [dead] = put(store, keyed("k:replay", max_attempts=1))
    assert complete(store, claim_one(store), CompletionKind.DEAD, error=ErrorInfo("E", "x"))
    [newer] = put(store, keyed("k:replay"))
    assert not newer.duplicate
    assert store.retry_jobs(JobFilter(ids=(dead.id,))) == [dead.id]
    [dup] = put(store, keyed("k:replay"))
    assert dup.duplicate and dup.id in {dead.id, newer.id}


def test_in_batch_duplicates_answer_with_the_earlier_job(store: Store) -> None:
    results = put(store, keyed("a"), keyed("b"), keyed("a"), new_job(), keyed("b"), keyed("a"))
    ids = [r.id for r in results]
    assert [r.duplicate for r in results] == [False, False, True, False, True, True]
    assert ids[2] == ids[5] == ids[0] and ids[4] == ids[1]
    assert ids[0] < ids[1] < ids[3]  # written rows keep the input order
    assert count(store) == 3
    assert all(r.state is JobState.QUEUED for r in results)


def test_a_batch_mixing_held_new_and_unkeyed_jobs(store: Store) -> None:
    [held] = put(store, keyed("held"))
    results = put(store, new_job(), keyed("held"), keyed("new"), new_job(name="report"))
    assert [r.duplicate for r in results] == [False, True, False, False]
    assert results[1].id == held.id
    written = [results[0].id, results[2].id, results[3].id]
    assert written == sorted(written) and held.id not in written
    assert count(store) == 4
    stored = {j.id: j for j in store.get_jobs(written)}
    assert stored[results[3].id].name == "report"


def test_a_batch_where_every_key_is_held_writes_nothing(store: Store) -> None:
    first = put(store, keyed("x"), keyed("y"))
    again = put(store, keyed("y"), keyed("x"), keyed("y"))
    assert [r.id for r in again] == [first[1].id, first[0].id, first[1].id]
    assert all(r.duplicate for r in again)
    assert count(store) == 2


def test_prune_keeps_succeeded_jobs_still_holding_their_key(store: Store) -> None:
    plain = insert_one(store)
    [released] = put(store, keyed("p:released"))
    [window] = put(store, keyed("p:window", unique_for=3600))
    [short] = put(store, keyed("p:short", unique_for=0.3))
    [forever] = put(store, keyed("p:forever", unique_for=FOREVER))
    for job_id in (plain, released.id, window.id, short.id, forever.id):
        succeed(store, job_id)
    finished = max(j.finished_at or 0.0 for j in store.list_jobs(JobFilter()))
    wait_until(lambda: store.now() > finished + 0.4)

    assert store.prune(Retention(succeeded=0)) == 3
    assert {j.id for j in store.list_jobs(JobFilter())} == {window.id, forever.id}
    assert [r.id for r in put(store, keyed("p:window"), keyed("p:forever"))] == [
        window.id,
        forever.id,
    ]


# -- inside the caller's transaction ------------------------------------------------------------


def _raw_connection(store: Store, *, autocommit: bool) -> Any:
    if isinstance(store, SQLiteStore):
        return sqlite3.connect(store.path, isolation_level=None if autocommit else "")
    assert isinstance(store, PostgresStore)
    return psycopg.connect(store.url, autocommit=autocommit)


def test_insert_in_the_callers_transaction_checks_and_holds_the_key(store: Store) -> None:
    conn = _raw_connection(store, autocommit=False)
    try:
        [first] = store.insert_jobs_in(conn, [keyed("tx:1")])
        [again] = store.insert_jobs_in(conn, [keyed("tx:1")])
        assert (again.id, again.duplicate) == (first.id, True)
        conn.rollback()  # the key is free again: nothing was committed
        [kept] = store.insert_jobs_in(conn, [keyed("tx:1")])
        assert not kept.duplicate
        conn.commit()
    finally:
        conn.close()
    [outside] = put(store, keyed("tx:1"))
    assert (outside.id, outside.duplicate) == (kept.id, True)
    assert count(store) == 1


def test_insert_on_an_autocommit_connection_with_unique_keys(store: Store) -> None:
    conn = _raw_connection(store, autocommit=True)
    try:
        results = store.insert_jobs_in(conn, [keyed("ac:1"), new_job(), keyed("ac:1")])
        assert [r.duplicate for r in results] == [False, False, True]
        [again] = store.insert_jobs_in(conn, [keyed("ac:1")])
        assert again.duplicate and again.id == results[0].id
    finally:
        conn.close()
    assert count(store) == 2


def test_held_unique_keys_names_the_keys_some_job_holds(store: Store) -> None:
    put(store, keyed("active"), keyed("done"), keyed("kept", unique_for=FOREVER))
    claimed = {c.id: c for c in (claim_one(store) for _ in range(3))}
    by_key = {j.unique_key: claimed[j.id] for j in store.get_jobs(list(claimed))}
    complete(store, by_key["done"], CompletionKind.SUCCEEDED)
    complete(store, by_key["kept"], CompletionKind.SUCCEEDED)
    assert store.held_unique_keys(["active", "done", "kept", "never"]) == {"active", "kept"}
    assert store.held_unique_keys([]) == frozenset()

    async def from_async() -> frozenset[str]:
        astore = open_async_store(store)
        try:
            return await astore.held_unique_keys(["active", "done"])
        finally:
            await astore.release()

    assert asyncio.run(from_async()) == {"active"}
