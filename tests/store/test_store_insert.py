"""Conformance: schema migration and inserting jobs (ids, states, fields, bulk, atomicity)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from store_helpers import claim, insert, new_job

from conveyor.errors import StoreError
from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.protocol import JobFilter


def test_store_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_migrate_is_idempotent_and_returns_the_version(store: Store) -> None:
    (job_id,) = insert(store)
    first = store.migrate()
    second = store.migrate()
    assert isinstance(first, int)
    assert first >= 1
    assert second == first
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED


def test_concurrent_migrations_of_a_fresh_database_agree(
    open_store_on: Callable[..., Store],
) -> None:
    stores = [open_store_on(migrate=False) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    versions: list[int] = []
    errors: list[BaseException] = []

    def run(s: Store) -> None:
        barrier.wait()
        try:
            versions.append(s.migrate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(versions) == 4
    assert len(set(versions)) == 1
    assert versions[0] >= 1
    assert insert(stores[0], new_job())[0] >= 1


def test_insert_nothing_returns_nothing(store: Store) -> None:
    assert store.insert_jobs([]) == []
    assert store.count_jobs(JobFilter()) == 0


def test_insert_returns_ids_in_input_order_with_queued_or_scheduled(store: Store) -> None:
    now = store.now()
    inserted = store.insert_jobs(
        [
            new_job(),
            new_job(delay=60),
            new_job(run_at=now - 10),
            new_job(run_at=now + 3600),
            new_job(delay=0.0),
        ]
    )
    ids = [i.id for i in inserted]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert [i.state for i in inserted] == [
        JobState.QUEUED,
        JobState.SCHEDULED,
        JobState.QUEUED,
        JobState.SCHEDULED,
        JobState.QUEUED,
    ]
    stored = {j.id: j.state for j in store.get_jobs(ids)}
    assert stored == {i.id: i.state for i in inserted}


def test_insert_stores_every_field(store: Store) -> None:
    before = store.now()
    (job_id,) = insert(
        store,
        new_job(
            "resize",
            "images",
            {"path": "a.png", "sizes": [1, 2], "opts": {"q": 0.5}, "note": "é"},
            max_attempts=7,
            priority=5,
            timeout=12.5,
            unique_key="resize:a.png",
            tenant="acme",
            meta={"trace": "abc"},
        ),
    )
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.id == job_id
    assert job.queue == "images"
    assert job.name == "resize"
    assert job.args == {"path": "a.png", "sizes": [1, 2], "opts": {"q": 0.5}, "note": "é"}
    assert job.state is JobState.QUEUED
    assert job.priority == 5
    assert job.attempt == 0
    assert job.max_attempts == 7
    assert job.timeout == 12.5
    assert job.unique_key == "resize:a.png"
    assert job.tenant == "acme"
    assert job.meta == {"trace": "abc"}
    assert before <= job.created_at <= after
    assert before <= job.run_at <= after
    assert job.started_at is None
    assert job.finished_at is None
    assert job.lease_until is None
    assert job.worker_id is None
    assert job.result is None
    assert job.progress is None
    assert job.error_type is None
    assert job.error_message is None


def test_insert_delay_sets_run_at_from_the_store_clock(store: Store) -> None:
    before = store.now()
    (job_id,) = insert(store, new_job(delay=90))
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.SCHEDULED
    assert before + 90 <= job.run_at <= after + 90


def test_insert_explicit_run_at_is_kept_exactly(store: Store) -> None:
    past = store.now() - 100.25
    future = store.now() + 500.5
    ids = insert(store, new_job(run_at=past), new_job(run_at=future))
    jobs = {j.id: j for j in store.get_jobs(ids)}
    assert jobs[ids[0]].run_at == past
    assert jobs[ids[0]].state is JobState.QUEUED
    assert jobs[ids[1]].run_at == future
    assert jobs[ids[1]].state is JobState.SCHEDULED


def test_bulk_insert_of_1000_jobs_in_one_call(store: Store) -> None:
    jobs = [new_job(args={"n": n}) for n in range(1000)]
    inserted = store.insert_jobs(jobs)
    ids = [i.id for i in inserted]
    assert len(ids) == 1000
    assert ids == sorted(set(ids))
    assert {i.state for i in inserted} == {JobState.QUEUED}
    assert store.count_jobs(JobFilter()) == 1000
    assert store.count_jobs(JobFilter(states=(JobState.QUEUED,))) == 1000
    # Input order maps to ids: job n got the n-th id.
    sample = {j.id: j.args for j in store.get_jobs([ids[0], ids[500], ids[999]])}
    assert sample == {ids[0]: {"n": 0}, ids[500]: {"n": 500}, ids[999]: {"n": 999}}


def test_insert_is_all_or_nothing(store: Store) -> None:
    good = new_job()
    bad = dataclasses.replace(new_job(), args_json=None)  # violates NOT NULL at the database
    with pytest.raises(StoreError, match="nothing was changed"):
        store.insert_jobs([good, good, bad])
    assert store.count_jobs(JobFilter()) == 0
    assert claim(store) == []
