"""Builders shared by the run conformance tests (plain functions, no fixtures)."""

from __future__ import annotations

import json
from typing import Any

from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.contract.run_records import (
    ItemPolicy,
    JobTemplate,
    NewRun,
    NewStage,
    RunDetail,
    StageRunInfo,
)
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    Completion,
    CompletionKind,
    ErrorInfo,
    JobFilter,
)

QUEUE = "runs"
PIPELINE = "p"
BOOM = ErrorInfo("ValueError", "boom")


def stage(
    name: str,
    *parents: str,
    fan_out: bool = False,
    policy: ItemPolicy = ItemPolicy.FAIL,
    attempts: int = 1,
) -> NewStage:
    """A stage of pipeline ``p`` whose jobs are named ``p.<name>``."""
    return NewStage(
        name=name,
        template=JobTemplate(queue=QUEUE, name=f"{PIPELINE}.{name}", max_attempts=attempts),
        parents=parents,
        fan_out=fan_out,
        on_item_failure=policy,
    )


def fan(policy: ItemPolicy = ItemPolicy.FAIL, attempts: int = 1) -> tuple[NewStage, ...]:
    """Stages a -> e (one job per item; ``attempts`` for its expander and items) -> f."""
    return (
        stage("a"),
        stage("e", "a", fan_out=True, policy=policy, attempts=attempts),
        stage("f", "e"),
    )


def start(
    store: Store, *stages: NewStage, input: Any = None, now: float | None = None, **kwargs: Any
) -> int:
    """Start a run of ``stages`` with ``input`` (JSON-encoded here), at ``now`` if given."""
    run = NewRun(
        pipeline=PIPELINE,
        input_json=json.dumps(input if input is not None else {"doc": 7}),
        stages=stages,
        **kwargs,
    )
    return store.start_run(run, now=now)


def claim_stage(store: Store, name: str, limit: int = 100, worker: str = "w1") -> list[ClaimedJob]:
    """Claim ready jobs of stage ``name``."""
    return store.claim_jobs(
        ClaimParams(
            worker_id=worker,
            queues=(QUEUE,),
            names=(f"{PIPELINE}.{name}",),
            limit=limit,
            lease_seconds=30.0,
        )
    )


def done(
    job: ClaimedJob,
    result: Any = None,
    kind: CompletionKind = CompletionKind.SUCCEEDED,
    error: ErrorInfo | None = None,
) -> Completion:
    """A stage job's completion (``in_run``), with ``result`` JSON-encoded."""
    return Completion(
        job.id,
        job.token,
        kind,
        result_json=None if result is None else json.dumps(result),
        error=error,
        in_run=True,
    )


def finish(store: Store, job: ClaimedJob, result: Any = None, **kwargs: Any) -> bool:
    """Complete one stage job; whether the store accepted it."""
    [outcome] = store.complete_jobs([done(job, result, **kwargs)])
    return outcome.accepted


def run_one(store: Store, name: str, result: Any = None) -> ClaimedJob:
    """Claim the one ready job of stage ``name`` and complete it with ``result``."""
    [job] = claim_stage(store, name)
    assert finish(store, job, result)
    return job


def detail(store: Store, run_id: int) -> RunDetail:
    """The run, which must exist."""
    found = store.get_run(run_id)
    assert found is not None
    return found


def stage_of(store: Store, run_id: int, name: str) -> StageRunInfo:
    """One stage of the run."""
    return next(s for s in detail(store, run_id).stages if s.stage == name)


def jobs_of(store: Store, name: str, *states: JobState) -> list[int]:
    """Ids of the jobs of stage ``name`` (in ``states``, when given)."""
    flt = JobFilter(name=f"{PIPELINE}.{name}", states=states, limit=100_000, payloads=False)
    return sorted(j.id for j in store.list_jobs(flt))


def args_of(store: Store, job_id: int) -> dict[str, Any]:
    """A job's stored arguments."""
    job = store.get_job(job_id)
    assert job is not None and job.args is not None
    return job.args
