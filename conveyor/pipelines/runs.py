"""Starting runs of a declared pipeline: the input check, the stages' job templates, the insert.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor._jobs import check_tenant
from conveyor.errors import ConfigurationError
from conveyor.pipelines.handle import RunHandle
from conveyor.store.contract.run_records import ItemPolicy, NewRun, NewStage

if TYPE_CHECKING:
    from conveyor.pipelines.declare import Pipeline


def new_run(pipeline: Pipeline, inputs: dict[str, Any], tenant: str | None, now: float) -> NewRun:
    """The run to insert: its input checked against the first stages, every stage's graph
    and template."""
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
            template=s.template(tenant),
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
    run = new_run(pipeline, inputs, tenant, app.store.now() if pipeline.deadline else 0.0)
    run_id = app.store.start_run(run, connection=connection)
    app._notify_local()
    return RunHandle(app, run_id, pipeline.name)


async def start_run_async(
    pipeline: Pipeline, inputs: dict[str, Any], *, connection: object | None = None
) -> RunHandle:
    """The async twin of :func:`start_run`."""
    app = pipeline.app
    tenant = inputs.pop("tenant", None)
    run = new_run(pipeline, inputs, tenant, app.store.now() if pipeline.deadline else 0.0)
    run_id = await app.async_store.start_run(run, connection=connection)
    app._notify_local()
    return RunHandle(app, run_id, pipeline.name)

