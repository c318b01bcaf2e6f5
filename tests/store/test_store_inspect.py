"""Conformance: reading jobs back (get, list with filters, count, pagination), queue stats,
next_due_in, and rows whose stored arguments are damaged."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from store_helpers import (
    NAMES,
    claim,
    claim_one,
    complete,
    insert,
    insert_one,
    lapse,
    new_job,
    wait_until,
)

from conveyor.models import JobState, QueueStats
from conveyor.store import Store
from conveyor.store.protocol import ClaimedJob, CompletionKind, ErrorInfo, JobFilter

# -- get ---------------------------------------------------------------------------------------


def test_get_job_of_an_unknown_id_is_none(store: Store) -> None:
    assert store.get_job(1) is None
    insert_one(store)
    assert store.get_job(999_999) is None


def test_get_jobs_skips_missing_ids(store: Store) -> None:
    a, b = insert(store, new_job(), new_job())
    assert store.get_jobs([]) == []
    found = store.get_jobs([b, 999_999, a])
    assert sorted(j.id for j in found) == [a, b]


# -- list and count ----------------------------------------------------------------------------


@pytest.fixture
def mixed(store: Store) -> dict[str, int]:
    """One job in each interesting state, in two queues and three names."""
    ids = {
        "queued": insert_one(store, queue="q1", name="send_email"),
        "scheduled": insert_one(store, queue="q1", name="resize", delay=3600),
        "running": insert_one(store, queue="q2", name="report"),
        "retrying": insert_one(store, queue="q2", name="report"),
        "dead": insert_one(store, queue="q1", name="resize"),
        "succeeded": insert_one(store, queue="q2", name="send_email"),
    }
    by_id = {j.id: j for j in claim(store, queues=("q1", "q2"))}
    assert set(by_id) == {
        ids["queued"],
        ids["running"],
        ids["retrying"],
        ids["dead"],
        ids["succeeded"],
    }
    assert complete(store, by_id[ids["queued"]], CompletionKind.RELEASED)
    assert complete(
        store,
        by_id[ids["retrying"]],
        CompletionKind.RETRY,
        retry_delay=3600,
        error=ErrorInfo("TimeoutError", "slow"),
    )
    assert complete(
        store, by_id[ids["dead"]], CompletionKind.DEAD, error=ErrorInfo("KeyError", "'x'")
    )
    assert complete(store, by_id[ids["succeeded"]], result="ok")
    return ids


def _ids(store: Store, **kwargs: object) -> list[int]:
    return [j.id for j in store.list_jobs(JobFilter(**kwargs))]


def test_list_jobs_is_newest_first(store: Store, mixed: dict[str, int]) -> None:
    assert _ids(store) == sorted(mixed.values(), reverse=True)
    assert store.count_jobs(JobFilter()) == 6


def test_list_and_count_by_state(store: Store, mixed: dict[str, int]) -> None:
    for state in JobState:
        expected = [mixed[str(state)]] if str(state) in mixed else []
        assert _ids(store, states=(state,)) == expected
        assert store.count_jobs(JobFilter(states=(state,))) == len(expected)
    both = (JobState.DEAD, JobState.SUCCEEDED)
    assert _ids(store, states=both) == sorted([mixed["dead"], mixed["succeeded"]], reverse=True)
    assert store.count_jobs(JobFilter(states=both)) == 2


def test_list_and_count_by_queue_and_name(store: Store, mixed: dict[str, int]) -> None:
    q1 = sorted([mixed["queued"], mixed["scheduled"], mixed["dead"]], reverse=True)
    assert _ids(store, queue="q1") == q1
    assert store.count_jobs(JobFilter(queue="q1")) == 3
    assert _ids(store, name="report") == sorted([mixed["running"], mixed["retrying"]], reverse=True)
    assert _ids(store, queue="q1", name="resize") == sorted(
        [mixed["scheduled"], mixed["dead"]], reverse=True
    )
    assert _ids(store, queue="nope") == []
    assert store.count_jobs(JobFilter(queue="nope")) == 0


def test_list_and_count_by_error_type(store: Store, mixed: dict[str, int]) -> None:
    assert _ids(store, error_type="KeyError") == [mixed["dead"]]
    assert _ids(store, error_type="TimeoutError") == [mixed["retrying"]]
    assert store.count_jobs(JobFilter(error_type="KeyError", states=(JobState.DEAD,))) == 1
    assert _ids(store, error_type="KeyError", states=(JobState.RETRYING,)) == []


def test_list_and_count_by_ids(store: Store, mixed: dict[str, int]) -> None:
    wanted = (mixed["dead"], mixed["queued"], 999_999)
    assert _ids(store, ids=wanted) == sorted([mixed["dead"], mixed["queued"]], reverse=True)
    assert store.count_jobs(JobFilter(ids=wanted)) == 2


def test_limit_caps_the_list_but_not_the_count(store: Store, mixed: dict[str, int]) -> None:
    assert _ids(store, limit=2) == sorted(mixed.values(), reverse=True)[:2]
    assert store.count_jobs(JobFilter(limit=2)) == 6


def test_before_id_pages_through_jobs_newest_first(store: Store) -> None:
    ids = insert(store, *[new_job(args={"n": n}) for n in range(25)])
    pages: list[list[int]] = []
    before: int | None = None
    while True:
        page = _ids(store, limit=10, before_id=before)
        if not page:
            break
        pages.append(page)
        before = page[-1]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in p] == sorted(ids, reverse=True)
    assert store.count_jobs(JobFilter(before_id=ids[5], limit=1)) == 25


def test_before_id_combines_with_other_filters(store: Store) -> None:
    ids = insert(store, *[new_job(queue="a" if n % 2 else "b") for n in range(10)])
    a_ids = sorted((i for n, i in enumerate(ids) if n % 2), reverse=True)
    assert _ids(store, queue="a", before_id=a_ids[1], limit=2) == a_ids[2:4]


def test_older_than_and_newer_than_use_the_job_age(store: Store) -> None:
    old = insert_one(store)
    old_job = store.get_job(old)
    assert old_job is not None
    wait_until(lambda: store.now() > old_job.created_at + 0.4)
    new = insert_one(store)
    new_job_ = store.get_job(new)
    assert new_job_ is not None
    # An age threshold halfway between the two creation times splits them.
    split = store.now() - (old_job.created_at + new_job_.created_at) / 2
    assert _ids(store, newer_than=split) == [new]
    assert _ids(store, older_than=split) == [old]
    assert store.count_jobs(JobFilter(older_than=split)) == 1
    assert store.count_jobs(JobFilter(newer_than=3600)) == 2
    assert _ids(store, older_than=3600) == []


def test_an_unfiltered_count_of_an_empty_store_is_zero(store: Store) -> None:
    assert store.count_jobs(JobFilter()) == 0
    assert store.list_jobs(JobFilter()) == []


# -- queue stats -------------------------------------------------------------------------------


def test_queue_stats_of_an_empty_store_is_empty(store: Store) -> None:
    assert store.queue_stats() == []


def test_queue_stats_counts_each_kind_of_job(store: Store) -> None:
    now = store.now()
    q = "stats"
    insert_one(store, queue=q, name="a")  # queued
    insert_one(store, queue=q, name="a", run_at=now - 100)  # queued, the oldest head
    insert_one(store, queue=q, name="b", delay=3600)  # scheduled, future
    due_id = insert_one(store, queue=q, name="c", delay=0.05)  # scheduled, then due
    for name in ("run", "retry_later", "retry_now", "dead", "ok", "lost"):
        insert_one(store, queue=q, name=name)
    insert_one(store, queue="other", name="a")

    def take(name: str, lease: float = 30.0) -> ClaimedJob:
        return claim_one(store, queues=(q,), names=(name,), lease=lease)

    take("run")
    assert complete(store, take("retry_later"), CompletionKind.RETRY, retry_delay=3600)
    assert complete(store, take("retry_now"), CompletionKind.RETRY, retry_delay=0)
    assert complete(store, take("dead"), CompletionKind.DEAD)
    assert complete(store, take("ok"), result=1)
    lost = take("lost", lease=0.05)
    lapse(store, lost)
    assert len(store.rescue_expired()) == 1
    wait_until(lambda: _due(store, due_id))

    stats = {s.queue: s for s in store.queue_stats()}
    assert sorted(stats) == ["other", "stats"]
    s = stats[q]
    assert isinstance(s, QueueStats)
    # Ready now: 2 queued + the due scheduled job + the due retry + the rescued one.
    assert s.queued == 5
    assert s.scheduled == 1
    assert s.running == 1
    assert s.retrying == 1
    assert s.dead == 1
    assert s.succeeded_last_hour == 1
    # failed (retry later), failed (retry now), dead, lost.
    assert s.failed_last_hour == 4
    assert s.oldest_queued_age is not None
    assert 100 <= s.oldest_queued_age < 160
    assert s.waiting_names == ("a", "c", "lost", "retry_now")
    o = stats["other"]
    assert (o.queued, o.scheduled, o.running, o.retrying, o.dead) == (1, 0, 0, 0, 0)
    assert o.waiting_names == ("a",)
    assert o.failed_last_hour == 0
    assert o.succeeded_last_hour == 0


def _due(store: Store, job_id: int) -> bool:
    job = store.get_job(job_id)
    return job is not None and job.run_at <= store.now()


def test_queue_stats_of_a_queue_with_nothing_ready(store: Store) -> None:
    insert_one(store, queue="later", delay=3600)
    (s,) = store.queue_stats()
    assert s.queue == "later"
    assert (s.queued, s.scheduled) == (0, 1)
    assert s.oldest_queued_age is None
    assert s.waiting_names == ()


# -- next_due_in -------------------------------------------------------------------------------


def test_next_due_in_is_none_without_pending_jobs(store: Store) -> None:
    assert store.next_due_in(["default"], list(NAMES)) is None
    insert_one(store)
    assert complete(store, claim_one(store))
    assert store.next_due_in(["default"], list(NAMES)) is None


def test_next_due_in_is_zero_when_a_job_is_ready(store: Store) -> None:
    insert_one(store, run_at=store.now() - 50)
    insert_one(store, delay=100)
    assert store.next_due_in(["default"], list(NAMES)) == 0


def test_next_due_in_is_the_delay_of_a_scheduled_job(store: Store) -> None:
    insert_one(store, delay=30)
    insert_one(store, delay=90)
    due = store.next_due_in(["default"], list(NAMES))
    assert due is not None
    assert 29 < due <= 30


def test_next_due_in_counts_a_retry_delay(store: Store) -> None:
    insert_one(store)
    assert complete(store, claim_one(store), CompletionKind.RETRY, retry_delay=45)
    due = store.next_due_in(["default"], list(NAMES))
    assert due is not None
    assert 44 < due <= 45


def test_next_due_in_looks_only_at_the_given_queues_and_names(store: Store) -> None:
    insert_one(store, queue="other", name="send_email")
    insert_one(store, queue="default", name="report", delay=10)
    assert store.next_due_in(["default"], ["send_email"]) is None
    assert store.next_due_in(["other"], ["send_email"]) == 0
    due = store.next_due_in(["default", "other"], ["report"])
    assert due is not None
    assert 9 < due <= 10
    assert store.next_due_in([], list(NAMES)) is None


def test_next_due_in_ignores_running_jobs(store: Store) -> None:
    insert_one(store)
    claim_one(store)
    assert store.next_due_in(["default"], list(NAMES)) is None


# -- damaged rows ------------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", "", "null"])
def test_a_row_with_damaged_args_can_be_read_and_claimed(
    store: Store, corrupt_job_args: Callable[[int, str], None], garbage: str
) -> None:
    job_id = insert_one(store, args={"user_id": 7})
    healthy = insert_one(store, args={"user_id": 8})
    corrupt_job_args(job_id, garbage)

    job = store.get_job(job_id)
    assert job is not None
    assert job.args is None
    assert job.state is JobState.QUEUED
    listed = {j.id: j.args for j in store.list_jobs(JobFilter())}
    assert listed == {job_id: None, healthy: {"user_id": 8}}
    assert store.queue_stats()[0].queued == 2

    claimed = {j.id: j for j in claim(store)}
    assert claimed[job_id].args_json == garbage
    assert json.loads(claimed[healthy].args_json) == {"user_id": 8}
    assert complete(
        store,
        claimed[job_id],
        CompletionKind.DEAD,
        error=ErrorInfo("ArgumentError", "stored arguments are not valid JSON"),
    )
    dead = store.get_job(job_id)
    assert dead is not None
    assert dead.state is JobState.DEAD
