"""The run verbs that read, ``ctx.step``'s checkpoints and the pruning of finished runs, as
plans written once for both stores (see :mod:`conveyor.store.run_plans` for the dialect)."""

from __future__ import annotations

import json
from typing import Any

from conveyor.models import RunState, StageState
from conveyor.store.contract.run_records import (
    ItemFailure,
    ItemPolicy,
    ParentOutput,
    RunDetail,
    RunFilter,
    RunSummary,
    StageInput,
    StageOutputPage,
    StageRunInfo,
)
from conveyor.store.plan import Plan
from conveyor.store.run_graph import (
    ItemRow,
    StageRow,
    fan_output,
    parent_output,
    stage_from_row,
    stage_output,
)
from conveyor.store.run_plans import RunDialect


def stage_input(
    d: RunDialect, stage_run_id: int, item: int, now: float | None
) -> Plan[StageInput | None]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_input`."""
    head = yield d.stmt("run_stage_head", {"stage_run_id": stage_run_id, "item": item}, now)
    if not head.rows:
        return None
    run_id, stage, parents_json, override, run_input, run_state, fan_out, item_input = (
        head.rows[0]
    )
    parents: list[str] = json.loads(parents_json)
    outputs: list[ParentOutput] = []
    # An item of a fan-out stage needs only its own input: reading its parent's output for
    # each of 10,000 items would read it 10,000 times (the expander, item -1, does need it).
    if parents and not (fan_out and item >= 0):
        # One read for the parents' shapes and a plain parent's item; a fan-out parent's
        # outputs have a read of their own (not every item's whole row).
        found = yield d.stmt(
            "run_parent_items", {"run_id": run_id, "parents": json.dumps(parents)}, now
        )
        shapes: dict[str, tuple[int, bool, ItemPolicy]] = {}
        items: dict[str, list[ItemRow]] = {}
        for sid, name, fan, policy, num, state, input_json, output_json, error in found.rows:
            shapes[name] = (int(sid), bool(fan), ItemPolicy(policy))
            if num is not None:
                items.setdefault(name, []).append(
                    ItemRow(int(num), state, input_json, output_json, error)
                )
        for p in parents:
            sid, fan, policy = shapes[p]
            if fan:
                outputs.append((yield from _fan_output(d, p, sid, policy, now)))
            else:
                outputs.append(parent_output(p, fan, policy, items.get(p, [])))
    return StageInput(
        run_id=int(run_id),
        stage=stage,
        item=item,
        run_state=RunState(run_state),
        run_input_json=run_input,
        parents=tuple(outputs),
        item_input_json=item_input,
        override_json=override,
    )


def _fan_output(
    d: RunDialect, name: str, stage_run_id: int, policy: ItemPolicy, now: float | None
) -> Plan[ParentOutput]:
    """A fan-out parent's output (as :func:`~conveyor.store.run_graph.parent_output` gives
    it, from two reads of its items rather than every whole row): its succeeded items'
    outputs in item order, and under ``collect`` its failures."""
    found = yield d.stmt("run_fan_outputs", {"stage_run_id": stage_run_id}, now)
    failures: tuple[ItemFailure, ...] = ()
    if policy is ItemPolicy.COLLECT:
        failed = yield d.stmt("run_fan_failures", {"stage_run_id": stage_run_id}, now)
        failures = tuple(
            ItemFailure(int(num), input_json, error) for num, input_json, error in failed.rows
        )
    return fan_output(name, (r[0] for r in found.rows), failures)


def get_run(
    d: RunDialect, run_id: int, now: float | None, outputs: int | None = None
) -> Plan[RunDetail | None]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.get_run`: the run row, its stage
    rows, then every item's state and job id in one statement; with ``outputs`` set, that
    statement returns the input, output and error of items ``0 .. outputs - 1`` only (and
    ``max(outputs, 1)``, so a plain stage's one item always), so a fan-out stage of 10,000
    items costs its job ids, not its outputs."""
    if outputs is not None and outputs < 0:
        raise ValueError(f"outputs must be 0 or more (or None for all), got {outputs}")
    found = yield d.stmt("run_get", {"run_id": run_id}, now)
    if not found.rows:
        return None
    r = found.rows[0]
    loaded = yield d.stmt("run_load_stages", {"run_ids": json.dumps([run_id])}, now)
    stages = [(stage_from_row(row), row) for row in loaded.rows]
    below = None if outputs is None else max(outputs, 1)
    listed = yield d.stmt(
        "run_items_of", {"ids": json.dumps([s.id for s, _ in stages]), "below": below}, now
    )
    items: dict[int, list[ItemRow]] = {}
    jobs: dict[int, list[int]] = {}
    for stage_id, item, state, input_json, output_json, error, job_id in listed.rows:
        jobs.setdefault(int(stage_id), []).append(int(job_id))
        if below is None or item < below:  # past the bound: its job id only, no row built
            items.setdefault(int(stage_id), []).append(
                ItemRow(int(item), state, input_json, output_json, error)
            )
    return RunDetail(
        id=int(r[0]),
        pipeline=r[1],
        state=RunState(r[2]),
        input_json=r[3],
        result_json=r[4],
        error=r[5],
        graph_json=r[6],
        created_at=float(r[7]),
        finished_at=_float(r[8]),
        deadline_at=_float(r[9]),
        stall_after=_float(r[10]),
        last_progress_at=float(r[11]),
        resumes=int(r[12]),
        tenant=r[13],
        stages=tuple(
            _info(s, row, items.get(s.id, []), jobs.get(s.id, []), outputs)
            for s, row in stages
        ),
    )


def _info(
    s: StageRow, row: tuple[Any, ...], items: list[ItemRow], jobs: list[int],
    outputs: int | None,
) -> StageRunInfo:
    succeeded = str(s.state) == "succeeded"
    # Items past the bound came back without their outputs: a fan-out stage that has them
    # gets no assembled output (a partial list would pass for the whole one).
    left_out = succeeded and s.fan_out and outputs is not None and s.total > outputs
    output = stage_output(s, items).output_json if succeeded and not left_out else None
    return StageRunInfo(
        id=s.id,
        stage=s.stage,
        state=s.state,
        parents=s.parents,
        fan_out=s.fan_out,
        on_item_failure=s.policy,
        pending_parents=s.pending,
        items_total=s.total,
        items_left=s.left,
        items_failed=s.failed,
        template=s.template,
        job_ids=tuple(jobs),
        output_json=output,
        started_at=_float(row[14]),
        finished_at=_float(row[15]),
        error=s.error,
        override_json=s.override,
        output_left_out=left_out,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def stage_output_page(
    d: RunDialect, run_id: int, stage: str, offset: int, limit: int, now: float | None
) -> Plan[StageOutputPage | None]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_output_page`: the stage row
    with its succeeded items counted, then one page of their outputs, both by the items'
    primary key (stage run, item), so a page costs the same at item 0 and at item 9,900."""
    if offset < 0 or limit < 0:
        raise ValueError(f"offset and limit must be 0 or more, got {offset} and {limit}")
    head = yield d.stmt("run_output_stage", {"run_id": run_id, "stage": stage}, now)
    if not head.rows:
        return None
    stage_id, state, fan_out, succeeded = head.rows[0]
    done = str(state) == "succeeded"
    outputs: tuple[str, ...] = ()
    if done and limit > 0:
        found = yield d.stmt(
            "run_output_page",
            {"stage_run_id": int(stage_id), "offset": offset, "limit": limit},
            now,
        )
        outputs = tuple(str(r[0]) for r in found.rows)
    return StageOutputPage(
        stage=stage,
        state=StageState(state),
        fan_out=bool(fan_out),
        total=int(succeeded) if done else 0,
        outputs_json=outputs,
    )


def list_runs(d: RunDialect, flt: RunFilter, now: float | None) -> Plan[list[RunSummary]]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.list_runs`."""
    found = yield d.stmt(
        "run_list",
        {
            "pipeline": flt.pipeline,
            "states": json.dumps([str(s) for s in flt.states]) if flt.states else None,
            "tenant": flt.tenant,
            "before_id": flt.before_id,
            "limit": flt.limit,
            "offset": flt.offset,
        },
        now,
    )
    return [
        RunSummary(
            id=int(r[0]),
            pipeline=r[1],
            state=RunState(r[2]),
            created_at=float(r[3]),
            finished_at=_float(r[4]),
            error=r[5],
            tenant=r[6],
            resumes=int(r[7]),
            stages_total=int(r[8]),
            stages_done=int(r[9]),
        )
        for r in found.rows
    ]


def save_step(
    d: RunDialect, job_id: int, token: int, name: str, value_json: str, now: float | None
) -> Plan[bool]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.save_step`."""
    saved = yield d.stmt(
        "run_save_step", {"job_id": job_id, "token": token, "name": name, "value": value_json},
        now,
    )
    return saved.rowcount == 1


def load_steps(d: RunDialect, job_id: int, now: float | None) -> Plan[dict[str, str]]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.load_steps`."""
    found = yield d.stmt("run_load_steps", {"job_id": job_id}, now)
    return {str(r[0]): str(r[1]) for r in found.rows}


def prune_runs(d: RunDialect, keep: float, limit: int, now: float | None) -> Plan[int]:
    """Delete up to ``limit`` runs finished more than ``keep`` seconds before ``now`` (their
    stages and items go with them), and steps as old whose job no longer waits or runs.
    Returns how many runs and steps were deleted."""
    runs = yield d.stmt("run_prune", {"keep": float(keep), "limit": limit}, now)
    steps = yield d.stmt("run_prune_steps", {"keep": float(keep), "limit": limit}, now)
    return runs.rowcount + steps.rowcount
