"""Conformance: claiming jobs (selection, order, scheduling, lease and token bookkeeping)."""

from __future__ import annotations

import json

from store_helpers import (
    LEASE,
    QUEUE,
    WORKER,
    claim,
    claim_one,
    complete,
    insert,
    insert_one,
    new_job,
    wait_until,
)

from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind


def test_claim_from_an_empty_store_returns_nothing(store: Store) -> None:
    assert claim(store) == []


def test_claim_respects_limit(store: Store) -> None:
    insert(store, *[new_job() for _ in range(5)])
    assert len(claim(store, limit=2)) == 2
    assert len(claim(store, limit=2)) == 2
    assert len(claim(store, limit=2)) == 1
    assert claim(store, limit=2) == []


def test_claim_with_zero_limit_or_no_queues_or_names_claims_nothing(store: Store) -> None:
    (job_id,) = insert(store)
    assert claim(store, limit=0) == []
    assert claim(store, queues=()) == []
    assert claim(store, names=()) == []
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED
    assert job.attempt == 0


def test_claim_only_from_the_given_queues(store: Store) -> None:
    a = insert_one(store, queue="a")
    b = insert_one(store, queue="b")
    c = insert_one(store, queue="c")
    claimed = claim(store, queues=("a", "b"))
    assert sorted(j.id for j in claimed) == [a, b]
    assert {j.queue for j in claimed} == {"a", "b"}
    left = store.get_job(c)
    assert left is not None
    assert left.state is JobState.QUEUED
    assert claim(store, queues=("a", "b")) == []
    assert [j.id for j in claim(store, queues=("c",))] == [c]


def test_a_job_whose_name_is_not_wanted_is_never_claimed(store: Store) -> None:
    wanted = insert_one(store, name="resize")
    unwanted = insert_one(store, name="report")
    assert [j.id for j in claim(store, names=("resize",))] == [wanted]
    for _ in range(3):
        assert claim(store, names=("resize", "send_email")) == []
    job = store.get_job(unwanted)
    assert job is not None
    assert job.state is JobState.QUEUED
    assert job.attempt == 0
    assert job.worker_id is None


def test_claim_order_is_priority_then_run_at_then_id(store: Store) -> None:
    now = store.now()
    low = insert_one(store, priority=-1)
    mid_late = insert_one(store, priority=0, run_at=now - 10)
    high_first = insert_one(store, priority=5, run_at=now - 5)
    mid_early = insert_one(store, priority=0, run_at=now - 100)
    high_second = insert_one(store, priority=5, run_at=now - 5)
    expected = [high_first, high_second, mid_early, mid_late, low]
    one_by_one = [claim_one(store).id for _ in range(5)]
    assert one_by_one == expected


def test_a_batch_claim_returns_jobs_in_claim_order(store: Store) -> None:
    now = store.now()
    low = insert_one(store, priority=-3)
    same_run_at = now - 7
    tie_a = insert_one(store, priority=2, run_at=same_run_at)
    tie_b = insert_one(store, priority=2, run_at=same_run_at)
    top = insert_one(store, priority=9)
    older = insert_one(store, priority=2, run_at=now - 60)
    claimed = claim(store, limit=10)
    assert [j.id for j in claimed] == [top, older, tie_a, tie_b, low]


def test_a_limited_batch_claim_takes_the_highest_priority(store: Store) -> None:
    ids = insert(store, *[new_job(priority=p) for p in (0, 3, 1, 3, 2)])
    claimed = claim(store, limit=3)
    assert [j.id for j in claimed] == [ids[1], ids[3], ids[4]]
    assert sorted(j.priority for j in claim(store)) == [0, 1]


def test_claim_skips_jobs_whose_run_at_is_in_the_future(store: Store) -> None:
    later = insert_one(store, delay=3600)
    future = insert_one(store, run_at=store.now() + 3600)
    now = insert_one(store)
    assert [j.id for j in claim(store)] == [now]
    assert claim(store) == []
    states = {j.id: j.state for j in store.get_jobs([later, future])}
    assert states == {later: JobState.SCHEDULED, future: JobState.SCHEDULED}


def test_a_job_with_run_at_in_the_past_is_claimable_at_once(store: Store) -> None:
    job_id = insert_one(store, run_at=store.now() - 1)
    assert [j.id for j in claim(store)] == [job_id]


def test_a_scheduled_job_is_claimed_once_its_run_at_passes(store: Store) -> None:
    job_id = insert_one(store, delay=0.2)
    assert claim(store) == []
    claimed = wait_until(lambda: claim(store), timeout=5.0, interval=0.02)
    assert [j.id for j in claimed] == [job_id]
    assert claimed[0].attempt == 1
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.RUNNING
    assert job.started_at is not None
    assert job.started_at >= job.run_at


def test_claim_marks_the_job_running_under_a_fresh_lease(store: Store) -> None:
    (job_id,) = insert(
        store,
        new_job(
            "report",
            args={"day": "2024-01-02"},
            max_attempts=4,
            priority=3,
            timeout=9.5,
            meta={"k": "v"},
        ),
    )
    created = store.get_job(job_id)
    assert created is not None
    before = store.now()
    (claimed,) = claim(store, lease=LEASE, worker="w-7")
    after = store.now()
    assert claimed.id == job_id
    assert claimed.queue == QUEUE
    assert claimed.name == "report"
    assert json.loads(claimed.args_json) == {"day": "2024-01-02"}
    assert claimed.attempt == 1
    assert claimed.max_attempts == 4
    assert claimed.priority == 3
    assert claimed.timeout == 9.5
    assert json.loads(claimed.meta_json) == {"k": "v"}
    assert claimed.created_at == created.created_at
    assert before <= claimed.started_at <= after
    assert before + LEASE <= claimed.lease_until <= after + LEASE
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.RUNNING
    assert job.worker_id == "w-7"
    assert job.attempt == 1
    assert job.lease_until == claimed.lease_until
    assert job.started_at == claimed.started_at


def test_each_claim_counts_an_attempt_and_issues_a_new_token(store: Store) -> None:
    job_id = insert_one(store)
    first = claim_one(store)
    assert complete(store, first, CompletionKind.RETRY, retry_delay=0)
    second = claim_one(store)
    assert second.id == job_id
    assert second.attempt == first.attempt + 1 == 2
    assert second.token != first.token
    assert complete(store, second, CompletionKind.RELEASED)
    third = claim_one(store)
    assert third.attempt == 2
    assert third.token not in (first.token, second.token)


def test_tokens_differ_between_jobs_claimed_by_different_workers(store: Store) -> None:
    insert(store, new_job(), new_job())
    a = claim_one(store, worker="a")
    b = claim_one(store, worker="b")
    assert a.id != b.id
    jobs = {j.id: j.worker_id for j in store.get_jobs([a.id, b.id])}
    assert jobs == {a.id: "a", b.id: "b"}


def test_two_claims_never_return_the_same_job(store: Store) -> None:
    ids = insert(store, *[new_job() for _ in range(7)])
    first = claim(store, limit=3, worker="a")
    second = claim(store, limit=3, worker="b")
    third = claim(store, limit=3, worker="c")
    got = [j.id for j in first + second + third]
    assert len(got) == 7
    assert sorted(got) == ids


def test_a_running_job_is_not_claimed_again(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store, lease=0.5)
    assert claimed.id == job_id
    assert claim(store) == []
    assert claim(store, worker="another") == []


def test_claim_spans_several_queues_in_one_call(store: Store) -> None:
    a = insert_one(store, queue="a")
    b = insert_one(store, queue="b")
    claimed = claim(store, queues=("a", "b"), limit=10)
    assert sorted(j.id for j in claimed) == [a, b]


def test_claim_records_the_worker_id(store: Store) -> None:
    job_id = insert_one(store)
    claim_one(store, worker=WORKER)
    job = store.get_job(job_id)
    assert job is not None
    assert job.worker_id == WORKER


def test_claim_across_queues_follows_priority_not_queue_order(store: Store) -> None:
    # The protocol orders a claim by priority, run_at, id; the queues list selects, it does
    # not rank. (A store that claimed queue by queue would hand out `low` first here.)
    low = insert_one(store, queue="bulk", priority=0, run_at=store.now() - 60)
    high = insert_one(store, queue="urgent", priority=10)
    claimed = claim(store, queues=("bulk", "urgent"), limit=1)
    assert [j.id for j in claimed] == [high]
    assert [j.id for j in claim(store, queues=("bulk", "urgent"), limit=1)] == [low]
