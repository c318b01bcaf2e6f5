"""What a schedule slot enqueues, and firing one by hand: the parts the app itself needs.

The scheduler service (:mod:`conveyor.schedules.scheduler`) decides *when* slots are due; this
module says *what* a slot writes, so the app object can offer
:meth:`~conveyor.app.Conveyor.trigger_schedule` (used by ``conveyor schedules trigger`` and the
dashboard's Trigger button) without the app, the CLI or the web layer building a scheduler.
It sits in the core-app layer, below the services (see docs/architecture.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.middleware import enqueued, not_enqueued
from conveyor.schedules.definition import ScheduleDef
from conveyor.store.contract.run_records import NewRun
from conveyor.store.protocol import NewJob
from conveyor.store.watch_types import (
    ScheduleRow,
    ScheduleSource,
    SlotFire,
    SlotStatus,
    SlotWritten,
)

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.store.contract.run_records import RunDetail
    from conveyor.store.protocol import Store


def definition_for(app: Conveyor, row: ScheduleRow) -> ScheduleDef | None:
    """This process's definition of a stored schedule, or None when it cannot run it.

    Code schedules use the code's definition (with its expectations); a code schedule this
    process does not declare, or a run-time one whose job (or pipeline) it does not know, is
    left to the replicas that do.
    """
    if row.source == ScheduleSource.CODE:
        found = app.schedules.get(row.name)
        if found is not None:
            return found
    definition = ScheduleDef.from_row(row)
    if definition.pipeline is not None:
        return definition if definition.pipeline in app.pipelines else None
    if row.job_name not in app.jobs:
        return None
    return definition


def fire_for(
    app: Conveyor,
    definition: ScheduleDef,
    slot: float,
    *,
    manual: bool = False,
    by: str | None = None,
) -> SlotFire:
    """The enqueued fire of ``slot``: its job, or for a schedule of a pipeline its run."""
    if definition.pipeline is not None:
        seen: dict[str, NewJob] = {}
        try:
            run = run_for(app, definition, slot, seen)
        except BaseException as exc:
            not_enqueued(seen.values(), exc)
            raise
        # Kept only when middleware saw a stage: only then is the run read back once written.
        observed = any(job.enqueueing is not None for job in seen.values())
        return SlotFire(
            slot, SlotStatus.ENQUEUED, manual=manual, by=by, run=run,
            stages=seen if observed else None,
        )
    return SlotFire(slot, SlotStatus.ENQUEUED, job_for(app, definition, slot), manual, by)


def run_for(
    app: Conveyor, definition: ScheduleDef, slot: float, seen: dict[str, NewJob] | None = None
) -> NewRun:
    """The pipeline run a slot starts: the schedule's ``args`` are the run's input, checked
    against the first stage as :meth:`~conveyor.pipelines.Pipeline.start` checks them; its
    deadline counts from now (the store's clock). With ``seen``, the app's enqueue middleware
    sees each stage's job (trace context goes into the stage templates), kept in ``seen``."""
    from conveyor.pipelines.runs import new_run

    assert definition.pipeline is not None
    pipeline = app.pipelines[definition.pipeline]
    args = dict(definition.args)
    tenant = args.pop("tenant", None)
    return new_run(pipeline, args, tenant, app.store.now() if pipeline.deadline else 0.0, seen)


def job_for(app: Conveyor, definition: ScheduleDef, slot: float) -> NewJob:
    """The job a slot enqueues, its meta naming the schedule and the slot."""
    options: dict[str, Any] = {}
    if definition.queue is not None:
        options["queue"] = definition.queue
    if definition.priority is not None:
        options["priority"] = definition.priority
    job = app.get(definition.job_name).prepare(**definition.args, **options)
    meta = json.loads(job.meta_json)
    meta.update(schedule=definition.name, slot=slot)
    job = replace(job, meta_json=json.dumps(meta))
    if definition.overlap == "queue" and job.limit_key is None:
        # One at a time: the next run waits, queued, until the previous one finishes.
        job = replace(job, limit_key=f"schedule:{definition.name}", limit_max=1)
    return job


def trigger(app: Conveyor, store: Store, name: str, *, by: str | None, at: float) -> SlotWritten:
    """Write schedule ``name``'s job now, as a manual slot at ``at`` in its ledger.

    Raises :class:`~conveyor.errors.ConfigurationError` naming the known schedules when there
    is no such schedule, or saying which app to point at when this app does not declare the
    schedule's job.
    """
    row = store.get_schedule(name)
    if row is None:
        known = ", ".join(sorted(r.name for r in store.list_schedules())) or "none"
        raise ConfigurationError(f"no schedule named {name!r} (known: {known})")
    definition = definition_for(app, row)
    if definition is None:
        raise ConfigurationError(
            f"schedule {name!r} runs {_what(row.job_name)}, which this app does not declare; "
            "point --app at the app that does"
        )
    fires = [fire_for(app, definition, at, manual=True, by=by)]
    try:
        written = store.fire_slots(name, fires)
    except BaseException as exc:
        settle_fires(fires, None, exc)
        raise
    settle_fires(fires, written, read_run=store.get_run)
    return written[0]


def settle_fires(
    fires: Sequence[SlotFire],
    written: Sequence[SlotWritten] | None,
    error: BaseException | None = None,
    *,
    read_run: Callable[[int], RunDetail | None] | None = None,
) -> None:
    """Run the enqueue middleware's ``after_enqueue`` for the jobs of ``fires``: with the id
    the store answered for a written slot; None for a slot another scheduler had written, or
    with ``error`` when the write failed (``written`` None). A pipeline schedule's fire
    settles the stage jobs middleware saw as a start does: its run is read back with
    ``read_run`` (only then) for the first stages' job ids; later stages' jobs are the store's
    to write, so they get None."""
    from conveyor.pipelines.runs import settle_stages

    for index, fire in enumerate(fires):
        result = None if written is None else written[index]
        if fire.stages:
            run_id = None if result is None or not result.written else result.run_id
            if run_id is None:
                not_enqueued(fire.stages.values(), error)
            else:
                settle_stages(dict(fire.stages), None if read_run is None else read_run(run_id))
            continue
        if fire.job is None:
            continue
        if result is not None and result.written and result.job_id is not None:
            enqueued(fire.job, result.job_id)
        else:
            not_enqueued([fire.job], error)


def _what(job_name: str) -> str:
    """``job 'x'`` or ``pipeline 'y'``: what a stored schedule runs, for messages."""
    from conveyor.schedules.definition import pipeline_of

    pipeline = pipeline_of(job_name)
    return f"job {job_name!r}" if pipeline is None else f"pipeline {pipeline!r}"
