"""Conformance: job ids are never handed out twice, and a handle reads only its own job.

A handle names a job by its id and its creation time; when the row with that id is another job
(an id handed out again after a rolled-back enqueue, or a row replaced behind the store's back)
the handle refuses with :class:`JobReplacedError` instead of answering for the other job.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from store_helpers import claim_one, complete, insert_one

from conveyor import Conveyor, JobNotFoundError, JobReplacedError
from conveyor._handle import JobHandle
from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.protocol import JobFilter, Retention
from conveyor.store.sqlite import SQLiteStore


def finish(store: Store, job_id: int, result: object = "done") -> None:
    """Claim ``job_id`` (the only ready job) and complete it with ``result``."""
    job = claim_one(store)
    assert job.id == job_id
    assert complete(store, job, result=result)


@pytest.fixture
def app(store_url: str, store: Store) -> Iterator[Conveyor]:
    """An app on the test's (migrated) database with two job types, one of them unique."""
    conveyor = Conveyor(store_url)

    @conveyor.job(name="send_email", queue="default")
    def send_email(ctx: object, to: str) -> str:
        return to

    @conveyor.job(name="charge", queue="default", unique="charge:{account}")
    def charge(ctx: object, account: int) -> None:
        return None

    yield conveyor
    conveyor.close()


# -- ids ---------------------------------------------------------------------------------------


def test_discarding_the_newest_job_does_not_free_its_id(store: Store) -> None:
    first = insert_one(store)
    newest = insert_one(store)
    finish(store, first)
    finish(store, newest)
    assert store.discard_jobs(JobFilter(ids=(newest,))) == 1
    assert insert_one(store) > newest


def test_pruning_the_newest_job_does_not_free_its_id(store: Store) -> None:
    newest = insert_one(store)
    finish(store, newest)
    assert store.prune(Retention(succeeded=0.0)) >= 1
    assert store.get_job(newest) is None
    assert insert_one(store) > newest


# -- handles -----------------------------------------------------------------------------------


def _replace_row(store: Store, job_id: int) -> None:
    """Delete job ``job_id`` and write another, finished job under the same id, bypassing the
    store (its verbs never do this): what a handle sees when its id was handed out again."""
    if isinstance(store, SQLiteStore):
        conn = sqlite3.connect(store.path)
        try:
            with conn:
                conn.execute("DELETE FROM conveyor_jobs WHERE id = ?", (job_id,))
                now = time.time()
                conn.execute(
                    "INSERT INTO conveyor_jobs (id, queue, name, args, state, max_attempts, "
                    "run_at, created_at, finished_at, result) VALUES (?, 'default', 'resize', "
                    "'{}', 'succeeded', 1, ?, ?, ?, '\"not yours\"')",
                    (job_id, now, now + 1, now),
                )
        finally:
            conn.close()
        return
    url = getattr(store, "url", None)
    assert isinstance(url, str), f"no raw writer for {type(store)!r}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM conveyor_jobs WHERE id = %s", (job_id,))
        conn.execute(
            "INSERT INTO conveyor_jobs (id, queue, name, args, state, max_attempts, run_at, "
            "created_at, finished_at, result) OVERRIDING SYSTEM VALUE VALUES (%s, 'default', "
            "'resize', '{}', 'succeeded', 1, now(), now() + interval '1 second', now(), "
            "'\"not yours\"')",
            (job_id,),
        )


def test_a_handle_carries_its_jobs_creation_time(app: Conveyor) -> None:
    handle = app.get("send_email").enqueue(to="a@example.com")
    job = handle.refresh()
    assert handle.created_at == job.created_at
    assert app.handle(handle.id).created_at == job.created_at


def test_a_duplicate_handle_carries_its_holders_creation_time(app: Conveyor) -> None:
    first = app.get("charge").enqueue(account=7)
    again = app.get("charge").enqueue(account=7)
    assert again.duplicate
    assert again.created_at == first.created_at == first.refresh().created_at


def test_a_handle_refuses_a_row_that_is_another_job(app: Conveyor) -> None:
    handle = app.get("send_email").enqueue(to="a@example.com")
    _replace_row(app.store, handle.id)
    with pytest.raises(JobReplacedError) as caught:
        handle.result(timeout=5)
    message = str(caught.value)
    assert f"job {handle.id} is no longer the job this handle was given" in message
    assert "send_email" in message and "resize" in message
    assert "rolled back" in message
    with pytest.raises(JobReplacedError):
        handle.refresh()
    with pytest.raises(JobReplacedError):
        asyncio.run(_result_async(app, handle))


async def _result_async(app: Conveyor, handle: JobHandle[Any]) -> Any:
    """Read the result from async code as the docs say to: ``app.aclose()`` before the loop
    ends, so the loop's connection pool is not left to be cancelled half-open."""
    try:
        return await handle.result_async(timeout=5)
    finally:
        await app.aclose()


def test_a_replaced_job_is_still_a_missing_job(app: Conveyor) -> None:
    handle = app.get("send_email").enqueue(to="a@example.com")
    _replace_row(app.store, handle.id)
    with pytest.raises(JobNotFoundError):  # JobReplacedError is one
        handle.result(timeout=5)


def test_a_handle_built_without_a_creation_time_checks_the_id_alone(app: Conveyor) -> None:
    handle = app.get("send_email").enqueue(to="a@example.com")
    bare = JobHandle(app, handle.id, handle.name, handle.state)
    assert bare.refresh().id == handle.id


def _caller_connection(store: Store) -> tuple[object, str]:
    """A connection of the application's own to the store's database, and its kind."""
    if isinstance(store, SQLiteStore):
        return sqlite3.connect(store.path), "sqlite"
    url = getattr(store, "url", None)
    assert isinstance(url, str)
    return psycopg.connect(url), "postgres"


def test_a_handle_from_a_rolled_back_enqueue_never_reads_the_next_job(app: Conveyor) -> None:
    """The issue's case: on SQLite the next job took the rolled-back job's id, and the old
    handle's result() returned the new job's result."""
    conn, kind = _caller_connection(app.store)
    try:
        lost = app.get("send_email").enqueue(to="lost@example.com", connection=conn)
        conn.rollback()  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]
    kept = app.get("send_email").enqueue(to="kept@example.com")
    finish(app.store, kept.id, result="kept@example.com")
    assert kept.result(timeout=5) == "kept@example.com"
    with pytest.raises(JobNotFoundError) as caught:
        lost.result(timeout=5)
    if kept.id == lost.id:  # SQLite: a rolled-back id is free again (see docs)
        assert kind == "sqlite"
        assert isinstance(caught.value, JobReplacedError)
    assert app.store.get_job(kept.id) is not None
    assert app.store.get_job(kept.id).state is JobState.SUCCEEDED  # type: ignore[union-attr]
