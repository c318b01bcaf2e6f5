"""Conformance: completing attempts (outcomes, token fencing, attempt history)."""

from __future__ import annotations

import json

from store_helpers import (
    WORKER,
    claim,
    claim_one,
    complete,
    insert,
    insert_one,
    lapse,
    new_job,
    wait_until,
)

from conveyor.models import AttemptOutcome, JobState
from conveyor.store import Store
from conveyor.store.protocol import Completion, CompletionKind, CompletionResult, ErrorInfo

BOOM = ErrorInfo("ValueError", "boom", 'Traceback (most recent call last):\n  File "x.py"\n')


def test_succeeded_stores_the_result_and_finish_time(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store)
    before = store.now()
    assert complete(store, claimed, result={"sent": True, "n": [1, 2]})
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert job.result == {"sent": True, "n": [1, 2]}
    assert job.finished_at is not None
    assert before <= job.finished_at <= after
    assert job.lease_until is None
    assert job.attempt == 1
    assert job.error_type is None
    assert claim(store) == []


def test_succeeded_without_a_result_stores_none(store: Store) -> None:
    job_id = insert_one(store)
    assert complete(store, claim_one(store))
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert job.result is None


def test_scalar_results_round_trip(store: Store) -> None:
    ids = insert(store, new_job(), new_job(), new_job())
    claimed = claim(store)
    for job, value in zip(claimed, ["text", 42, [1, "a"]], strict=True):
        assert complete(store, job, result=value)
    results = {j.id: j.result for j in store.get_jobs(ids)}
    assert results == {claimed[0].id: "text", claimed[1].id: 42, claimed[2].id: [1, "a"]}


def test_retry_schedules_the_next_attempt_and_records_the_error(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store)
    before = store.now()
    assert complete(store, claimed, CompletionKind.RETRY, retry_delay=30, error=BOOM)
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.RETRYING
    assert before + 30 <= job.run_at <= after + 30
    assert job.error_type == "ValueError"
    assert job.error_message == "boom"
    assert job.attempt == 1
    assert job.lease_until is None
    assert job.finished_at is None
    assert claim(store) == []


def test_a_retried_job_is_claimable_again_after_its_delay(store: Store) -> None:
    job_id = insert_one(store)
    first = claim_one(store)
    assert complete(store, first, CompletionKind.RETRY, retry_delay=0.2, error=BOOM)
    assert claim(store) == []
    again = wait_until(lambda: claim(store), timeout=5.0, interval=0.02)
    assert [j.id for j in again] == [job_id]
    assert again[0].attempt == 2
    assert again[0].token != first.token


def test_retry_with_no_delay_is_ready_at_once(store: Store) -> None:
    job_id = insert_one(store)
    assert complete(store, claim_one(store), CompletionKind.RETRY, retry_delay=0, error=BOOM)
    assert [j.id for j in claim(store)] == [job_id]


def test_dead_is_final_and_keeps_the_error(store: Store) -> None:
    job_id = insert_one(store)
    before = store.now()
    assert complete(store, claim_one(store), CompletionKind.DEAD, error=BOOM)
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.DEAD
    assert job.error_type == "ValueError"
    assert job.error_message == "boom"
    assert job.finished_at is not None
    assert before <= job.finished_at <= after
    assert job.lease_until is None
    assert claim(store) == []


def test_cancelled_is_final(store: Store) -> None:
    job_id = insert_one(store)
    assert complete(store, claim_one(store), CompletionKind.CANCELLED)
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.CANCELLED
    assert job.finished_at is not None
    assert claim(store) == []
    (attempt,) = store.list_attempts(job_id)
    assert attempt.outcome is AttemptOutcome.CANCELLED


def test_released_goes_back_to_queued_without_charging_the_attempt(store: Store) -> None:
    job_id = insert_one(store, max_attempts=1)
    first = claim_one(store)
    assert complete(store, first, CompletionKind.RELEASED)
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED
    assert job.attempt == 0
    assert job.lease_until is None
    assert job.worker_id is None
    (attempt,) = store.list_attempts(job_id)
    assert attempt.outcome is AttemptOutcome.RELEASED
    assert attempt.attempt == 1
    # The only attempt allowed is still available.
    again = claim_one(store)
    assert again.id == job_id
    assert again.attempt == 1
    assert again.token != first.token


def test_a_stale_token_is_refused_after_the_job_was_rescued_and_reclaimed(store: Store) -> None:
    job_id = insert_one(store)
    stale = claim_one(store, lease=0.05, worker="old")
    lapse(store, stale)
    assert store.rescue_expired() == [job_id]
    fresh = claim_one(store, worker="new")
    assert fresh.token != stale.token
    before = store.get_job(job_id)
    attempts_before = store.list_attempts(job_id)

    assert not complete(store, stale, result={"from": "old"})
    assert not complete(store, stale, CompletionKind.DEAD, error=BOOM)
    assert not complete(store, stale, CompletionKind.RELEASED)

    assert store.get_job(job_id) == before
    assert store.list_attempts(job_id) == attempts_before
    assert complete(store, fresh, result={"from": "new"})
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert job.result == {"from": "new"}


def test_a_second_completion_of_the_same_attempt_is_refused(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store)
    assert complete(store, claimed, result=1)
    assert not complete(store, claimed, result=2)
    assert not complete(store, claimed, CompletionKind.RETRY, error=BOOM)
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert job.result == 1
    assert len(store.list_attempts(job_id)) == 1


def test_a_second_completion_after_a_retry_is_refused(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store)
    assert complete(store, claimed, CompletionKind.RETRY, retry_delay=60, error=BOOM)
    assert not complete(store, claimed, result="late")
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.RETRYING
    assert len(store.list_attempts(job_id)) == 1


def test_duplicate_completions_in_one_batch_apply_once(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store)
    results = store.complete_jobs(
        [
            Completion(claimed.id, claimed.token, CompletionKind.SUCCEEDED, result_json="1"),
            Completion(claimed.id, claimed.token, CompletionKind.DEAD, error=BOOM),
        ]
    )
    assert results == [CompletionResult(job_id, True), CompletionResult(job_id, False)]
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert len(store.list_attempts(job_id)) == 1


def test_a_wrong_token_is_refused_and_changes_nothing(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store)
    before = store.get_job(job_id)
    assert not complete(store, claimed, token=claimed.token + 1000)
    assert store.get_job(job_id) == before
    assert store.list_attempts(job_id) == []


def test_completing_an_unclaimed_or_missing_job_is_refused(store: Store) -> None:
    job_id = insert_one(store)
    results = store.complete_jobs(
        [
            Completion(job_id, 0, CompletionKind.SUCCEEDED),
            Completion(job_id, 1, CompletionKind.SUCCEEDED),
            Completion(987654, 1, CompletionKind.SUCCEEDED),
        ]
    )
    assert results == [
        CompletionResult(job_id, False),
        CompletionResult(job_id, False),
        CompletionResult(987654, False),
    ]
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED


def test_complete_nothing_returns_nothing(store: Store) -> None:
    assert store.complete_jobs([]) == []


def test_a_batch_of_mixed_outcomes_answers_in_input_order(store: Store) -> None:
    ids = insert(store, *[new_job() for _ in range(5)])
    claimed = {j.id: j for j in claim(store)}
    c = [claimed[i] for i in ids]
    results = store.complete_jobs(
        [
            Completion(c[3].id, c[3].token, CompletionKind.DEAD, error=BOOM),
            Completion(c[0].id, c[0].token, CompletionKind.SUCCEEDED, result_json='"ok"'),
            Completion(c[4].id, c[4].token + 1, CompletionKind.SUCCEEDED),
            Completion(c[1].id, c[1].token, CompletionKind.RETRY, retry_delay=60, error=BOOM),
            Completion(c[2].id, c[2].token, CompletionKind.RELEASED),
        ]
    )
    assert results == [
        CompletionResult(ids[3], True),
        CompletionResult(ids[0], True),
        CompletionResult(ids[4], False),
        CompletionResult(ids[1], True),
        CompletionResult(ids[2], True),
    ]
    states = {j.id: j.state for j in store.get_jobs(ids)}
    assert states == {
        ids[0]: JobState.SUCCEEDED,
        ids[1]: JobState.RETRYING,
        ids[2]: JobState.QUEUED,
        ids[3]: JobState.DEAD,
        ids[4]: JobState.RUNNING,
    }


def test_every_accepted_completion_adds_an_attempt_row(store: Store) -> None:
    job_id = insert_one(store, max_attempts=5)
    first = claim_one(store, worker="w-a")
    before_first = store.now()
    assert complete(store, first, CompletionKind.RETRY, retry_delay=0, error=BOOM)
    after_first = store.now()
    second = claim_one(store, worker="w-b")
    assert complete(
        store,
        second,
        CompletionKind.RETRY,
        retry_delay=0,
        error=ErrorInfo("TimeoutError", "too slow"),
    )
    third = claim_one(store, worker="w-a")
    assert not complete(store, third, token=third.token + 1)  # refused: no row
    assert complete(store, third, result="done")

    attempts = store.list_attempts(job_id)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert [a.outcome for a in attempts] == [
        AttemptOutcome.FAILED,
        AttemptOutcome.FAILED,
        AttemptOutcome.SUCCEEDED,
    ]
    assert [a.worker_id for a in attempts] == ["w-a", "w-b", "w-a"]
    assert {a.job_id for a in attempts} == {job_id}
    one, two, three = attempts
    assert (one.error_type, one.error_message, one.traceback) == (
        "ValueError",
        "boom",
        BOOM.traceback,
    )
    assert (two.error_type, two.error_message, two.traceback) == (
        "TimeoutError",
        "too slow",
        None,
    )
    assert (three.error_type, three.error_message, three.traceback) == (None, None, None)
    assert one.started_at == first.started_at
    assert one.finished_at is not None
    assert before_first <= one.finished_at <= after_first
    assert two.started_at == second.started_at
    assert three.started_at == third.started_at
    for attempt in attempts:
        assert attempt.duration is not None
        assert attempt.duration >= 0
    job = store.get_job(job_id)
    assert job is not None
    assert three.finished_at == job.finished_at


def test_a_dead_completion_records_a_dead_attempt(store: Store) -> None:
    job_id = insert_one(store)
    assert complete(store, claim_one(store, worker=WORKER), CompletionKind.DEAD, error=BOOM)
    (attempt,) = store.list_attempts(job_id)
    assert attempt.outcome is AttemptOutcome.DEAD
    assert attempt.error_type == "ValueError"
    assert attempt.traceback == BOOM.traceback
    assert attempt.worker_id == WORKER


def test_list_attempts_of_an_unknown_job_is_empty(store: Store) -> None:
    assert store.list_attempts(424242) == []


def test_result_json_is_stored_as_given(store: Store) -> None:
    job_id = insert_one(store)
    claimed = claim_one(store)
    payload = json.dumps({"nested": {"list": [1.5, None, "ü"]}})
    (result,) = store.complete_jobs(
        [Completion(claimed.id, claimed.token, CompletionKind.SUCCEEDED, result_json=payload)]
    )
    assert result.accepted
    job = store.get_job(job_id)
    assert job is not None
    assert job.result == {"nested": {"list": [1.5, None, "ü"]}}


def test_snoozed_waits_without_charging_the_attempt_and_counts_the_snooze(store: Store) -> None:
    job_id = insert_one(store, max_attempts=3, meta={"notify_url": "https://example.com/h"})
    first = claim_one(store)
    assert complete(store, first, CompletionKind.RETRY, retry_delay=0, error=BOOM)
    retried = claim_one(store, now=store.now() + 1)
    before = store.now()
    reason = ErrorInfo("Snooze", "the export is not ready")
    assert complete(store, retried, CompletionKind.SNOOZED, retry_delay=30, error=reason)
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.SCHEDULED
    assert job.attempt == 1  # the snoozed attempt is not charged
    assert before + 30 <= job.run_at <= after + 30
    assert (job.error_type, job.error_message) == ("ValueError", "boom")  # the last failure
    assert job.meta == {"notify_url": "https://example.com/h", "snoozes": 1}
    assert (job.lease_until, job.worker_id, job.finished_at) == (None, None, None)
    assert claim(store) == []
    history = store.list_attempts(job_id)
    assert [a.outcome for a in history] == [AttemptOutcome.FAILED, AttemptOutcome.SNOOZED]
    assert (history[1].attempt, history[1].error_type, history[1].error_message) == (
        2, "Snooze", "the export is not ready",
    )
    # Due again after the snooze, with the same attempt number; the next snooze counts on.
    again = claim_one(store, now=after + 31)
    assert (again.id, again.attempt) == (job_id, 2)
    assert json.loads(again.meta_json)["snoozes"] == 1
    assert complete(store, again, CompletionKind.SNOOZED, retry_delay=0, error=reason)
    job = store.get_job(job_id)
    assert job is not None
    assert job.meta["snoozes"] == 2
