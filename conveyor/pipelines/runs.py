"""Starting runs of a declared pipeline: the input check, the stages' job templates, the insert.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor._jobs import check_tenant
from conveyor.errors import ConfigurationError
from conveyor.middleware import enqueued, not_enqueued
from conveyor.pipelines.handle import RunHandle
from conveyor.store.contract.run_records import ItemPolicy, NewRun, NewStage

if TYPE_CHECKING:
    from conveyor.pipelines.declare import Pipeline
    from conveyor.store.contract.records import NewJob
    from conveyor.store.contract.run_records import RunDetail


def new_run(
    pipeline: Pipeline,
    inputs: dict[str, Any],
    tenant: str | None,
    now: float,
    seen: dict[str, NewJob] | None = None,
) -> NewRun:
    """The run to insert: its input checked against the first stages, every stage's graph
    and template. With ``seen``, the enqueue middleware sees every stage's job (see
    :meth:`~conveyor.pipelines.declare.Stage.template`); settle them with
    :func:`settle_stages` once the run is written (or :func:`not_enqueued` if it fails)."""
    roots = pipeline.roots
    if not roots:
        raise ConfigurationError(
            f"pipeline {pipeline.name!r} has no stages; declare some with @pipeline.stage"
        )
    limit = pipeline.app.max_payload_bytes
    input_json = roots[0].inputs.encode((), dict(inputs), limit)
    for other in roots[1:]:
        other.inputs.encode((), json.loads(input_json), limit)
    tenant = check_tenant(tenant)
    stages = tuple(
        NewStage(
            name=s.name,
            template=s.template(tenant, seen),
            parents=tuple(p.name for p in s.parents),
            fan_out=s.fan_out,
            on_item_failure=ItemPolicy(s.on_item_failure),
        )
        for s in pipeline.stages.values()
    )
    return NewRun(
        pipeline=pipeline.name,
        input_json=input_json,
        stages=stages,
        deadline_at=None if pipeline.deadline is None else now + pipeline.deadline,
        stall_after=pipeline.stall,
        tenant=tenant,
    )


def start_run(
    pipeline: Pipeline, inputs: dict[str, Any], *, connection: object | None = None
) -> RunHandle:
    """Insert a run of ``pipeline`` and its first jobs; the handle to follow it."""
    app = pipeline.app
    tenant = inputs.pop("tenant", None)
    seen: dict[str, NewJob] = {}
    try:
        run = new_run(pipeline, inputs, tenant, app.store.now() if pipeline.deadline else 0.0, seen)
        run_id = app.store.start_run(run, connection=connection)
    except BaseException as exc:
        not_enqueued(seen.values(), exc)
        raise
    app._notify_local()
    if _observed(seen):
        settle_stages(seen, None if connection is not None else app.store.get_run(run_id))
    return RunHandle(app, run_id, pipeline.name)


async def start_run_async(
    pipeline: Pipeline, inputs: dict[str, Any], *, connection: object | None = None
) -> RunHandle:
    """The async twin of :func:`start_run`."""
    app = pipeline.app
    tenant = inputs.pop("tenant", None)
    seen: dict[str, NewJob] = {}
    try:
        run = new_run(pipeline, inputs, tenant, app.store.now() if pipeline.deadline else 0.0, seen)
        run_id = await app.async_store.start_run(run, connection=connection)
    except BaseException as exc:
        not_enqueued(seen.values(), exc)
        raise
    app._notify_local()
    if _observed(seen):
        detail = None if connection is not None else await app.async_store.get_run(run_id)
        settle_stages(seen, detail)
    return RunHandle(app, run_id, pipeline.name)


def settle_stages(seen: dict[str, NewJob], detail: RunDetail | None) -> None:
    """Run the enqueue middleware's ``after_enqueue`` for a started run's stage jobs: a first
    stage's with the id of the job the start wrote (``detail``, the run as read back), every
    other stage's with None (the store writes its jobs later, when its parents succeed; and
    with no ``detail``, for a run started inside the caller's transaction, every stage's)."""
    first = {} if detail is None else {s.stage: s.job_ids[0] for s in detail.stages if s.job_ids}
    for name, job in seen.items():
        job_id = first.get(name)
        if job_id is None:
            not_enqueued([job])
        else:
            enqueued(job, job_id)


def _observed(seen: dict[str, NewJob]) -> bool:
    """True when middleware saw a stage (only then is the run read back for its job ids)."""
    return any(job.enqueueing is not None for job in seen.values())

