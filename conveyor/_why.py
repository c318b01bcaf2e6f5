"""Why is a pipeline run not moving? Name what its stages wait for, in plain words.

:mod:`conveyor.why` explains one job; this module adds what a job cannot say about itself
when it belongs to a run: which stage (and item) it is, what a waiting stage waits for
("waiting for 3 of 10,000 items of `embed`; 2 failed, policy skip"), and, for the job that
holds a stage back, that job's own reasons. ``conveyor jobs why JOB`` and
``conveyor jobs why --run RUN [--stage S]`` print them, and the dashboard shows them on a
stage job's page and on the run's page.

Everything here only reads: one ``get_run`` per question, plus a bounded look at a fan-out
stage's item jobs to find one that still waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conveyor.models import PENDING_STATES, Job, RunState, StageState
from conveyor.store.contract.run_records import EXPANDER_ITEM, RunDetail, StageRunInfo
from conveyor.store.protocol import JobFilter, Store

STAGE_ARGS = frozenset({"run_id", "stage_run_id", "item"})
"""The arguments of every stage job (the store writes them), besides the optional ``given``
(its input, when the hand-off copied it in)."""
ITEM_CHUNK = 1000
"""Waiting item jobs read at most when looking for the one a fan-out stage waits for."""
OPEN_STAGES = frozenset({StageState.WAITING, StageState.ACTIVE})


@dataclass(frozen=True, slots=True)
class Reason:
    """One thing that holds a job (or a stage of a run) back, or says nothing does.

    ``code`` is stable, for scripts. For a job: ``not_found``, ``running``, ``finished``,
    ``stalled`` (after ``running``: its progress stood still for ``stall_after``),
    ``expired``, ``scheduled``, ``snoozed``, ``retrying``, ``paused``, ``no_worker``,
    ``unknown_name``, ``limit_full``, ``rate_spent``, ``behind`` or ``ready``. For runs and
    stages: ``stage`` (which stage a job is), ``run_over`` (the run finished: nothing more
    starts), ``stage_done``, ``waiting`` (a stage waits for its parents), ``items`` (a fan-out
    stage's items left), ``expanding`` (a fan-out stage writing its items) and ``stage_job``
    (the job a stage runs as); a job's own reasons keep their codes when they explain a stage.
    """

    code: str
    message: str


ExplainJob = Callable[[int], list[Reason]]
"""A job's own reasons by id (:func:`conveyor.why.explain` bound to a store)."""


@dataclass(frozen=True, slots=True)
class StageRef:
    """The run, stage and item a stage job belongs to."""

    run: RunDetail
    stage: StageRunInfo
    item: int
    current: bool
    """False for a job from before a resume: the stage has run again as other jobs since."""


def stage_of(store: Store, job: Job) -> StageRef | None:
    """The stage ``job`` runs for, or None for a job outside any run (or a pruned run)."""
    args = job.args
    if not isinstance(args, dict) or set(args) - {"given"} != STAGE_ARGS:
        return None
    run_id, stage_run_id, item = args["run_id"], args["stage_run_id"], args["item"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (run_id, stage_run_id,
                                                                      item)):
        return None
    run = store.get_run(run_id, outputs=0)  # states, counts and job ids: no output
    if run is None:
        return None
    for stage in run.stages:
        if stage.id == stage_run_id:
            return StageRef(run, stage, item, job.id in stage.job_ids)
    return None


def count(n: int) -> str:
    """``10,000``: item counts read better with separators."""
    return f"{n:,}"


def job_context(store: Store, job: Job) -> list[Reason]:
    """What a stage job is, and (for a finished one) what its stage still waits for.

    Empty for a job outside any run."""
    ref = stage_of(store, job)
    if ref is None:
        return []
    run, stage = ref.run, ref.stage
    if ref.item == EXPANDER_ITEM:
        what = f"the expander of fan-out stage `{stage.stage}` (it writes the stage's items)"
    elif stage.fan_out:
        what = f"item {ref.item} of fan-out stage `{stage.stage}`"
        if stage.items_total:
            what += f" ({count(stage.items_total)} items)"
    else:
        what = f"stage `{stage.stage}`"
    reasons = [Reason("stage", f"job {job.id} is {what} of run {run.id} (pipeline "
                               f"{run.pipeline}, {run.state})")]
    if not ref.current:
        reasons.append(Reason("stage", f"the stage has run again since (the run was resumed); "
                                       f"job {job.id} is from an earlier attempt and no "
                                       "longer counts"))
        return reasons
    if run.state is not RunState.RUNNING:
        reasons.append(_run_over(run))
    elif job.state.is_final and stage.state is StageState.ACTIVE and stage.fan_out:
        reasons.append(_items(stage))
    return reasons


def explain_stage(
    store: Store, run: RunDetail, stage: StageRunInfo, explain_job: ExplainJob
) -> list[Reason]:
    """Why stage ``stage`` of ``run`` has not finished; never empty."""
    if stage.state not in OPEN_STAGES:
        return [Reason("stage_done", f"stage `{stage.stage}` of run {run.id} is not waiting: "
                                     f"it finished as {stage.state}")]
    if run.state is not RunState.RUNNING:
        return [_run_over(run)]
    if stage.state is StageState.WAITING:
        return _waiting(run, stage)
    if stage.fan_out and stage.items_total == 0:
        expander = stage.job_ids[0] if stage.job_ids else None
        message = (f"fan-out stage `{stage.stage}` is writing its items: its expander job "
                   f"{expander} calls each= on `{stage.parents[0]}`'s output"
                   if expander is not None else
                   f"fan-out stage `{stage.stage}` has no expander job yet")
        reasons = [Reason("expanding", message)]
        return reasons + _job_reasons(expander, explain_job)
    if stage.fan_out:
        reasons = [_items(stage)]
        items = stage.job_ids[1:]  # the expander comes first
        waiting = _waiting_item(store, items)
        if waiting is None:
            return [*reasons, Reason("items", f"every item of `{stage.stage}` left is running "
                                              "now")]
        label = f"job {waiting} (item {items.index(waiting)})"
        return reasons + _job_reasons(waiting, explain_job, label)
    job_id = stage.job_ids[-1] if stage.job_ids else None
    reasons = [Reason("stage_job", f"stage `{stage.stage}` runs as job {job_id}")]
    return reasons + _job_reasons(job_id, explain_job)


def explain_run(store: Store, run: RunDetail, explain_job: ExplainJob) -> list[Reason]:
    """Why ``run`` has not finished: each unfinished stage's reasons, in the run's order."""
    if run.state is not RunState.RUNNING:
        return [_run_over(run)]
    reasons: list[Reason] = []
    for stage in run.stages:
        if stage.state in OPEN_STAGES:
            reasons.extend(explain_stage(store, run, stage, explain_job))
    return reasons or [Reason("stage_done", f"run {run.id} has no unfinished stage; it "
                                            "finishes with its last stage's completion")]


def _run_over(run: RunDetail) -> Reason:
    error = f": {run.error}" if run.error else ""
    then = (f"; `conveyor runs resume {run.id}` re-runs what failed"
            if run.state in (RunState.FAILED, RunState.CANCELLED) else "")
    return Reason("run_over", f"run {run.id} is {run.state}{error}; none of its stages starts "
                              f"again by itself{then}")


def _items(stage: StageRunInfo) -> Reason:
    failed = (f"; {count(stage.items_failed)} failed, policy {stage.on_item_failure}"
              if stage.items_failed else f"; none failed (policy {stage.on_item_failure})")
    return Reason("items", f"waiting for {count(stage.items_left)} of "
                           f"{count(stage.items_total)} items of `{stage.stage}`{failed}")


def _waiting(run: RunDetail, stage: StageRunInfo) -> list[Reason]:
    """A waiting stage: one reason per parent that has not succeeded yet."""
    by_name = {s.stage: s for s in run.stages}
    reasons: list[Reason] = []
    for name in stage.parents:
        parent = by_name.get(name)
        if parent is None or parent.state is StageState.SUCCEEDED:
            continue
        where = f"stage `{stage.stage}` waits for `{name}`"
        if parent.fan_out and parent.state is StageState.ACTIVE and parent.items_total:
            failed = (f"; {count(parent.items_failed)} failed, policy {parent.on_item_failure}"
                      if parent.items_failed else "")
            message = (f"stage `{stage.stage}` is waiting for {count(parent.items_left)} of "
                       f"{count(parent.items_total)} items of `{name}`{failed}")
        elif parent.state is StageState.WAITING:
            message = f"{where}, which waits for its own parents ({', '.join(parent.parents)})"
        else:
            message = f"{where} ({parent.state})"
        reasons.append(Reason("waiting", message))
    return reasons or [Reason("waiting", f"stage `{stage.stage}` has every parent done; it "
                                         "becomes active in the transaction that finished the "
                                         "last one")]


def _waiting_item(store: Store, job_ids: Sequence[int]) -> int | None:
    """A fan-out stage's item job that still waits: the lowest id among (at most
    :data:`ITEM_CHUNK` of) the waiting ones, the next to start. One query, no payloads."""
    found = store.list_jobs(JobFilter(ids=tuple(job_ids), states=tuple(PENDING_STATES),
                                      limit=ITEM_CHUNK, payloads=False))
    return min((job.id for job in found), default=None)


def _job_reasons(job_id: int | None, explain_job: ExplainJob, label: str = "") -> list[Reason]:
    """A stage's job's own reasons, each saying which job it is about."""
    if job_id is None:
        return []
    own, label = f"job {job_id} ", label or f"job {job_id}"
    return [r if r.message.startswith(own) else Reason(r.code, f"{label}: {r.message}")
            for r in explain_job(job_id)]
