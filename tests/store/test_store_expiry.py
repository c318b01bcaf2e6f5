"""Conformance: start deadlines (``expires_in`` / ``start_by``): no claim hands out a job past
its deadline, and ``cancel_expired`` ends such jobs as cancelled, never run late."""

from __future__ import annotations

from dataclasses import replace

from store_helpers import QUEUE, claim, claim_one, complete, insert, new_job
from test_store_limits import ALL_NAMES, claim_limited, limited_job

from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter, Replay

BOOM = ErrorInfo("ValueError", "boom")


def test_the_deadline_is_start_by_or_expires_in_after_the_job_is_due(store: Store) -> None:
    t = store.now()
    ids = insert(
        store,
        replace(new_job(), expires_in=600),
        replace(new_job(), delay=3600, expires_in=600),
        replace(new_job(), start_by=t + 90),
        new_job(),
    )
    by_id = {j.id: j for j in store.get_jobs(ids)}
    now_due, later, absolute, none = (by_id[i] for i in ids)
    assert now_due.expires_at is not None and abs(now_due.expires_at - now_due.run_at - 600) < 1e-3
    assert later.expires_at is not None and abs(later.expires_at - later.run_at - 600) < 1e-3
    assert later.run_at >= t + 3600
    assert absolute.expires_at is not None and abs(absolute.expires_at - (t + 90)) < 1e-3
    assert none.expires_at is None


def test_no_claim_hands_out_a_job_past_its_deadline(store: Store) -> None:
    t = store.now()
    [expiring] = insert(store, replace(new_job(), expires_in=60))
    [limited] = insert(store, replace(limited_job(), expires_in=60))
    late = t + 61
    assert claim(store, now=late, names=ALL_NAMES) == []
    assert claim_limited(store, now=late) == []
    assert store.next_due_in([QUEUE], ALL_NAMES, now=late) is None  # nothing to wait for
    # Before the deadline both are claimable, each by its own pass.
    assert [j.id for j in claim(store, now=t + 30)] == [expiring]
    assert [j.id for j in claim_limited(store, now=t + 30)] == [limited]


def test_cancel_expired_ends_waiting_jobs_as_cancelled_with_the_deadline(store: Store) -> None:
    t = store.now()
    ids = insert(
        store,
        replace(new_job(), expires_in=60),
        replace(new_job(), delay=120, expires_in=60),  # due later, so its deadline is later
        replace(new_job(), expires_in=60),  # will be running: it has started in time
        new_job(),
    )
    first, later, started, plain = ids
    failing = claim_one(store, now=t + 1)
    assert failing.id == first  # it fails, and waits to retry
    assert complete(store, failing, CompletionKind.RETRY, retry_delay=0, error=BOOM, now=t + 1)
    running = claim_one(store, now=t + 2)
    assert running.id == started
    assert store.cancel_expired(now=t + 30) == []
    assert store.cancel_expired(now=t + 61) == [first]
    assert store.cancel_expired(now=t + 181) == [later]
    assert store.cancel_expired(now=t + 181) == []  # final: a repeat changes nothing
    jobs = {j.id: j for j in store.get_jobs(ids)}
    assert jobs[first].state is JobState.CANCELLED
    assert jobs[first].error_type == "Expired"
    assert jobs[first].error_message is not None
    assert jobs[first].error_message.startswith("not started by its start deadline, ")
    assert jobs[first].error_message.endswith(" UTC; it was cancelled rather than run late")
    assert jobs[first].finished_at is not None
    assert jobs[later].state is JobState.CANCELLED
    assert jobs[started].state is JobState.RUNNING
    assert jobs[plain].state is JobState.QUEUED
    # A job that expired has no attempt of its own beyond those it ran in time.
    assert len(store.list_attempts(later)) == 0
    assert len(store.list_attempts(first)) == 1
    assert complete(store, running)  # the running one finishes normally


def test_a_deadline_message_names_the_deadline_in_utc(store: Store) -> None:
    [job_id] = insert(store, replace(new_job(), start_by=1_900_000_000.0))  # 2030-03-17
    assert store.cancel_expired(now=1_900_000_001.0) == [job_id]
    job = store.get_job(job_id)
    assert job is not None
    assert job.error_message == (
        "not started by its start deadline, 2030-03-17 17:46:40 UTC; it was cancelled rather "
        "than run late"
    )


def test_running_an_expired_job_again_drops_its_deadline(store: Store) -> None:
    t = store.now()
    [expired] = insert(store, replace(new_job(), start_by=t - 1))
    assert store.cancel_expired() == [expired]
    assert store.retry_jobs(JobFilter(ids=(expired,))) == [expired]
    job = store.get_job(expired)
    assert job is not None and (job.state, job.expires_at) == (JobState.QUEUED, None)
    assert store.cancel_expired() == []
    assert [j.id for j in claim(store)] == [expired]
    # A dead job replayed through the dead-letter queue (spread over time) drops it too.
    [dead] = insert(store, replace(new_job(), expires_in=3600))
    assert complete(store, claim_one(store), CompletionKind.DEAD, error=BOOM)
    assert store.retry_jobs(JobFilter(ids=(dead,)), replay=Replay(per_second=1)) == [dead]
    job = store.get_job(dead)
    assert job is not None and job.expires_at is None
