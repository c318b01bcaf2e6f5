"""Planning a resume: which stages run again, which stored outputs are reused, and whether
those outputs still fit the code.

The plan is decided here, in Python, from the run the store holds and the pipeline the code
declares now; the store's ``reset_run`` then applies it in one transaction. A stored output
that a re-run stage would take but that no longer validates against its stage's current
return type refuses the resume, naming the stage to resume from instead.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from conveyor.errors import ArgumentError, ConfigurationError, ResumeRefusedError
from conveyor.models import RunState, StageState
from conveyor.pipelines.graph import is_workflow
from conveyor.pipelines.seams import adapter, compact_json, describe
from conveyor.store.contract.run_records import RunDetail, RunReset

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.pipelines.declare import Pipeline, Stage


UNSET: Any = object()
"""``input=`` left out of a resume (``None`` is a valid input)."""


@dataclass(frozen=True)
class ResumePlan:
    """What a resume re-runs and what it reuses (``dry_run`` returns it unapplied)."""

    run_id: int
    pipeline: str
    rerun: tuple[str, ...]
    """Stages that run again, in the run's stage order."""
    reuse: tuple[str, ...]
    """Stages whose stored outputs are kept (succeeded stages outside ``rerun``)."""
    from_stage: str | None
    input_json: str | None
    """The replacement input of ``from_stage`` (JSON), or None to keep its input."""
    applied: bool = False
    """True once the store applied it (False for a dry run)."""
    tenant: str | None = None
    """The run's tenant: the re-run stages' jobs keep it."""
    workflow: bool = False
    """The run is a workflow's (built at run time), not a declared pipeline's."""

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (``conveyor runs resume --json``)."""
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "rerun": list(self.rerun),
            "reuse": list(self.reuse),
            "from": self.from_stage,
            "input": None if self.input_json is None else json.loads(self.input_json),
            "applied": self.applied,
        }


def declared(app: Conveyor, run: RunDetail) -> Pipeline:
    """The code's declaration of the run's pipeline; resuming needs it."""
    pipeline = app.pipelines.get(run.pipeline)
    if pipeline is None:
        raise ConfigurationError(
            f"run {run.id} is of pipeline {run.pipeline!r}, which this app does not declare; "
            "resume it with the app that declares it (--app module:app)"
        )
    return pipeline


def plan_resume(app: Conveyor, run: RunDetail, from_: str | None, given: Any) -> ResumePlan:
    """Decide a resume of ``run``; raise :class:`ResumeRefusedError` when it cannot be done.

    A workflow's run carries its own graph and its nodes their own arguments: it is resumed
    without its code's declaration, and without replacement input."""
    workflow = is_workflow(run.graph_json)
    pipeline = None if workflow else declared(app, run)
    if workflow and given is not UNSET:
        raise ResumeRefusedError(
            f"run {run.id} is a workflow's: its nodes take their own arguments, so there is "
            "no stage input to replace; resume it without input="
        )
    if run.state is RunState.RUNNING:
        raise ResumeRefusedError(
            f"run {run.id} is still running; wait for it to finish or cancel it "
            f"(`conveyor runs cancel {run.id}`) before resuming"
        )
    names = [s.stage for s in run.stages]
    missing = [] if pipeline is None else [n for n in names if n not in pipeline.stages]
    if missing:
        raise ResumeRefusedError(
            f"run {run.id} has stage(s) {', '.join(missing)} that pipeline {run.pipeline!r} "
            "no longer declares; it cannot be resumed with this code"
        )
    if from_ is not None and from_ not in names:
        raise ResumeRefusedError(
            f"run {run.id} has no stage {from_!r} (stages: {', '.join(names)})"
        )
    if given is not UNSET and from_ is None:
        raise ResumeRefusedError(
            "a replacement input needs the stage it is for: pass from_= (--from STAGE)"
        )
    if from_ is not None:
        start = {from_}
    else:
        start = {s.stage for s in run.stages if s.state is not StageState.SUCCEEDED}
        if not start:
            raise ResumeRefusedError(
                f"run {run.id} succeeded: nothing failed to resume; pass from_= (--from STAGE) "
                "to run a stage and everything after it again"
            )
    rerun = _descendants(run, start)
    for stage in run.stages:
        if stage.stage not in rerun and stage.state is not StageState.SUCCEEDED:
            raise ResumeRefusedError(
                f"run {run.id}: stage `{stage.stage}` is {stage.state} and would not be re-run "
                f"from {from_!r}; resume from it (or from a stage before it)"
            )
    input_json = None
    if pipeline is not None:
        if given is not UNSET:
            input_json = encode_input(pipeline.stages[from_ or ""], given)
        _check_reused(pipeline, run, rerun, from_ if input_json is not None else None)
    return ResumePlan(
        run_id=run.id,
        pipeline=run.pipeline,
        rerun=tuple(n for n in names if n in rerun),
        reuse=tuple(n for n in names if n not in rerun),
        from_stage=from_,
        input_json=input_json,
        tenant=run.tenant,
        workflow=workflow,
    )


def _descendants(run: RunDetail, start: set[str]) -> set[str]:
    """``start`` and every stage after them, from the graph the run stored."""
    closed = set(start)
    frontier = list(start)
    while frontier:
        name = frontier.pop()
        for child in run.stages:
            if name in child.parents and child.stage not in closed:
                closed.add(child.stage)
                frontier.append(child.stage)
    return closed


def _check_reused(
    pipeline: Pipeline, run: RunDetail, rerun: set[str], overridden: str | None
) -> None:
    """Every stored input a re-run stage will take must still validate against the code."""
    outputs = {s.stage: s for s in run.stages}
    for name in rerun:
        stage = pipeline.stages[name]
        if name == overridden:
            continue
        if not stage.parents:
            try:
                stage.inputs.decode(run.input_json)
            except ArgumentError as exc:
                raise ResumeRefusedError(
                    f"run {run.id}'s input no longer fits stage `{name}` ({exc}); resume with "
                    f"a corrected input: from_={name!r}, input=... (--from {name} --input FILE)"
                ) from exc
            continue
        for parent in stage.parents:
            if parent.name in rerun:
                continue
            stored = outputs[parent.name].output_json
            if stored is None:
                continue  # the store has none to reuse; reset_run recomputes readiness
            value = json.loads(stored)
            try:
                adapter(parent.produces()).validate_python(value)
            except pydantic.ValidationError as exc:
                reason = describe(f"`{parent.name}`", "stored", value, parent.produces(), exc)
                raise ResumeRefusedError(
                    f"resume refused: the code's models changed since run {run.id} stored the "
                    f"output of stage `{parent.name}`, which `{name}` would reuse: {reason}. "
                    f"Resume from `{parent.name}` to produce it again (from_={parent.name!r}, "
                    f"--from {parent.name}), or give `{name}` a corrected input"
                ) from exc


def encode_input(stage: Stage, value: Any) -> str:
    """A replacement input for ``stage`` (the shape it would get: the input object of a first
    stage, the parent's output for one parent or a fan-out, an object by parent name for
    several), validated; :class:`ArgumentError` names the field."""
    limit = stage.pipeline.app.max_payload_bytes
    if not stage.parents:
        if not isinstance(value, dict):
            raise ArgumentError(
                f"the input of first stage `{stage.name}` is an object of its parameters "
                f"({', '.join(stage.params)}), got {type(value).__name__}"
            )
        return stage.inputs.encode((), value, limit)
    if stage.fan_out:
        parent = stage.parents[0]
        annotation: object = parent.produces()
    elif len(stage.parents) == 1:
        annotation = stage.param_types[stage.params[0]]
    else:
        if not isinstance(value, dict):
            raise ArgumentError(
                f"the input of stage `{stage.name}` is an object by parent "
                f"({', '.join(stage.params)}), got {type(value).__name__}"
            )
        return stage.inputs.encode((), value, limit)
    check = adapter(annotation)
    try:
        plain = check.dump_python(check.validate_python(value), mode="json")
    except pydantic.ValidationError as exc:
        raise ArgumentError(
            "the replacement input " + describe(f"for `{stage.name}`", "has", value,
                                                annotation, exc)
        ) from exc
    text = compact_json(plain)
    if len(text.encode()) > limit:
        raise ArgumentError(
            f"the replacement input of `{stage.name}` is {len(text.encode())} bytes, over the "
            f"limit of {limit} bytes (Conveyor(max_payload_bytes=...))"
        )
    return text


def _reset(app: Conveyor, plan: ResumePlan, by: str | None) -> RunReset:
    pipeline = None if plan.workflow else app.pipelines[plan.pipeline]
    return RunReset(
        run_id=plan.run_id,
        stages=plan.rerun,
        input_override=None if plan.input_json is None or plan.from_stage is None
        else (plan.from_stage, plan.input_json),
        # A pipeline's stages take the options the code declares now; a workflow's nodes
        # keep the templates (and so the arguments) they were started with.
        templates=() if pipeline is None
        else tuple((n, pipeline.stages[n].template(plan.tenant)) for n in plan.rerun),
        by=by,
    )


def _applied(plan: ResumePlan, done: bool) -> ResumePlan:
    if not done:
        raise ResumeRefusedError(
            f"run {plan.run_id} was resumed or started running again meanwhile; nothing was "
            "written (`conveyor runs show` it)"
        )
    return dataclasses.replace(plan, applied=True)


def apply_resume(app: Conveyor, plan: ResumePlan, by: str | None) -> ResumePlan:
    """Write the plan (one transaction in the store); the plan marked applied."""
    done = app.store.reset_run(_reset(app, plan, by))
    app._notify_local()
    return _applied(plan, done)


async def apply_resume_async(app: Conveyor, plan: ResumePlan, by: str | None) -> ResumePlan:
    """The async twin of :func:`apply_resume`."""
    done = await app.async_store.reset_run(_reset(app, plan, by))
    app._notify_local()
    return _applied(plan, done)
