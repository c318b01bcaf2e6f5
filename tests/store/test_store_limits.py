"""Conformance: cluster-wide concurrency and rate limits, enforced by the limited claim pass."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from store_helpers import NAMES, QUEUE, WORKER, claim, complete, insert, new_job

from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.limits import STRAY_LOOK_INTERVAL
from conveyor.store.protocol import ClaimedJob, ClaimParams, JobFilter, NewJob, Retention
from conveyor.testing import max_overlap

LIMITED = "call_vendor"
ALL_NAMES = (*NAMES, LIMITED)


def limited_job(
    key: str | None = "vendor:a",
    limit: int | None = 2,
    *,
    rate_key: str | None = None,
    rate_max: int | None = None,
    rate_per: float | None = None,
    **kwargs: Any,
) -> NewJob:
    """A job of the limited type counting against ``key`` (and a rate key, when given)."""
    return replace(
        new_job(LIMITED, **kwargs),
        limit_key=key,
        limit_max=limit if key is not None else None,
        rate_key=rate_key,
        rate_max=rate_max,
        rate_per=rate_per,
    )


def claim_limited(
    store: Store,
    limit: int = 10,
    *,
    queues: tuple[str, ...] = (QUEUE,),
    worker: str = WORKER,
    now: float | None = None,
) -> list[ClaimedJob]:
    """A claim by a worker that knows ``call_vendor`` is limited (at the caller's ``now``)."""
    return store.claim_jobs(
        ClaimParams(worker, queues, ALL_NAMES, limit, 30.0, limited_names=(LIMITED,), now=now)
    )


def test_a_concurrency_limit_is_never_exceeded_and_completion_frees_a_slot(store: Store) -> None:
    insert(store, *[limited_job("vendor:a", 3) for _ in range(10)])
    first = claim_limited(store)
    assert len(first) == 3
    assert claim_limited(store) == []
    assert claim_limited(store, 1) == []
    assert complete(store, first[0])
    again = claim_limited(store)
    assert len(again) == 1
    assert claim_limited(store) == []
    assert store.count_jobs(JobFilter(states=(JobState.RUNNING,))) == 3


def test_a_worker_whose_code_declares_no_limit_still_claims_limited_rows_within_it(
    store: Store,
) -> None:
    # A deploy removed the limit from the code (or an older worker never had it): the jobs
    # enqueued with it must not be stranded, and they still obey the limit their rows carry.
    insert(store, *[limited_job("vendor:a", 2) for _ in range(3)], new_job())
    first = claim(store, names=ALL_NAMES)
    assert sorted(j.name for j in first) == sorted([NAMES[0], LIMITED, LIMITED])
    assert claim(store, names=ALL_NAMES) == []
    assert complete(store, next(j for j in first if j.name == LIMITED))
    # The last look found nothing it could start, so the next comes after the look interval
    # (a worker without limited types does not pay a look on every claim).
    time.sleep(STRAY_LOOK_INTERVAL)
    [last] = claim(store, names=ALL_NAMES)
    assert last.name == LIMITED


def test_limited_jobs_wait_queued_without_an_attempt_charged(store: Store) -> None:
    ids = insert(store, *[limited_job("vendor:a", 1) for _ in range(3)])
    claim_limited(store)
    waiting = store.get_jobs(ids[1:])
    assert {j.state for j in waiting} == {JobState.QUEUED}
    assert {j.attempt for j in waiting} == {0}


def test_keys_are_counted_separately(store: Store) -> None:
    insert(store, *[limited_job("vendor:a", 2) for _ in range(5)])
    insert(store, *[limited_job("vendor:b", 2) for _ in range(5)])
    claimed = claim_limited(store)
    assert len(claimed) == 4


def test_limited_and_plain_jobs_share_one_claim(store: Store) -> None:
    insert(store, *[limited_job("vendor:a", 2) for _ in range(4)])
    insert(store, *[new_job() for _ in range(3)])
    found = claim_limited(store, 4)
    assert len(found) == 4
    assert [j.name for j in found].count(LIMITED) == 2


def test_after_a_fruitless_pass_the_claim_looks_and_still_puts_limited_jobs_first(
    store: Store,
) -> None:
    # A pass that took nothing makes the next claims look for limited jobs first (PostgreSQL
    # looks and claims plain jobs in one statement): they find plain jobs, and a limited job
    # that arrived meanwhile still comes before a plain one.
    assert claim_limited(store) == []
    insert(store, new_job(), new_job())
    assert [j.name for j in claim_limited(store)] == [NAMES[0], NAMES[0]]
    insert(store, limited_job("vendor:a", 1), new_job())
    assert [j.name for j in claim_limited(store, 1)] == [LIMITED]
    assert [j.name for j in claim_limited(store)] == [NAMES[0]]
    insert(store, limited_job("vendor:a", 1), new_job())
    # vendor:a is full: the look finds nothing it could start, so the plain job is claimed.
    assert [j.name for j in claim_limited(store)] == [NAMES[0]]


def test_a_saturated_backlog_at_the_head_hides_no_other_key_nor_plain_jobs(store: Store) -> None:
    # 300 jobs of one key, ahead of everything else by priority; its limit is full after one
    # claim. Other keys' jobs and plain jobs behind that backlog must still be claimed.
    insert(store, *[limited_job("vendor:busy", 2, priority=10) for _ in range(300)])
    assert len(claim_limited(store, 2)) == 2
    others = insert(store, *[limited_job("vendor:calm", 5) for _ in range(3)])
    plain = insert(store, *[new_job() for _ in range(3)])
    found = claim_limited(store, 10)
    assert sorted(j.id for j in found) == sorted(others + plain)


def test_a_partly_full_key_at_the_head_does_not_hide_others_for_long(store: Store) -> None:
    insert(store, *[limited_job("vendor:busy", 3, priority=10) for _ in range(300)])
    others = insert(store, *[limited_job("vendor:calm", 5) for _ in range(2)])
    first = claim_limited(store, 2)  # takes two of the busy key: it still has room for one
    assert len(first) == 2
    taken = [j.id for j in claim_limited(store, 1)] + [j.id for j in claim_limited(store, 10)]
    assert set(others) <= set(taken)


def test_the_smallest_limit_of_a_key_wins(store: Store) -> None:
    insert(store, *[limited_job("vendor:a", 5) for _ in range(3)])
    insert(store, *[limited_job("vendor:a", 2) for _ in range(3)])
    assert len(claim_limited(store)) == 2


def test_a_running_jobs_smaller_limit_counts_for_its_key(store: Store) -> None:
    insert(store, limited_job("vendor:a", 2))
    assert len(claim_limited(store, 1)) == 1
    insert(store, *[limited_job("vendor:a", 5) for _ in range(3)])
    assert len(claim_limited(store)) == 1  # the key's budget is 2, one of them running


def test_interleaved_keys_fill_their_rooms_in_claim_order_up_to_the_slots(store: Store) -> None:
    # One pass over several keys (PostgreSQL decides it inside its claim statement when no
    # rate key is read, decision 111): each key takes the first of its ready jobs that fit
    # its room, in claim order, and the pass stops at the slots.
    a1, b1, a2, a3, b2, c1, a4, c2, c3, c4 = insert(
        store,
        limited_job("vendor:a", 2), limited_job("vendor:b", 1), limited_job("vendor:a", 2),
        limited_job("vendor:a", 2), limited_job("vendor:b", 1), limited_job("vendor:c", 3),
        limited_job("vendor:a", 2), limited_job("vendor:c", 3), limited_job("vendor:c", 3),
        limited_job("vendor:c", 3),
    )
    assert [j.id for j in claim_limited(store, 1)] == [a1]
    assert [j.id for j in claim_limited(store, 4)] == [b1, a2, c1, c2]
    assert [j.id for j in claim_limited(store, 4)] == [c3]
    assert {a3, a4, b2, c4}.isdisjoint(j.id for j in claim_limited(store, 10))


def test_priority_orders_limited_jobs(store: Store) -> None:
    low = insert(store, limited_job("vendor:a", 5, priority=0))
    high = insert(store, limited_job("vendor:b", 5, priority=5))
    mid = insert(store, limited_job("vendor:a", 5, priority=2))
    found = claim_limited(store, 3)
    assert [j.id for j in found] == high + mid + low


def test_a_held_back_limited_job_of_lower_priority_lets_the_next_one_run(store: Store) -> None:
    insert(store, limited_job("vendor:a", 1, priority=5))
    insert(store, limited_job("vendor:a", 1, priority=5))
    later = insert(store, limited_job("vendor:b", 1, priority=0))
    found = claim_limited(store, 2)
    assert len(found) == 2 and found[1].id == later[0]


def test_the_limited_pass_respects_paused_queues(store: Store) -> None:
    ids = insert(store, *[limited_job("vendor:a", 5) for _ in range(2)])
    store.set_queue_paused(QUEUE, True, "test")
    assert claim_limited(store) == []
    store.set_queue_paused(QUEUE, False, "test")
    assert sorted(j.id for j in claim_limited(store)) == ids


def test_the_limited_pass_respects_queues_and_run_at(store: Store) -> None:
    insert(store, limited_job("vendor:a", 5, queue="other"))
    insert(store, limited_job("vendor:a", 5, delay=60))
    assert claim_limited(store) == []
    assert len(claim_limited(store, queues=("other",))) == 1


def test_a_rate_limit_allows_max_starts_per_period(store: Store) -> None:
    per = 0.6
    insert(store, *[limited_job(None, rate_key="r", rate_max=3, rate_per=per) for _ in range(7)])
    began = store.now()
    first = claim_limited(store)
    assert len(first) == 3
    assert claim_limited(store) == []  # running jobs do not matter: the budget is spent
    for job in first:
        complete(store, job)
    assert claim_limited(store) == [] or store.now() - began >= per
    # The period passes on the caller's clock (advanced instead of sleeping).
    second = claim_limited(store, now=max(began, store.now()) + per + 0.05)
    assert len(second) == 3
    assert min(j.started_at for j in second) - max(j.started_at for j in first) >= per - 0.01


def test_a_rate_window_slides(store: Store) -> None:
    per = 0.8
    insert(store, *[limited_job(None, rate_key="r", rate_max=2, rate_per=per) for _ in range(6)])
    starts: list[float] = []
    # Claims every 20 ms of the caller's clock, advanced instead of sleeping.
    now = store.now()
    deadline = now + 3 * per + 1.0
    while len(starts) < 6 and now < deadline:
        starts += [j.started_at for j in claim_limited(store, 1, now=now)]
        now += 0.02
    assert len(starts) == 6
    # At most 2 starts in any window of length ``per`` (open at the start).
    for s in starts:
        assert sum(1 for t in starts if s - per < t <= s) <= 2


def test_prune_drops_rate_starts_that_left_their_window_whatever_their_key(
    store: Store,
) -> None:
    per = 0.3
    insert(store, limited_job(None, rate_key="once-only", rate_max=1, rate_per=per))
    [slow] = insert(store, limited_job(None, rate_key="slow", rate_max=1, rate_per=3600.0))
    assert len(claim_limited(store)) == 2
    later = store.now() + per + 0.05  # the caller's clock, advanced instead of sleeping
    # The expired start of a key nobody claims again goes; the one still in its window stays.
    assert store.prune(Retention(), limit=100, now=later) == 1
    assert store.prune(Retention(), limit=100, now=later) == 0
    status = store.limit_status(slow)
    assert status is not None and status.spent_until is not None  # its start is still counted


def test_concurrency_and_rate_apply_together(store: Store) -> None:
    insert(
        store,
        *[limited_job("vendor:a", 1, rate_key="r", rate_max=5, rate_per=60) for _ in range(4)],
    )
    first = claim_limited(store)
    assert len(first) == 1  # the concurrency limit binds first
    complete(store, first[0])
    assert len(claim_limited(store)) == 1


def test_next_due_counts_a_held_back_limited_job_as_due_soon(store: Store) -> None:
    insert(store, *[limited_job("vendor:a", 1) for _ in range(2)])
    claim_limited(store)
    due = store.next_due_in([QUEUE], list(ALL_NAMES))
    assert due is not None and 0 < due <= 1.0


def test_concurrent_claimers_never_exceed_the_limit(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    limits = {"vendor:a": 3, "vendor:b": 2}
    for key, most in limits.items():
        insert(store, *[limited_job(key, most, args={"key": key}) for _ in range(24)])
    stores = [open_store_on() for _ in range(4)]
    errors: list[BaseException] = []

    def claimer(worker: str, own: Store) -> None:
        try:
            idle_until = time.monotonic() + 1.5
            while time.monotonic() < idle_until:
                found = claim_limited(own, 2, worker=worker)
                if found:
                    idle_until = time.monotonic() + 1.5
                time.sleep(0.01)  # hold the jobs a moment, so claimers really contend
                for job in found:
                    complete(own, job)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"w{n}", s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    jobs = store.list_jobs(JobFilter(name=LIMITED))
    assert len(jobs) == 48
    assert {j.state for j in jobs} == {JobState.SUCCEEDED}
    for key, most in limits.items():
        # Claims and completions are stamped by the database's clock, so these spans are
        # exactly when each job held its slot.
        spans = [
            (float(j.started_at or 0.0), float(j.finished_at or 0.0))
            for j in jobs
            if j.args == {"key": key}
        ]
        assert max_overlap(spans) <= most


# -- what `conveyor jobs why` reads --------------------------------------------------------------


def test_limit_status_of_a_missing_or_plain_job(store: Store) -> None:
    assert store.limit_status(999) is None
    plain = store.limit_status(insert(store, new_job())[0])
    assert plain is not None and plain.limit_key is None and plain.rate_key is None


def test_limit_status_lists_the_running_jobs_of_a_full_key(store: Store) -> None:
    ids = insert(store, *[limited_job("vendor:a", 2) for _ in range(3)])
    claimed = sorted(j.id for j in claim_limited(store))
    status = store.limit_status(ids[2])
    assert status is not None
    assert (status.limit_key, status.limit_max, status.running) == ("vendor:a", 2, tuple(claimed))


def test_limit_status_says_until_when_a_rate_budget_is_spent(store: Store) -> None:
    rated = limited_job(None, rate_key="r", rate_max=2, rate_per=30)
    ids = insert(store, rated, rated, rated)
    assert store.limit_status(ids[0]) is not None
    before = store.limit_status(ids[0])
    assert before is not None and before.spent_until is None
    first = claim_limited(store)
    assert len(first) == 2
    status = store.limit_status(ids[2])
    assert status is not None and status.rate_key == "r" and status.rate_max == 2
    assert status.spent_until is not None
    assert abs(status.spent_until - (min(j.started_at for j in first) + 30)) < 0.5


def test_why_names_a_full_concurrency_limit_and_a_spent_rate(store: Store) -> None:
    from conveyor.why import explain

    ids = insert(store, *[limited_job("vendor:a", 1) for _ in range(2)])
    [running] = claim_limited(store)
    codes = {r.code: r.message for r in explain(store, ids[1])}
    assert "limit_full" in codes
    assert "concurrency limit of key vendor:a is full: 1 running" in codes["limit_full"]
    assert str(running.id) in codes["limit_full"]

    job = limited_job(None, rate_key="r", rate_max=1, rate_per=60)
    rated = insert(store, job, job)
    claim_limited(store)
    waiting = next(j.id for j in store.get_jobs(rated) if j.state is JobState.QUEUED)
    reasons = {r.code: r.message for r in explain(store, waiting)}
    assert reasons["rate_spent"].startswith("rate budget of key r is spent until in ")
