"""Conformance: ``complete_and_claim``, a worker's finished attempts written with its next claim."""

from __future__ import annotations

import asyncio
import json

from store_helpers import NAME, NAMES, QUEUE, WORKER, claim, insert, insert_one, new_job

from conveyor.models import AttemptOutcome, JobState
from conveyor.store import Store, open_async_store
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    ClaimRound,
    Completion,
    CompletionKind,
    CompletionResult,
    NewJob,
)


def params(limit: int = 10, *, limited: bool = False) -> ClaimParams:
    """Claim parameters of the suite's default worker."""
    return ClaimParams(
        WORKER, (QUEUE,), NAMES, limit, 30.0, limited_names=(NAME,) if limited else ()
    )


def done(
    job: ClaimedJob,
    kind: CompletionKind = CompletionKind.SUCCEEDED,
    *,
    result_json: str | None = None,
    retry_delay: float = 0.0,
) -> Completion:
    """A completion of ``job``'s attempt."""
    return Completion(job.id, job.token, kind, result_json=result_json, retry_delay=retry_delay)


def test_round_completes_then_claims(store: Store) -> None:
    first, second = insert(store, new_job(), new_job())
    (job,) = claim(store, limit=1)
    assert job.id == first
    round_ = store.complete_and_claim([done(job, result_json=json.dumps({"ok": 1}))], params())
    assert round_.completed == [CompletionResult(first, accepted=True)]
    assert [j.id for j in round_.claimed] == [second]
    finished = store.get_job(first)
    assert finished is not None and finished.state is JobState.SUCCEEDED
    assert finished.result == {"ok": 1}
    attempts = store.list_attempts(first)
    assert [a.outcome for a in attempts] == [AttemptOutcome.SUCCEEDED]
    running = store.get_job(second)
    assert running is not None and running.state is JobState.RUNNING
    assert running.worker_id == WORKER


def test_round_fences_completions_like_complete_jobs(store: Store) -> None:
    ids = insert(store, new_job(), new_job(), new_job())
    a, b = claim(store, limit=2)
    stale = Completion(b.id, b.token + 7, CompletionKind.SUCCEEDED)
    round_ = store.complete_and_claim([done(a), done(a, CompletionKind.DEAD), stale], params())
    # The first completion of ``a`` wins, its repeat and the stale token are refused; the
    # claim still takes the job that was waiting.
    assert round_.completed == [
        CompletionResult(a.id, accepted=True),
        CompletionResult(a.id, accepted=False),
        CompletionResult(b.id, accepted=False),
    ]
    assert [j.id for j in round_.claimed] == [ids[2]]
    states = {j.id: j.state for j in store.get_jobs(ids)}
    assert states == {a.id: JobState.SUCCEEDED, b.id: JobState.RUNNING, ids[2]: JobState.RUNNING}


def test_round_without_completions_is_a_claim(store: Store) -> None:
    job_id = insert_one(store)
    round_ = store.complete_and_claim([], params())
    assert round_.completed == []
    assert [(j.id, j.attempt) for j in round_.claimed] == [(job_id, 1)]


def test_round_with_nothing_to_claim_still_completes(store: Store) -> None:
    job_id = insert_one(store)
    (job,) = claim(store)
    round_ = store.complete_and_claim([done(job, CompletionKind.RETRY, retry_delay=60.0)], params())
    assert round_ == ClaimRound([CompletionResult(job_id, accepted=True)], [])
    retrying = store.get_job(job_id)
    assert retrying is not None and retrying.state is JobState.RETRYING


def test_round_claims_with_the_room_its_completion_freed(store: Store) -> None:
    # A concurrency limit of one: the second job may start only once the first has finished,
    # and the round's claim sees the completion written before it, in the same transaction.
    limited = NewJob(
        queue=QUEUE, name=NAME, args_json="{}", max_attempts=3, limit_key="k", limit_max=1
    )
    first, second = insert(store, limited, limited)
    (job,) = store.claim_jobs(params(limited=True))
    assert job.id == first
    round_ = store.complete_and_claim([done(job)], params(limited=True))
    assert round_.completed == [CompletionResult(first, accepted=True)]
    assert [j.id for j in round_.claimed] == [second]


def test_async_round(store: Store) -> None:
    first, second = insert(store, new_job(), new_job())
    (job,) = claim(store, limit=1)

    async def scenario() -> ClaimRound:
        astore = open_async_store(store)
        try:
            return await astore.complete_and_claim([done(job)], params())
        finally:
            await astore.release()

    round_ = asyncio.run(scenario())
    assert round_.completed == [CompletionResult(first, accepted=True)]
    assert [j.id for j in round_.claimed] == [second]


def _limited(key: str = "k", most: int = 1) -> NewJob:
    return NewJob(
        queue=QUEUE, name=NAME, args_json="{}", max_attempts=3, limit_key=key, limit_max=most
    )


def test_round_after_a_fruitless_pass_still_sees_the_room_its_completion_frees(
    store: Store,
) -> None:
    # The last limited pass took nothing (the key was full), so the round looks before it
    # opens a transaction; the attempt it completes must count as finished in that look.
    first, second = insert(store, _limited(), _limited())
    (job,) = store.claim_jobs(params(limited=True))
    assert job.id == first
    assert store.claim_jobs(params(limited=True)) == []  # full: a fruitless pass
    round_ = store.complete_and_claim([done(job)], params(limited=True))
    assert round_.completed == [CompletionResult(first, accepted=True)]
    assert [j.id for j in round_.claimed] == [second]


def test_round_of_a_worker_with_limited_types_and_none_waiting(store: Store) -> None:
    # A worker that declares limited types while only plain jobs wait: its rounds complete
    # and claim plain jobs (on PostgreSQL without a transaction once a look found nothing).
    ids = insert(store, *[new_job() for _ in range(5)])
    (job,) = store.claim_jobs(params(1, limited=True))
    seen = [job.id]
    for _ in range(4):
        round_ = store.complete_and_claim([done(job)], params(1, limited=True))
        assert round_.completed == [CompletionResult(job.id, accepted=True)]
        (job,) = round_.claimed
        seen.append(job.id)
    assert seen == ids
    # A limited job enqueued now is found by the next round's look.
    (limited,) = insert(store, _limited())
    round_ = store.complete_and_claim([done(job)], params(2, limited=True))
    assert [j.id for j in round_.claimed] == [limited]
    finished = store.get_job(job.id)
    assert finished is not None and finished.state is JobState.SUCCEEDED


def test_async_round_after_a_fruitless_pass(store: Store) -> None:
    first, second = insert(store, _limited(), _limited())

    async def scenario() -> ClaimRound:
        astore = open_async_store(store)
        try:
            (job,) = await astore.claim_jobs(params(limited=True))
            assert job.id == first
            assert await astore.claim_jobs(params(limited=True)) == []
            return await astore.complete_and_claim([done(job)], params(limited=True))
        finally:
            await astore.release()

    round_ = asyncio.run(scenario())
    assert round_.completed == [CompletionResult(first, accepted=True)]
    assert [j.id for j in round_.claimed] == [second]
