"""Pipeline runs as the API and the dashboard show them: read once, then serialized or drawn.

:func:`read_run` reads a run and, for each plain stage, its current job's attempt count (one
``get_job`` per plain stage; a fan-out stage's items are counted, not read). :func:`run_detail`
and :func:`run_summary` turn the store's records into JSON-ready dicts, times as epoch
seconds. A fan-out stage lists at most :data:`JOB_IDS_SHOWN` of its job ids: its item count
says how many there are, and a 10,000-item stage must not make every read of its run large.
For the same reason an output (or the run's result) longer than :data:`OUTPUT_SHOWN` bytes is
left out of a run's detail unless asked for (``full``): its size and item count say what it
is, and :func:`output_page` serves its item outputs a page at a time, as the store pages
them in SQL (``stage_output_page``). And the run itself is read with the outputs of at most
:data:`RUN_OUTPUTS` items per fan-out stage (decision 109): a stage with more is left out
before it is read, not after, with its item count and where to page it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conveyor.models import Job
from conveyor.store.contract.run_records import (
    RunDetail,
    RunSummary,
    StageOutputPage,
    StageRunInfo,
)
from conveyor.store.protocol import Store

JsonDict = dict[str, Any]

JOB_IDS_SHOWN = 100
"""Job ids listed per stage (the expander first for a fan-out stage, then items in order)."""

OUTPUT_SHOWN = 64 * 1024
"""Bytes of JSON a stage's output (or the run's result) may have and still be inlined in the
run's detail; a larger one is summarized (``output_bytes``, ``output_items``) and paged."""

RUN_OUTPUTS = 100
"""Item outputs of a fan-out stage read with its run (``get_run(outputs=...)``): a stage with
more items is summarized without reading them (a 10,000-item stage costs its counts)."""

OUTPUT_PAGE = 100
"""Item outputs per page of a stage's output, unless asked otherwise."""
MAX_OUTPUT_PAGE = 1000
"""Item outputs per page at most."""


@dataclass(frozen=True)
class StageView:
    """A stage of a run with what the store's record lacks: its current job."""

    info: StageRunInfo
    job: Job | None
    """A plain stage's current job (a fan-out stage's expander), None when none or pruned."""

    @property
    def attempts(self) -> int | None:
        """Attempts of the current job so far; None for a fan-out stage or a pruned job."""
        return None if self.job is None or self.info.fan_out else self.job.attempt

    @property
    def duration(self) -> float | None:
        """Seconds from the stage becoming active to its end; None until both are known."""
        if self.info.started_at is None or self.info.finished_at is None:
            return None
        return max(0.0, self.info.finished_at - self.info.started_at)


@dataclass(frozen=True)
class RunView:
    """A run and its stages, read at ``now`` (the store's clock)."""

    run: RunDetail
    stages: tuple[StageView, ...]
    now: float


def read_run(store: Store, run_id: int, full: bool = False) -> RunView | None:
    """The run with its stages' current jobs, or None when it does not exist. Reads the
    outputs of at most :data:`RUN_OUTPUTS` items per fan-out stage unless ``full``."""
    run = store.get_run(run_id, outputs=None if full else RUN_OUTPUTS)
    if run is None:
        return None
    stages = tuple(
        StageView(s, store.get_job(s.job_ids[0] if s.fan_out else s.job_ids[-1])
                  if s.job_ids else None)
        for s in run.stages
    )
    return RunView(run, stages, store.now())


def decoded(text: str | None) -> Any:
    """Stored JSON as a value (None stays None; text that is not JSON is returned as is)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_summary(run: RunSummary) -> JsonDict:
    """A run as a list shows it: identity, state, timing, stage counts and its error."""
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "state": run.state.value,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "tenant": run.tenant,
        "resumes": run.resumes,
        "stages_total": run.stages_total,
        "stages_done": run.stages_done,
    }


def _bounded(text: str | None, full: bool) -> tuple[Any, int | None, bool]:
    """Stored JSON as a value if ``full`` or small enough, its size in bytes, and whether it
    was left out."""
    if text is None:
        return None, None, False
    size = len(text.encode())
    if full or size <= OUTPUT_SHOWN:
        return decoded(text), size, False
    return None, size, True


def output_items(info: StageRunInfo) -> int | None:
    """How many values a stage's output holds: a fan-out stage's item outputs (failed items
    are left out), 1 for a plain stage; None until the stage succeeded."""
    if info.output_json is None and not info.output_left_out:
        return None
    return info.items_total - info.items_failed if info.fan_out else 1


def stage_detail(
    view: StageView, full: bool = False, output_url: Callable[[str], str] | None = None
) -> JsonDict:
    """One stage: state, graph, items, attempts, timing, output (bounded unless ``full``),
    error. ``output_url(stage)`` says where a left-out output is paged."""
    s = view.info
    output, size, left_out = _bounded(s.output_json, full)
    # Left out by the store (too many items to read with the run): its size is unknown.
    left_out = left_out or s.output_left_out
    return {
        "name": s.stage,
        "state": s.state.value,
        "parents": list(s.parents),
        "fan_out": s.fan_out,
        "on_item_failure": s.on_item_failure.value,
        "pending_parents": s.pending_parents,
        "items_total": s.items_total,
        "items_left": s.items_left,
        "items_failed": s.items_failed,
        "job_name": s.template.name,
        "queue": s.template.queue,
        "attempts": view.attempts,
        "max_attempts": s.template.max_attempts,
        "job_id": view.job.id if view.job is not None else None,
        "job_ids": list(s.job_ids[:JOB_IDS_SHOWN]),
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "duration": view.duration,
        "output": output,
        "output_bytes": size,
        "output_items": output_items(s),
        "output_truncated": left_out,
        "output_url": output_url(s.stage) if left_out and output_url is not None else None,
        "error": s.error,
        "override": decoded(s.override_json),
    }


def run_detail(
    view: RunView, full: bool = False, output_url: Callable[[str], str] | None = None
) -> JsonDict:
    """A run: input, result or error, timing, watch settings and every stage; outputs and the
    result over :data:`OUTPUT_SHOWN` bytes, and fan-out outputs of more than
    :data:`RUN_OUTPUTS` items, are left out (summarized, with ``output_url(stage)`` where to
    page them) unless ``full`` (and the view was read with every output)."""
    run = view.run
    result, result_size, result_left_out = _bounded(run.result_json, full)
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "state": run.state.value,
        "input": decoded(run.input_json),
        "result": result,
        "result_bytes": result_size,
        "result_truncated": result_left_out,
        "error": run.error,
        "tenant": run.tenant,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "deadline_at": run.deadline_at,
        "stall_after": run.stall_after,
        "last_progress_at": run.last_progress_at,
        "resumes": run.resumes,
        "stages": [stage_detail(s, full, output_url) for s in view.stages],
    }


def output_page(page: StageOutputPage, offset: int, limit: int) -> JsonDict:
    """A page of a stage's output values as the store paged them: a fan-out stage's item
    outputs in item order (failed items left out, as its children get them), or a plain
    stage's one output."""
    after = offset + len(page.outputs_json)
    return {
        "stage": page.stage,
        "state": page.state.value,
        "fan_out": page.fan_out,
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "outputs": [decoded(text) for text in page.outputs_json],
        "next_offset": after if after < page.total else None,
    }
