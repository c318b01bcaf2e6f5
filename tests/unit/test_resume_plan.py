"""Unit: planning a resume from a run record and the code's declaration (no database)."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from conveyor import ArgumentError, Conveyor, ResumeRefusedError
from conveyor.models import RunState, StageState
from conveyor.pipelines.resume import UNSET, plan_resume
from conveyor.store.contract.run_records import ItemPolicy, JobTemplate, RunDetail, StageRunInfo


class Point(pydantic.BaseModel):
    x: int
    y: int


def declare() -> Conveyor:
    app = Conveyor("sqlite:///never-opened.db")
    p = app.pipeline("p")
    a = p.stage(name="a")(lambda ctx, n: n)

    def b_fn(ctx: Any, n: Any) -> Point:
        return Point(x=n, y=n)

    def c_fn(ctx: Any, point: Point) -> int:
        return point.x

    b = p.stage(name="b", after=a)(b_fn)
    c = p.stage(name="c", after=b)(c_fn)
    p.stage(name="d", after=c)(lambda ctx, n: n)
    return app


def stage(name: str, state: StageState, parents: tuple[str, ...] = (),
          output: Any = None) -> StageRunInfo:
    return StageRunInfo(
        id=hash(name) % 1000, stage=name, state=state, parents=parents, fan_out=False,
        on_item_failure=ItemPolicy.FAIL, pending_parents=0, items_total=1, items_left=0,
        items_failed=0, template=JobTemplate(queue="default", name=f"p.{name}", max_attempts=1),
        job_ids=(1,), output_json=None if output is None else json.dumps(output),
        started_at=None, finished_at=None, error=None, override_json=None,
    )


def run(state: RunState, *stages: StageRunInfo, graph: str = "{}") -> RunDetail:
    return RunDetail(
        id=9, pipeline="p", state=state, input_json='{"n": 1}', result_json=None, error=None,
        graph_json=graph, created_at=0.0, finished_at=None, deadline_at=None, stall_after=None,
        last_progress_at=0.0, resumes=0, tenant=None, stages=stages,
    )


OK = StageState.SUCCEEDED


def failed_at_c(b_output: Any = None) -> RunDetail:
    return run(
        RunState.FAILED,
        stage("a", OK, output=1),
        stage("b", OK, ("a",), output=b_output if b_output is not None else {"x": 1, "y": 1}),
        stage("c", StageState.FAILED, ("b",)),
        stage("d", StageState.CANCELLED, ("c",)),
    )


def test_failed_stages_and_their_descendants_rerun_and_the_rest_is_reused() -> None:
    plan = plan_resume(declare(), failed_at_c(), None, UNSET)
    assert (plan.rerun, plan.reuse, plan.applied) == (("c", "d"), ("a", "b"), False)
    plan = plan_resume(declare(), failed_at_c(), "b", UNSET)
    assert plan.rerun == ("b", "c", "d")


def test_a_changed_model_refuses_and_names_the_stage_to_resume_from() -> None:
    with pytest.raises(ResumeRefusedError, match=r"stage `b`.*Resume from `b`"):
        plan_resume(declare(), failed_at_c({"x": 1, "z": 1}), None, UNSET)
    # A replacement input for `c` needs nothing of `b`'s stored output.
    plan = plan_resume(declare(), failed_at_c({"x": 1, "z": 1}), "c", {"x": 5, "y": 6})
    assert plan.input_json == '{"x":5,"y":6}'


def test_a_bad_replacement_input_names_the_field() -> None:
    with pytest.raises(ArgumentError, match=r"`y: int`"):
        plan_resume(declare(), failed_at_c(), "c", {"x": 5})


@pytest.mark.parametrize(
    ("detail", "from_", "given", "needle"),
    [
        (run(RunState.RUNNING, stage("a", StageState.ACTIVE)), None, UNSET, "still running"),
        (failed_at_c(), None, {"x": 1}, "needs the stage"),
        (failed_at_c(), "zz", UNSET, "no stage 'zz'"),
        (failed_at_c(), "d", UNSET, "stage `c` is failed"),
        (run(RunState.SUCCEEDED, stage("a", OK, output=1), stage("b", OK, ("a",), output={}),
             stage("c", OK, ("b",), output=1), stage("d", OK, ("c",), output=1)),
         None, UNSET, "nothing failed"),
        (run(RunState.FAILED, stage("x", StageState.FAILED), graph='{"workflow": true}'),
         "x", {"a": 1}, "own arguments"),
    ],
)
def test_resumes_that_cannot_be_done_are_refused(
    detail: RunDetail, from_: str | None, given: Any, needle: str
) -> None:
    with pytest.raises(ResumeRefusedError, match=needle):
        plan_resume(declare(), detail, from_, given)


def test_a_workflow_resumes_from_its_stored_graph_without_its_code() -> None:
    detail = run(RunState.FAILED, stage("x", OK, output=1), stage("y", StageState.FAILED, ("x",)),
                 graph='{"workflow": true, "nodes": {}}')
    plan = plan_resume(Conveyor("sqlite:///never-opened.db"), detail, None, UNSET)
    assert (plan.rerun, plan.reuse, plan.workflow) == (("y",), ("x",), True)
