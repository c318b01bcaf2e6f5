"""Conformance: ``release_unheld``, the jobs a worker holds without knowing it handed back.

A claim can commit while its answer is lost (the connection broke at the commit). These tests
"lose" the answer by ignoring what the claim returned, exactly what the worker is left with.
"""

from __future__ import annotations

import asyncio

import pytest
from store_helpers import LEASE, QUEUE, WORKER, claim, claim_one, complete, insert, lapse, new_job

from conveyor._lifecycle import CLAIM_UNANSWERED, WORKER_LOST
from conveyor.errors import ConfigurationError
from conveyor.models import AttemptOutcome, JobState
from conveyor.store import Store, open_async_store
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind


def _assert_handed_back(
    store: Store, job_id: int, attempt: int = 0, error_type: str | None = None
) -> None:
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED
    assert job.attempt == attempt  # the unanswered claim's attempt is not charged
    assert job.lease_until is None
    assert job.worker_id is None
    assert job.error_type == error_type  # the job's own error columns are left alone
    [*_, last] = store.list_attempts(job_id)
    assert last.outcome is AttemptOutcome.RELEASED
    assert last.error_type == CLAIM_UNANSWERED
    assert last.worker_id == WORKER
    assert last.error_message is not None and WORKER in last.error_message


def test_without_it_a_lost_claim_waits_for_its_lease_and_is_charged(store: Store) -> None:
    """What the rescuer alone does with a claim whose answer was lost: the job waits out the
    lease, then the attempt no handler ran counts as failed, and on the last attempt it is dead.
    """
    again, last = insert(store, new_job(max_attempts=3), new_job(max_attempts=1))
    for job in claim(store, lease=0.05):  # the answer is "lost": nothing runs these
        lapse(store, job)
    assert sorted(store.rescue_expired()) == [again, last]
    retried, dead = store.get_job(again), store.get_job(last)
    assert retried is not None and dead is not None
    assert retried.state is JobState.RETRYING and retried.attempt == 1
    assert dead.state is JobState.DEAD and dead.error_type == WORKER_LOST


def test_it_hands_back_the_jobs_of_a_lost_claim_uncharged(store: Store) -> None:
    known_id, *lost_ids = insert(store, new_job(), new_job(), new_job(max_attempts=1))
    known = claim_one(store)
    lost = claim(store)  # the answer is "lost"
    assert sorted(j.id for j in lost) == lost_ids
    assert store.release_unheld(WORKER, [(known.id, known.token)]) == lost_ids
    for job_id in lost_ids:
        _assert_handed_back(store, job_id)
    # The attempt the worker knows of is untouched, and completes.
    held = store.get_job(known_id)
    assert held is not None and held.state is JobState.RUNNING
    assert held.lease_until == known.lease_until
    assert complete(store, known)
    # The released jobs run again under a new token, the one-attempt job included; the lost
    # claim's token can no longer complete them.
    again = {j.id: j for j in claim(store)}
    assert sorted(again) == lost_ids
    for old in lost:
        assert again[old.id].token != old.token
        assert again[old.id].attempt == 1
        assert not complete(store, old)
        assert complete(store, again[old.id])


def test_it_hands_back_the_claimed_half_of_a_lost_round(store: Store) -> None:
    first, second = insert(store, new_job(), new_job())
    running = claim_one(store)
    params = ClaimParams(WORKER, (QUEUE,), ("send_email",), 10, LEASE)
    done = Completion(running.id, running.token, CompletionKind.SUCCEEDED, result_json="1")
    store.complete_and_claim([done], params)  # the answer is "lost"
    # The worker still lists the completion as unwritten, so names its attempt as held.
    assert store.release_unheld(WORKER, [(running.id, running.token)]) == [second]
    finished = store.get_job(first)
    assert finished is not None and finished.state is JobState.SUCCEEDED
    _assert_handed_back(store, second)


def test_a_pending_completion_keeps_its_job(store: Store) -> None:
    insert(store, new_job())
    finished = claim_one(store)  # ran; its completion is not written yet
    assert store.release_unheld(WORKER, [(finished.id, finished.token)]) == []
    assert complete(store, finished)


def test_it_leaves_other_workers_and_other_states_alone(store: Store) -> None:
    insert(store, *[new_job() for _ in range(4)])
    other = claim_one(store, worker="other")
    ended = claim_one(store)
    assert complete(store, ended)
    assert store.release_unheld(WORKER, []) == []
    job = store.get_job(other.id)
    assert job is not None and job.state is JobState.RUNNING and job.worker_id == "other"
    assert complete(store, other)
    assert len(claim(store)) == 2  # the two never claimed are still there


def test_an_attempt_held_under_an_older_token_is_not_the_one_released(store: Store) -> None:
    """The worker names (id, token): a job it lost (lease lapsed, rescued) and then claimed
    again in a lost claim is released; the older attempt it still knows of holds nothing."""
    [job_id] = insert(store, new_job())
    old = claim_one(store, lease=0.05)
    lapse(store, old)
    assert store.rescue_expired() == [job_id]
    claim_one(store)  # the lost claim takes it again, under a new token
    assert store.release_unheld(WORKER, [(old.id, old.token)]) == [job_id]
    # The rescue's attempt stays counted, and its error stays the job's.
    _assert_handed_back(store, job_id, attempt=1, error_type=WORKER_LOST)


def test_it_is_idempotent(store: Store) -> None:
    insert(store, new_job(), new_job())
    lost = claim(store)
    assert store.release_unheld(WORKER, []) == sorted(j.id for j in lost)
    assert store.release_unheld(WORKER, []) == []
    assert store.release_unheld("nobody", []) == []


def test_the_history_row_is_written_at_the_callers_now(store: Store) -> None:
    insert(store, new_job())
    lost = claim_one(store)
    at = store.now() + 3600
    assert store.release_unheld(WORKER, [], now=at) == [lost.id]
    [row] = store.list_attempts(lost.id)
    assert row.finished_at == pytest.approx(at, abs=0.01)


@pytest.mark.parametrize(
    ("worker", "held", "says"),
    [
        ("", [], "worker's id"),
        (WORKER, [(1,)], r"\(job id, token\) pairs"),
        (WORKER, [("1", 2)], r"\(job id, token\) pairs"),
        (WORKER, [(1, True)], r"\(job id, token\) pairs"),
    ],
)
def test_bad_arguments_are_refused(
    store: Store, worker: str, held: list[tuple[int, int]], says: str
) -> None:
    insert(store, new_job())
    lost = claim_one(store)
    with pytest.raises(ConfigurationError, match=says):
        store.release_unheld(worker, held)
    job = store.get_job(lost.id)
    assert job is not None and job.state is JobState.RUNNING


def test_async_twin(store: Store) -> None:
    _, second = insert(store, new_job(), new_job())
    known = claim_one(store)
    claim(store)  # the answer is "lost"

    async def scenario() -> list[int]:
        astore = open_async_store(store)
        try:
            with pytest.raises(ConfigurationError):
                await astore.release_unheld("", [])
            return await astore.release_unheld(WORKER, [(known.id, known.token)])
        finally:
            await astore.release()

    assert asyncio.run(scenario()) == [second]
    _assert_handed_back(store, second)
