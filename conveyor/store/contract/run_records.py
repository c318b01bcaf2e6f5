"""The records the pipeline-run verbs take and return (see :mod:`conveyor.store.contract.runs`).

JSON travels as text (``*_json``), already encoded by the caller with the job argument codec;
the store stores and returns it unchanged, except where it assembles a fan-out stage's output
(a JSON array of its item outputs, in item order).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.models import RunState, StageState

if TYPE_CHECKING:
    from conveyor.store.contract.records import NewJob


class ItemPolicy(enum.StrEnum):
    """What a failed item of a fan-out stage does to its run (``on_item_failure=``)."""

    FAIL = "fail"
    """The stage and the run fail at once; the run's unfinished jobs are cancelled."""
    SKIP = "skip"
    """The failure is counted; the stage's output holds the successful items' outputs only."""
    COLLECT = "collect"
    """As ``skip``, and the children also get the failures (:attr:`ParentOutput.failures`)."""


EXPANDER_ITEM = -1
"""The item number of a fan-out stage's expander job (see :meth:`RunVerbs.expand_stage`)."""


@dataclass(frozen=True, slots=True)
class JobTemplate:
    """How the store makes a stage's jobs: a :class:`~conveyor.store.contract.records.NewJob`
    without its arguments and due time (a stage job is due when it becomes ready, and its
    arguments are ``{"run_id": R, "stage_run_id": S, "item": I}``, written by the store,
    with ``"given"`` added when the writer had the job's input at hand: see
    :func:`conveyor.store.run_graph.given_json`)."""

    queue: str
    name: str
    """The registered job name, ``"<pipeline>.<stage>"`` for a declared pipeline."""
    max_attempts: int
    priority: int = 0
    timeout: float | None = None
    tenant: str | None = None
    meta_json: str = "{}"
    limit_key: str | None = None
    limit_max: int | None = None
    rate_key: str | None = None
    rate_max: int | None = None
    rate_per: float | None = None

    @classmethod
    def of(cls, job: NewJob, meta_json: str | None = None) -> JobTemplate:
        """The template of a prepared job: its options, and its meta unless ``meta_json``
        replaces it (its arguments and due time are the store's to write)."""
        return cls(
            queue=job.queue,
            name=job.name,
            max_attempts=job.max_attempts,
            priority=job.priority,
            timeout=job.timeout,
            tenant=job.tenant,
            meta_json=job.meta_json if meta_json is None else meta_json,
            limit_key=job.limit_key,
            limit_max=job.limit_max,
            rate_key=job.rate_key,
            rate_max=job.rate_max,
            rate_per=job.rate_per,
        )


@dataclass(frozen=True, slots=True)
class NewStage:
    """One stage of a run to start."""

    name: str
    template: JobTemplate
    parents: tuple[str, ...] = ()
    """Names of the stages this one runs after; empty for a first stage (it gets the input)."""
    fan_out: bool = False
    """One job per item (``each=``): exactly one parent; an expander job makes the items."""
    on_item_failure: ItemPolicy = ItemPolicy.FAIL


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to start: the pipeline's (or workflow's) graph and its input."""

    pipeline: str
    input_json: str
    """The first stages' input (JSON)."""
    stages: tuple[NewStage, ...]
    """Every stage, parents before children is not required; names unique, parents known,
    no cycle (the store raises ``ConfigurationError`` otherwise)."""
    graph_json: str = "{}"
    """What the caller needs to rebuild the graph later (a workflow's nodes); stored as is."""
    deadline_at: float | None = None
    """The run must be finished by then (epoch seconds); watched by the monitor."""
    stall_after: float | None = None
    """Seconds without a stage finishing after which the run counts as stalled."""
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """A failed item of a fan-out stage: its number, its input and its job's last error."""

    item: int
    input_json: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ParentOutput:
    """A parent stage's output as its child gets it."""

    stage: str
    output_json: str
    """A plain stage's output; for a fan-out stage, a JSON array of its successful items'
    outputs in item order."""
    fan_out: bool = False
    failures: tuple[ItemFailure, ...] = ()
    """For a fan-out parent whose policy is ``collect``: its failed items, in item order."""


@dataclass(frozen=True, slots=True)
class StageInput:
    """What a starting stage job needs to build its call (:meth:`RunVerbs.stage_input`).

    The caller picks: ``override_json`` if set (``resume --input``), else ``item_input_json``
    for an item of a fan-out stage, else ``run_input_json`` for a first stage, else
    ``parents`` (one: its output; several: by name)."""

    run_id: int
    stage: str
    item: int
    run_state: RunState
    run_input_json: str
    parents: tuple[ParentOutput, ...]
    """In the order of the stage's ``parents``."""
    item_input_json: str | None = None
    override_json: str | None = None


@dataclass(frozen=True, slots=True)
class StageRunInfo:
    """One stage of a run as :meth:`RunVerbs.get_run` reads it."""

    id: int
    stage: str
    state: StageState
    parents: tuple[str, ...]
    fan_out: bool
    on_item_failure: ItemPolicy
    pending_parents: int
    items_total: int
    """1 for a plain stage once it is active; a fan-out stage's item count once expanded."""
    items_left: int
    items_failed: int
    template: JobTemplate
    job_ids: tuple[int, ...]
    """The stage's current jobs in item order (the expander first for a fan-out stage);
    jobs may have been pruned since. Always every one, however ``outputs`` bounds the read."""
    output_json: str | None
    """The stage's output once it succeeded (as its children get it), else None; None too
    when :attr:`output_left_out`."""
    started_at: float | None
    finished_at: float | None
    error: str | None
    override_json: str | None
    output_left_out: bool = False
    """The stage succeeded, but it is a fan-out stage with more items than ``get_run`` was
    asked to read outputs of (``outputs=``): page its output with
    :meth:`RunVerbs.stage_output_page`."""


@dataclass(frozen=True, slots=True)
class StageOutputPage:
    """One page of a stage's output values (:meth:`RunVerbs.stage_output_page`), read in
    SQL a page at a time, so a 10,000-item fan-out is never read whole to show 100 values."""

    stage: str
    state: StageState
    fan_out: bool
    total: int
    """Values the whole output holds: a fan-out stage's succeeded items (failed items are
    left out, as its children get them), 1 for a plain stage; 0 until the stage succeeded."""
    outputs_json: tuple[str, ...]
    """The page's values as stored JSON, in item order."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as :meth:`RunVerbs.list_runs` lists it."""

    id: int
    pipeline: str
    state: RunState
    created_at: float
    finished_at: float | None
    error: str | None
    tenant: str | None
    resumes: int
    stages_total: int
    stages_done: int
    """Stages that succeeded."""


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run with everything about it (:meth:`RunVerbs.get_run`)."""

    id: int
    pipeline: str
    state: RunState
    input_json: str
    result_json: str | None
    """The sink stage's output; with several sinks, an object of them by stage name."""
    error: str | None
    graph_json: str
    created_at: float
    finished_at: float | None
    deadline_at: float | None
    stall_after: float | None
    last_progress_at: float
    resumes: int
    tenant: str | None
    stages: tuple[StageRunInfo, ...]
    """In the order the run was started with."""


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Selects runs for :meth:`RunVerbs.list_runs`. Unset fields do not filter."""

    pipeline: str | None = None
    states: tuple[RunState, ...] = ()
    tenant: str | None = None
    before_id: int | None = None
    """Keyset pagination: only ids below this one (lists are newest first)."""
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class RunReset:
    """A resume (:meth:`RunVerbs.reset_run`): which stages run again, and with what."""

    run_id: int
    stages: tuple[str, ...]
    """The stages to run again; the caller passes a set closed under descendants."""
    input_override: tuple[str, str] | None = None
    """(stage, input JSON): replaces that stage's input (``resume --from S --input``)."""
    templates: tuple[tuple[str, JobTemplate], ...] = ()
    """New job templates by stage name (the code's current options); others keep theirs."""
    by: str | None = None
    """Who resumed (recorded in the audit log)."""
