"""Conformance: operator actions (retry, cancel, discard) and pruning by retention."""

from __future__ import annotations

from store_helpers import (
    claim,
    claim_one,
    complete,
    heartbeat,
    insert,
    insert_one,
    new_job,
    wait_until,
)

from conveyor.models import AttemptOutcome, JobState
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter, Replay, Retention

BOOM = ErrorInfo("ValueError", "boom", "Traceback ...")


def _dead_job(store: Store, **kwargs: object) -> int:
    """A job that failed twice and ended in the dead-letter queue."""
    job_id = insert_one(store, max_attempts=2, **kwargs)  # type: ignore[arg-type]
    first = claim_one(store)
    assert first.id == job_id
    assert complete(store, first, CompletionKind.RETRY, retry_delay=0, error=BOOM)
    assert complete(store, claim_one(store), CompletionKind.DEAD, error=BOOM)
    return job_id


def _state(store: Store, job_id: int) -> JobState:
    job = store.get_job(job_id)
    assert job is not None
    return job.state


# -- retry -------------------------------------------------------------------------------------


def test_retry_puts_a_dead_job_back_with_fresh_attempts_and_its_history(store: Store) -> None:
    job_id = _dead_job(store)
    history = store.list_attempts(job_id)
    assert [a.outcome for a in history] == [AttemptOutcome.FAILED, AttemptOutcome.DEAD]
    before = store.now()
    assert store.retry_jobs(JobFilter(ids=(job_id,))) == [job_id]
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED
    assert job.attempt == 0
    assert job.max_attempts == 2
    assert before <= job.run_at <= after
    assert job.finished_at is None
    assert job.lease_until is None
    assert store.list_attempts(job_id) == history
    again = claim_one(store)
    assert again.id == job_id
    assert again.attempt == 1
    assert complete(store, again, result="second life")
    assert len(store.list_attempts(job_id)) == 3


def test_retry_puts_a_cancelled_job_back(store: Store) -> None:
    job_id = insert_one(store)
    assert store.cancel_jobs(JobFilter(ids=(job_id,))) == [job_id]
    assert store.retry_jobs(JobFilter(ids=(job_id,))) == [job_id]
    assert _state(store, job_id) is JobState.QUEUED
    assert [j.id for j in claim(store)] == [job_id]


def test_retry_makes_a_scheduled_job_due_now(store: Store) -> None:
    job_id = insert_one(store, delay=3600)
    assert claim(store) == []
    assert store.retry_jobs(JobFilter(ids=(job_id,))) == [job_id]
    job = store.get_job(job_id)
    assert job is not None
    assert job.run_at <= store.now()
    assert job.state in (JobState.QUEUED, JobState.SCHEDULED)
    assert store.next_due_in(["default"], ["send_email"]) == 0
    claimed = claim_one(store)
    assert claimed.id == job_id
    assert claimed.attempt == 1


def test_retry_makes_a_waiting_retry_due_now_and_keeps_its_attempt(store: Store) -> None:
    job_id = insert_one(store)
    assert complete(store, claim_one(store), CompletionKind.RETRY, retry_delay=3600, error=BOOM)
    assert store.retry_jobs(JobFilter(ids=(job_id,))) == [job_id]
    claimed = claim_one(store)
    assert claimed.id == job_id
    assert claimed.attempt == 2


def test_retry_leaves_running_and_succeeded_jobs_alone(store: Store) -> None:
    running_id, done_id = insert(store, new_job(name="report"), new_job(name="resize"))
    running = claim_one(store, names=("report",))
    assert complete(store, claim_one(store, names=("resize",)), result="r")
    before = {j.id: j for j in store.get_jobs([running_id, done_id])}
    assert store.retry_jobs(JobFilter(ids=(running_id, done_id))) == []
    assert store.retry_jobs(JobFilter()) == []
    after = {j.id: j for j in store.get_jobs([running_id, done_id])}
    assert after == before
    assert complete(store, running)


def test_retry_by_state_touches_only_matching_jobs(store: Store) -> None:
    dead_id = _dead_job(store, name="report")
    scheduled_id = insert_one(store, delay=3600)
    assert store.retry_jobs(JobFilter(states=(JobState.DEAD,))) == [dead_id]
    assert _state(store, scheduled_id) is JobState.SCHEDULED
    assert _state(store, dead_id) is JobState.QUEUED


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_ends_every_unfinished_job(store: Store) -> None:
    queued = insert_one(store)
    scheduled = insert_one(store, delay=3600)
    retrying = insert_one(store, name="report")
    assert complete(
        store, claim_one(store, names=("report",)), CompletionKind.RETRY, retry_delay=3600
    )
    before = store.now()
    cancelled = store.cancel_jobs(JobFilter())
    after = store.now()
    assert sorted(cancelled) == sorted([queued, scheduled, retrying])
    for job in store.get_jobs(cancelled):
        assert job.state is JobState.CANCELLED
        assert job.finished_at is not None
        assert before <= job.finished_at <= after
    assert claim(store) == []
    assert store.next_due_in(["default"], ["send_email", "report"]) is None


def test_cancel_leaves_final_jobs_alone(store: Store) -> None:
    dead_id = _dead_job(store, name="report")
    done_id = insert_one(store)
    assert complete(store, claim_one(store), result="ok")
    before = {j.id: j for j in store.get_jobs([dead_id, done_id])}
    assert store.cancel_jobs(JobFilter(ids=(dead_id, done_id))) == []
    assert {j.id: j for j in store.get_jobs([dead_id, done_id])} == before
    assert store.cancel_jobs(JobFilter(ids=(dead_id,))) == []


def test_cancelling_a_running_job_refuses_its_later_completion(store: Store) -> None:
    job_id = insert_one(store)
    held = claim_one(store)
    assert store.cancel_jobs(JobFilter(ids=(job_id,))) == [job_id]
    assert not complete(store, held, result="too late")
    assert not complete(store, held, CompletionKind.RETRY, error=BOOM)
    assert heartbeat(store, [(job_id, held.token)]) == frozenset()
    assert not store.set_progress(job_id, held.token, 0.5, None)
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.CANCELLED
    assert job.result is None
    assert job.lease_until is None
    outcomes = [a.outcome for a in store.list_attempts(job_id)]
    assert outcomes == [AttemptOutcome.CANCELLED]
    assert store.rescue_expired() == []


def test_cancel_by_queue_filter(store: Store) -> None:
    a = insert_one(store, queue="a")
    b = insert_one(store, queue="b")
    assert store.cancel_jobs(JobFilter(queue="a")) == [a]
    assert _state(store, b) is JobState.QUEUED


# -- discard -----------------------------------------------------------------------------------


def test_discard_deletes_only_final_jobs_and_their_attempts(store: Store) -> None:
    dead_id = _dead_job(store, name="report")
    done_id = insert_one(store, name="resize")
    assert complete(store, claim_one(store, names=("resize",)), result="ok")
    cancelled_id = insert_one(store, name="resize")
    assert store.cancel_jobs(JobFilter(ids=(cancelled_id,))) == [cancelled_id]
    queued_id = insert_one(store)
    running_id = insert_one(store, name="report")
    held = claim_one(store, names=("report",))
    assert held.id == running_id

    assert store.discard_jobs(JobFilter()) == 3
    for gone in (dead_id, done_id, cancelled_id):
        assert store.get_job(gone) is None
        assert store.list_attempts(gone) == []
    assert _state(store, queued_id) is JobState.QUEUED
    assert _state(store, running_id) is JobState.RUNNING
    assert store.count_jobs(JobFilter()) == 2
    assert complete(store, held)


def test_discard_with_a_filter(store: Store) -> None:
    dead_id = _dead_job(store)
    done_id = insert_one(store)
    assert complete(store, claim_one(store), result="ok")
    assert store.discard_jobs(JobFilter(states=(JobState.DEAD,))) == 1
    assert store.get_job(dead_id) is None
    assert _state(store, done_id) is JobState.SUCCEEDED
    assert store.discard_jobs(JobFilter(states=(JobState.DEAD,))) == 0


# -- prune -------------------------------------------------------------------------------------


def test_prune_deletes_finished_jobs_past_retention_and_keeps_the_rest(store: Store) -> None:
    old_done = insert_one(store, name="resize")
    assert complete(store, claim_one(store, names=("resize",)), result="old")
    old_dead = _dead_job(store, name="report")
    old_cancelled = insert_one(store, name="resize")
    assert store.cancel_jobs(JobFilter(ids=(old_cancelled,))) == [old_cancelled]
    old_queued = insert_one(store, delay=3600)
    last_old = _finished_at(store, old_cancelled)
    wait_until(lambda: store.now() > last_old + 0.4)
    new_done = insert_one(store, name="resize")
    assert complete(store, claim_one(store, names=("resize",)), result="new")

    # A retention halfway between the old and the new finish times splits them. Both prunes
    # judge ages at the same instant: on a loaded box (or behind a pooler's extra hop) the
    # reads between them can take longer than the 0.2 s margin.
    now = store.now()
    keep = now - (last_old + _finished_at(store, new_done)) / 2
    retention = Retention(succeeded=keep, dead=keep, cancelled=keep)
    assert store.prune(retention, now=now) == 3
    for gone in (old_done, old_dead, old_cancelled):
        assert store.get_job(gone) is None
        assert store.list_attempts(gone) == []
    assert _state(store, new_done) is JobState.SUCCEEDED
    assert _state(store, old_queued) is JobState.SCHEDULED
    assert len(store.list_attempts(new_done)) == 1
    assert store.prune(retention, now=now) == 0


def _finished_at(store: Store, job_id: int) -> float:
    job = store.get_job(job_id)
    assert job is not None
    assert job.finished_at is not None
    return job.finished_at


def test_prune_uses_the_retention_of_each_state(store: Store) -> None:
    done_id = insert_one(store)
    assert complete(store, claim_one(store), result="ok")
    dead_id = _dead_job(store, name="report")
    later = store.now() + 0.2  # the caller's clock, advanced instead of sleeping
    assert store.prune(Retention(succeeded=3600, dead=0.1, cancelled=3600), now=later) == 1
    assert store.get_job(dead_id) is None
    assert _state(store, done_id) is JobState.SUCCEEDED


def test_prune_respects_its_limit(store: Store) -> None:
    insert(store, *[new_job() for _ in range(5)])
    for job in claim(store):
        assert complete(store, job)
    later = store.now() + 0.2
    retention = Retention(succeeded=0.1)
    assert store.prune(retention, limit=2, now=later) == 2
    assert store.count_jobs(JobFilter()) == 3
    assert store.prune(retention, limit=10, now=later) == 3
    assert store.count_jobs(JobFilter()) == 0


def test_prune_with_default_retention_keeps_recent_jobs(store: Store) -> None:
    insert_one(store)
    assert complete(store, claim_one(store))
    assert store.prune(Retention()) == 0
    assert store.count_jobs(JobFilter()) == 1


def test_a_replay_gives_a_job_that_snoozed_a_fresh_snooze_count(store: Store) -> None:
    snooze = ErrorInfo("Snooze", "not yet")
    ids = []
    for _ in range(2):
        job_id = insert_one(store, max_attempts=1, meta={"schedule": "nightly"})
        assert complete(store, claim_one(store), CompletionKind.SNOOZED, error=snooze)
        assert complete(store, claim_one(store, now=store.now() + 1), CompletionKind.DEAD,
                        error=BOOM)
        ids.append(job_id)
    plain, spread = ids
    assert store.retry_jobs(JobFilter(ids=(plain,))) == [plain]
    assert store.retry_jobs(JobFilter(ids=(spread,)), replay=Replay(per_second=1)) == [spread]
    for job in store.get_jobs(ids):
        assert (job.attempt, job.meta) == (0, {"schedule": "nightly"})
