"""Conformance: a finished stage job is not retried or replayed alone (decision 75).

Replaying a dead stage job by itself would run its stage outside its stopped run, which would
never move again; the store refuses the whole retry, names the run and says to resume it."""

from __future__ import annotations

import pytest
from run_helpers import BOOM, QUEUE, claim_stage, detail, finish, jobs_of, run_one, stage, start

from conveyor.errors import ConfigurationError, StageJobRetryError
from conveyor.models import JobState, RunState
from conveyor.store import Store
from conveyor.store.contract.run_records import RunReset
from conveyor.store.protocol import (
    ClaimParams,
    Completion,
    CompletionKind,
    JobFilter,
    NewJob,
    Replay,
)


def _dead_plain(store: Store) -> int:
    [inserted] = store.insert_jobs(
        [NewJob(queue=QUEUE, name="plain", args_json='{"run_id": 1}', max_attempts=1)]
    )
    params = ClaimParams(
        worker_id="w1", queues=(QUEUE,), names=("plain",), limit=1, lease_seconds=30.0
    )
    [claimed] = store.claim_jobs(params)
    [done] = store.complete_jobs(
        [Completion(claimed.id, claimed.token, CompletionKind.DEAD, error=BOOM)]
    )
    assert done.accepted
    return inserted.id


def _failed_run(store: Store) -> tuple[int, int, int]:
    """A run whose stage ``b`` died: its id, b's dead job and the cancelled job of ``side``."""
    run_id = start(store, stage("a"), stage("b", "a"), stage("side"))
    run_one(store, "a", 1)
    [job] = claim_stage(store, "b")
    assert finish(store, job, kind=CompletionKind.DEAD, error=BOOM)
    assert detail(store, run_id).state is RunState.FAILED
    side = max(jobs_of(store, "side", JobState.CANCELLED))  # this run's: the newest
    return run_id, job.id, side


def test_replaying_a_dead_stage_job_is_refused_naming_its_run(store: Store) -> None:
    run_id, dead, cancelled = _failed_run(store)
    plain = _dead_plain(store)
    for flt in (JobFilter(ids=(dead,)), JobFilter(queue=QUEUE)):
        with pytest.raises(StageJobRetryError) as caught:
            store.retry_jobs(flt, replay=Replay())
        message = str(caught.value)
        assert f"job {dead} is stage `b` of run {run_id}" in message
        assert f"conveyor runs resume {run_id}" in message
        assert isinstance(caught.value, ConfigurationError)
        assert caught.value.run_ids == [run_id]
    # Nothing moved: not the stage job, not the plain dead job picked beside it.
    assert store.get_job(dead).state is JobState.DEAD  # type: ignore[union-attr]
    assert store.get_job(plain).state is JobState.DEAD  # type: ignore[union-attr]
    # A plain retry (``conveyor jobs retry``) refuses dead and cancelled stage jobs too.
    for ids in ((dead,), (cancelled,), (dead, cancelled, plain)):
        with pytest.raises(StageJobRetryError):
            store.retry_jobs(JobFilter(ids=ids))
    assert store.get_job(cancelled).state is JobState.CANCELLED  # type: ignore[union-attr]
    # The plain job alone replays as before; the run resumes through its own verb.
    assert store.retry_jobs(JobFilter(ids=(plain,)), replay=Replay()) == [plain]
    assert store.reset_run(RunReset(run_id, ("b", "side")))
    assert detail(store, run_id).state is RunState.RUNNING
    assert len(jobs_of(store, "b", JobState.QUEUED)) == 1


def test_two_stage_jobs_are_named_with_their_runs(store: Store) -> None:
    first, dead1, _ = _failed_run(store)
    second, dead2, _ = _failed_run(store)
    with pytest.raises(StageJobRetryError) as caught:
        store.retry_jobs(JobFilter(states=(JobState.DEAD,)), replay=Replay(per_second=10))
    assert caught.value.job_ids == [dead1, dead2]
    assert caught.value.run_ids == [first, second]
    assert f"runs {first}, {second}" in str(caught.value)
    assert "conveyor runs resume RUN" in str(caught.value)


def test_a_waiting_stage_job_is_still_made_due_now(store: Store) -> None:
    """Only finished stage jobs are refused: a retrying one belongs to a running run."""
    run_id = start(store, stage("a"))
    [job] = claim_stage(store, "a")
    assert finish(store, job, kind=CompletionKind.RETRY, error=BOOM)
    assert store.retry_jobs(JobFilter(ids=(job.id,))) == [job.id]
    assert detail(store, run_id).state is RunState.RUNNING
