"""A run's stages as the advance sees them, and the rules that move them, written once.

Every write a run makes (its start, the advance when a stage job ends, the fan-out, a cancel,
a resume) loads the run's stage rows under the run's row lock, changes them here in plain
Python, and writes back what changed (:mod:`conveyor.store.run_plans`). Because every writer
of a run's stage rows holds that lock, reading and writing back absolute values loses no
update, and no rule lives in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import ConfigurationError, StageJobRetryError
from conveyor.models import RunState, StageState
from conveyor.store.contract.records import NewJob
from conveyor.store.contract.run_records import (
    EXPANDER_ITEM,
    ItemFailure,
    ItemPolicy,
    JobTemplate,
    NewRun,
    NewStage,
    ParentOutput,
)

FINAL_STAGES = frozenset({StageState.SUCCEEDED, StageState.FAILED, StageState.CANCELLED})

ITEM_QUEUED = "queued"
ITEM_SUCCEEDED = "succeeded"
ITEM_FAILED = "failed"
ITEM_CANCELLED = "cancelled"

INLINE_INPUT_MAX = 16_384
"""Characters of input a hand-off copies into the next stage job's arguments (``given``),
at most; a larger input (a big fan-in) is read by the job when it starts instead."""


def template_json(template: JobTemplate) -> str:
    """A job template as stored in its stage row."""
    found = _TEMPLATE_TEXTS.get(template)
    if found is None:
        # Every field is a plain value: no need for asdict's recursive deep copy.
        found = json.dumps({f: getattr(template, f) for f in _TEMPLATE_FIELDS}, sort_keys=True)
        if len(_TEMPLATE_TEXTS) >= _CACHE_MAX:
            _TEMPLATE_TEXTS.clear()
        _TEMPLATE_TEXTS[template] = found
    return found


def template_from_json(text: str) -> JobTemplate:
    """The stored template back (unknown keys from a newer version are ignored)."""
    found = _TEMPLATES.get(text)
    if found is None:
        raw = json.loads(text)
        known = JobTemplate.__dataclass_fields__
        found = JobTemplate(**{k: v for k, v in raw.items() if k in known})
        if len(_TEMPLATES) >= _CACHE_MAX:
            _TEMPLATES.clear()
        _TEMPLATES[text] = found
    return found


_CACHE_MAX = 4096
# Every run of a pipeline stores the same few templates and parent lists, and every advance
# decodes them again (a hand-off parses the template of the stage it starts, and loads every
# stage of the run): decoded once per process and shared (both are immutable).
_TEMPLATES: dict[str, JobTemplate] = {}
_TEMPLATE_TEXTS: dict[JobTemplate, str] = {}
_TEMPLATE_FIELDS = tuple(JobTemplate.__dataclass_fields__)
_PARENTS: dict[str, tuple[str, ...]] = {}
_STAGE_STATES = {str(s): s for s in StageState}
_POLICIES = {str(p): p for p in ItemPolicy}


def _parents(text: str) -> tuple[str, ...]:
    found = _PARENTS.get(text)
    if found is None:
        found = tuple(json.loads(text))
        if len(_PARENTS) >= _CACHE_MAX:
            _PARENTS.clear()
        _PARENTS[text] = found
    return found


def stage_args(run_id: int, stage_run_id: int, item: int, given: str | None = None) -> str:
    """The arguments of one item's job of a stage: pointing at its item, with its input
    copied in as ``given`` when the hand-off had it at hand (see :func:`given_json`)."""
    # Three integers: formatted directly, as json.dumps would (a fan-out writes 10,000).
    args = f'{{"run_id": {int(run_id)}, "stage_run_id": {int(stage_run_id)}, "item": {int(item)}'
    return args + (f', "given": {given}}}' if given is not None else "}")


def stage_job(template: JobTemplate, args_json: str) -> NewJob:
    """The job of one item of a stage: the template, due now, with these arguments (see
    :func:`stage_args`)."""
    return NewJob(
        queue=template.queue,
        name=template.name,
        args_json=args_json,
        max_attempts=template.max_attempts,
        priority=template.priority,
        timeout=template.timeout,
        tenant=template.tenant,
        meta_json=template.meta_json,
        limit_key=template.limit_key,
        limit_max=template.limit_max,
        rate_key=template.rate_key,
        rate_max=template.rate_max,
        rate_per=template.rate_per,
    )


def check_graph(run: NewRun) -> None:
    """Refuse a graph no run could finish, naming what is wrong (``ConfigurationError``)."""
    if not run.stages:
        raise ConfigurationError(f"pipeline {run.pipeline!r} has no stage; declare one")
    names = [s.name for s in run.stages]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigurationError(f"pipeline {run.pipeline!r} has two stages named {name!r}")
        seen.add(name)
    for s in run.stages:
        unknown = [p for p in s.parents if p not in seen]
        if unknown:
            raise ConfigurationError(
                f"stage {s.name!r} of {run.pipeline!r} runs after unknown stage {unknown[0]!r}"
            )
        if s.fan_out and len(s.parents) != 1:
            raise ConfigurationError(
                f"fan-out stage {s.name!r} of {run.pipeline!r} must run after exactly one "
                f"stage (it has {len(s.parents)}): its items come from that stage's output"
            )
    parents = {s.name: s.parents for s in run.stages}
    done: set[str] = set()
    while len(done) < len(names):
        ready = [n for n in names if n not in done and all(p in done for p in parents[n])]
        if not ready:
            cycle = sorted(n for n in names if n not in done)
            raise ConfigurationError(
                f"the stages {cycle} of {run.pipeline!r} wait for each other (a cycle)"
            )
        done.update(ready)


@dataclass(slots=True)
class StageRow:
    """One stage run, loaded under the run's lock; ``dirty`` when it must be written back."""

    id: int
    stage: str
    state: StageState
    parents: tuple[str, ...]
    pending: int
    fan_out: bool
    policy: ItemPolicy
    total: int
    left: int
    failed: int
    template_text: str | None
    """The stage's job template as stored; parsed only when a job is made from it. None when
    the reader left it out: the advance reads only waiting stages' templates, the only
    ones it makes jobs from."""
    error: str | None
    override: str | None
    parsed: JobTemplate | None = None
    started: bool = False
    """Set ``started_at`` to now when written."""
    finished: bool = False
    """Set ``finished_at`` to now when written."""
    cleared: bool = False
    """Clear ``started_at``, ``finished_at`` and ``error`` when written (a resume)."""
    dirty: bool = False
    template_changed: bool = False
    """Write the template back (a resume gave a new one); other writes leave it as stored."""

    @property
    def template(self) -> JobTemplate:
        """The stage's job template (parsed on first use: most advances make no job)."""
        if self.parsed is None:
            if self.template_text is None:
                raise RuntimeError(f"stage {self.stage!r}: its template was not read")
            self.parsed = template_from_json(self.template_text)
        return self.parsed

    @template.setter
    def template(self, value: JobTemplate) -> None:
        self.parsed = value
        self.template_text = template_json(value)
        self.template_changed = True

    def as_update(self) -> dict[str, Any]:
        """The row's values as the stage update statement's batch takes them (the template
        only when it changed: it is the row's longest value, and a hand-off never changes
        it)."""
        return {
            "id": self.id,
            "state": str(self.state),
            "pending": self.pending,
            "total": self.total,
            "left": self.left,
            "failed": self.failed,
            "template": self.template_text if self.template_changed else None,
            "error": self.error,
            "override": self.override,
            "started": self.started,
            "finished": self.finished,
            "cleared": self.cleared,
        }


def stage_from_row(row: Sequence[Any]) -> StageRow:
    """A row of run_load_stages: id, run_id, stage, state, parents, pending, fan_out, policy,
    total, left, failed, template, error, override."""
    return StageRow(
        id=int(row[0]),
        stage=row[2],
        state=_STAGE_STATES[row[3]],
        parents=_parents(row[4]),
        pending=int(row[5]),
        fan_out=bool(row[6]),
        policy=_POLICIES[row[7]],
        total=int(row[8]),
        left=int(row[9]),
        failed=int(row[10]),
        template_text=row[11],
        error=row[12],
        override=row[13],
    )


def new_stage_row(stage_id: int, stage: NewStage, template_text: str) -> StageRow:
    """The row ``run_insert_stages`` just wrote for ``stage`` (waiting for its parents), as
    the start's advance sees it without reading it back."""
    return StageRow(
        id=stage_id,
        stage=stage.name,
        state=StageState.WAITING,
        parents=tuple(stage.parents),
        pending=len(stage.parents),
        fan_out=stage.fan_out,
        policy=stage.on_item_failure,
        total=0,
        left=0,
        failed=0,
        template_text=template_text,
        error=None,
        override=None,
        parsed=stage.template,
    )


def given_json(
    *,
    run_input: str | None = None,
    parents: Sequence[tuple[str, str]] | None = None,
    item_input: str | None = None,
) -> str | None:
    """A stage job's input as its arguments carry it (``given``), from JSON texts the writer
    already holds: the run's input (a first stage), its parents' outputs by name (plain
    parents), or its item's input (an item of a fan-out stage). None (the job reads its input
    when it starts) when it would be longer than :data:`INLINE_INPUT_MAX`."""
    if item_input is not None:
        text = '{"item_input": ' + item_input + "}"
    elif parents is not None:
        pairs = ", ".join(f"[{json.dumps(name)}, {output}]" for name, output in parents)
        text = '{"parents": [' + pairs + "]}"
    elif run_input is not None:
        text = '{"run_input": ' + run_input + "}"
    else:
        return None
    return text if len(text) <= INLINE_INPUT_MAX else None


@dataclass(frozen=True, slots=True)
class NewItem:
    """A job to insert for an item of a stage (with the item's input, for fan-out items, and
    the job's ``given`` input where the writer had it)."""

    stage_id: int
    item: int
    input_json: str | None = None
    given: str | None = None


@dataclass(frozen=True, slots=True)
class FanPart:
    """A part of a fan-out to write: the items ``first``.. of stage ``stage_id``, as their
    JSON texts. Kept whole rather than as a :class:`NewItem` each, so a store can write a
    part's thousands of jobs and items from the texts alone (decision 136)."""

    stage_id: int
    first: int
    items_json: Sequence[str]

    def new_items(self) -> list[NewItem]:
        """The part as one :class:`NewItem` per item, each job carrying its item's input
        where it fits (:func:`given_json`)."""
        return [
            NewItem(self.stage_id, self.first + i, text, given_json(item_input=text))
            for i, text in enumerate(self.items_json)
        ]


@dataclass(slots=True)
class RunProgress:
    """A locked run and its stages, and what the rules decided to write."""

    id: int
    state: RunState
    stages: list[StageRow]
    error: str | None = None
    to_insert: list[NewItem] = field(default_factory=list)
    fan_part: FanPart | None = None
    """A fan-out's part to write (:meth:`expanded`), apart from :attr:`to_insert`."""
    cancel_jobs: bool = False
    """Cancel the run's unfinished jobs (the run failed or was cancelled)."""
    progressed: bool = False
    """A stage finished: ``last_progress_at`` moves to now."""
    run_dirty: bool = False
    resumed: bool = False
    """A resume: ``resumes`` goes up by one, the result and finish time are cleared."""
    run_input_json: str | None = None
    """The run's input where the writer has it (a start): first stages get it as ``given``."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Outputs of plain stages that succeeded in this transaction, by stage name: the
    children they make ready get them as ``given``, with no read."""

    def by_id(self, stage_id: int) -> StageRow:
        """The stage with row id ``stage_id``."""
        return next(s for s in self.stages if s.id == stage_id)

    def by_name(self, name: str) -> StageRow:
        """The stage named ``name``."""
        return next(s for s in self.stages if s.stage == name)

    def children(self, name: str) -> list[StageRow]:
        """The stages that run after ``name``."""
        return [s for s in self.stages if name in s.parents]

    def sinks(self) -> list[StageRow]:
        """Stages no other stage runs after: their outputs are the run's result."""
        return [s for s in self.stages if not self.children(s.stage)]

    @property
    def running(self) -> bool:
        """Whether the run still moves (a finished run's late completions change nothing)."""
        return self.state is RunState.RUNNING

    # -- the rules --------------------------------------------------------------------------

    def activate(self, stage: StageRow) -> None:
        """``stage`` has no pending parent: it becomes active with its job (or expander)."""
        stage.state = StageState.ACTIVE
        stage.started = True
        stage.dirty = True
        stage.total, stage.left, stage.failed = (0, 1, 0) if stage.fan_out else (1, 1, 0)
        item = EXPANDER_ITEM if stage.fan_out else 0
        self.to_insert.append(NewItem(stage.id, item, given=self._given(stage)))

    def _given(self, stage: StageRow) -> str | None:
        """The input ``stage``'s job can carry, if every part of it is at hand (a resume's
        override, a fan-out parent's or an earlier transaction's output are read at start)."""
        if stage.override is not None:
            return None
        if not stage.parents:
            return given_json(run_input=self.run_input_json)
        if not all(p in self.outputs for p in stage.parents):
            return None
        return given_json(parents=[(p, self.outputs[p]) for p in stage.parents])

    def start(self) -> None:
        """Activate every stage without parents (a new run)."""
        for stage in self.stages:
            if stage.state is StageState.WAITING and stage.pending == 0:
                self.activate(stage)

    def item_ended(
        self, stage: StageRow, item: int, state: str, error: str | None,
        output: str | None = None,
    ) -> None:
        """An item's job became final (``state``: an item state) and its row took the result
        (``output``, where the caller read it back)."""
        stage.left -= 1
        stage.dirty = True
        if state == ITEM_SUCCEEDED:
            if output is not None and not stage.fan_out and item == 0:
                self.outputs[stage.stage] = output
            if item == EXPANDER_ITEM and self.running and stage.state is StageState.ACTIVE:
                # The expander finishes through expand_stage; finishing any other way would
                # leave the stage without items, waiting forever.
                self.fail(stage, f"stage {stage.stage!r}: its expander job finished without "
                          "fanning out (expand_stage was not called)", cancelled=False)
            elif stage.left == 0:
                self.stage_done(stage)
            return
        if item != EXPANDER_ITEM:
            stage.failed += 1
        if not self.running or stage.state is not StageState.ACTIVE:
            return
        plain = not stage.fan_out or item == EXPANDER_ITEM
        if plain or stage.policy is ItemPolicy.FAIL:
            what = "its expander" if item == EXPANDER_ITEM else f"item {item}"
            word = "was cancelled" if state == ITEM_CANCELLED else "failed"
            where = f"stage {stage.stage!r}" if plain and item == 0 else (
                f"stage {stage.stage!r}, {what}"
            )
            self.fail(stage, f"{where} {word}: {error or 'no error recorded'}",
                      cancelled=state == ITEM_CANCELLED)
        elif stage.left == 0:
            self.stage_done(stage)

    def stage_done(self, stage: StageRow) -> None:
        """Every item of ``stage`` ended (and the policy tolerates the failures): it succeeds,
        its children lose a pending parent, and those left with none become active."""
        if not self.running or stage.state is not StageState.ACTIVE:
            return
        stage.state = StageState.SUCCEEDED
        stage.finished = True
        stage.dirty = True
        self.progressed = True
        self.run_dirty = True
        for child in self.children(stage.stage):
            child.pending -= 1
            child.dirty = True
            if child.pending == 0 and child.state is StageState.WAITING:
                self.activate(child)
        if all(s.state is StageState.SUCCEEDED for s in self.stages):
            self.state = RunState.SUCCEEDED

    def fail(self, stage: StageRow | None, error: str, *, cancelled: bool) -> None:
        """The run stops: ``stage`` (if any) fails or is cancelled with ``error``, every other
        unfinished stage is cancelled, and the run's unfinished jobs are to be cancelled."""
        if not self.running:
            return
        self.state = RunState.CANCELLED if cancelled else RunState.FAILED
        self.error = error
        self.run_dirty = True
        self.cancel_jobs = True
        for other in self.stages:
            if other.state in FINAL_STAGES:
                continue
            other.state = StageState.CANCELLED
            if other is stage:
                other.state = StageState.CANCELLED if cancelled else StageState.FAILED
                other.error = error
            other.finished = True
            other.dirty = True

    def expanded(self, stage: StageRow, items_json: Sequence[str], first: int, total: int) -> None:
        """The expander of ``stage`` wrote items ``first``.. of its fan-out (``items_json``, a
        part of ``total`` items): the first part sets the stage's count, and a fan-out of no
        item succeeds the stage at once."""
        if first == 0:
            stage.total = stage.left = total
            stage.failed = 0
            stage.dirty = True
        if items_json:
            self.fan_part = FanPart(stage.id, first, items_json)
        if total == 0:
            self.stage_done(stage)

    def reset(self, names: Iterable[str], override: tuple[str, str] | None) -> None:
        """A resume: ``names`` go back to waiting, the run runs again, the ready ones start."""
        chosen = set(names)
        for s in self.stages:
            if s.stage not in chosen:
                continue
            s.state = StageState.WAITING
            s.total = s.left = s.failed = 0
            s.error = None
            s.override = override[1] if override and override[0] == s.stage else None
            s.cleared = True
            s.dirty = True
        for s in self.stages:
            if s.stage in chosen:
                s.pending = sum(1 for p in s.parents if p in chosen)
        self.state = RunState.RUNNING
        self.error = None
        self.run_dirty = True
        self.resumed = True
        self.progressed = True
        self.start()


def check_reset(progress: RunProgress, names: Sequence[str]) -> None:
    """Refuse a resume set the run could not finish from, naming the stage at fault."""
    known = {s.stage for s in progress.stages}
    chosen = set(names)
    if not chosen:
        raise ConfigurationError(f"resuming run {progress.id}: name at least one stage to re-run")
    for name in names:
        if name not in known:
            raise ConfigurationError(
                f"run {progress.id} has no stage {name!r} (its stages: {sorted(known)})"
            )
    for s in progress.stages:
        if s.stage in chosen:
            continue
        if s.state is not StageState.SUCCEEDED:
            raise ConfigurationError(
                f"resuming run {progress.id}: stage {s.stage!r} is {s.state} and is not "
                "re-run; re-run it too (or resume from a stage before it)"
            )
        if any(p in chosen for p in s.parents):
            parent = next(p for p in s.parents if p in chosen)
            raise ConfigurationError(
                f"resuming run {progress.id}: stage {s.stage!r} runs after {parent!r}, which "
                "is re-run, so it must be re-run too"
            )


def refuse_stage_jobs(rows: Sequence[Sequence[Any]]) -> None:
    """Refuse a retry or dead-letter replay that took finished stage jobs (rows of
    ``run_stage_jobs``: job id, run id, stage), raising :class:`StageJobRetryError` inside
    its transaction so nothing is written. Replaying one alone would run its stage outside
    its stopped run, which would not move again; a safe revival needs the app's code (a
    resume checks the stored outputs against the current models), which a store verb lacks."""
    if rows:
        raise StageJobRetryError([(int(r[0]), int(r[1]), str(r[2])) for r in rows])


# -- outputs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An item as read back: its number, state, input, output and error."""

    item: int
    state: str
    input_json: str | None
    output_json: str | None
    error: str | None


def stage_output(stage: StageRow, items: Sequence[ItemRow]) -> ParentOutput:
    """A finished stage's output as its children get it (items in item order)."""
    return parent_output(stage.stage, stage.fan_out, stage.policy, items)


def parent_output(
    name: str, fan_out: bool, policy: ItemPolicy, items: Sequence[ItemRow]
) -> ParentOutput:
    """The output of the finished stage ``name`` from its items (what :func:`stage_output`
    gives, for a reader that has the stage's shape but not its whole row)."""
    if not fan_out:
        first = next((i for i in items if i.item == 0), None)
        text = first.output_json if first is not None else None
        return ParentOutput(name, text if text is not None else "null")
    ordered = sorted((i for i in items if i.item >= 0), key=lambda i: i.item)
    failures: tuple[ItemFailure, ...] = ()
    if policy is ItemPolicy.COLLECT:
        failures = tuple(
            ItemFailure(i.item, i.input_json, i.error)
            for i in ordered
            if i.state in (ITEM_FAILED, ITEM_CANCELLED)
        )
    return fan_output(
        name, (i.output_json for i in ordered if i.state == ITEM_SUCCEEDED), failures
    )


def fan_output(
    name: str, outputs: Iterable[str | None], failures: tuple[ItemFailure, ...] = ()
) -> ParentOutput:
    """A fan-out stage's output from its succeeded items' outputs, in item order: a JSON
    array (an item that stored none gives ``null``)."""
    return ParentOutput(name, "[" + ",".join(o or "null" for o in outputs) + "]", True, failures)


def run_result(sinks: Sequence[ParentOutput]) -> str:
    """The run's result: the one sink's output, or an object of the sinks' by stage name."""
    if len(sinks) == 1:
        return sinks[0].output_json
    return "{" + ",".join(f"{json.dumps(s.stage)}:{s.output_json}" for s in sinks) + "}"
