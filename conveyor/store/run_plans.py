"""The run verbs that write, as plans written once for both stores (see :mod:`.plan`).

Each store supplies a :class:`RunDialect`: its SQL for each named statement (one file per
statement and dialect, ``run_*.sql``; list parameters travel as JSON text so both dialects
take the same parameters), and the three job writes it already has (insert, complete one
attempt, cancel). The rules are :mod:`conveyor.store.run_graph`'s.

**The advance** (:func:`advance`) runs inside the transaction that made stage jobs final,
so completing a stage's last item, enqueueing what became ready and finishing the run commit
together or not at all. Its lock order is fixed: the finishing transaction holds its jobs'
rows, then takes the run rows (in id order), and only then writes item and stage rows. Every
other writer of a run (fan-out, cancel, resume) takes the run's row first too (a start writes
a run no other transaction can see before it commits), and a run-wide cancel skips job rows
another transaction holds (that transaction is finishing the job and advances the run itself
once the cancel commits), so no two writers of a run wait on each other in a cycle.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from conveyor._lifecycle import Completion, CompletionKind
from conveyor.errors import ConfigurationError
from conveyor.models import RunState
from conveyor.store.contract.run_records import JobTemplate, NewRun, RunReset
from conveyor.store.plan import Plan, Statement
from conveyor.store.run_graph import (
    FanPart,
    ItemRow,
    NewItem,
    RunProgress,
    StageRow,
    check_graph,
    check_reset,
    new_stage_row,
    run_result,
    stage_args,
    stage_from_row,
    stage_output,
    template_json,
)

STOPPED_RUNS: ContextVar[list[int] | None] = ContextVar("conveyor_stopped_runs", default=None)
"""Where a store that can follow a transaction with another collects the runs it stopped
(failed or cancelled, their open jobs cancelled; see :func:`collecting_stopped`). Unset,
nothing is collected."""


@contextmanager
def collecting_stopped() -> Iterator[list[int]]:
    """The ids of the runs the plans run inside stop, each once, in id order once the block
    has ended: a store that can follow a commit with another transaction runs
    :func:`cancel_stragglers` for each (decision 141)."""
    stopped: list[int] = []
    token = STOPPED_RUNS.set(stopped)
    try:
        yield stopped
    finally:
        STOPPED_RUNS.reset(token)
        stopped[:] = sorted(set(stopped))


class RunDialect(Protocol):
    """What a store gives the run plans: its statements and its job writes."""

    def stmt(self, name: str, params: dict[str, Any], now: float | None) -> Statement:
        """The statement ``run_<name>.sql`` (or another named query) at ``now``."""
        ...

    def insert_stage_jobs(
        self, templates: Sequence[JobTemplate], jobs: Sequence[tuple[int, str]], now: float | None
    ) -> Plan[list[int]]:
        """Insert stage jobs, each the template at its index in ``templates`` with these
        arguments (:func:`~conveyor.store.run_graph.stage_job`), due now, waking workers as
        an insert does; their ids in input order. A fan-out writes thousands of one template,
        so a dialect may send each template once."""
        ...

    def insert_fan_part(
        self, template: JobTemplate, run_id: int, part: FanPart, now: float | None
    ) -> Plan[None]:
        """Insert a fan-out part's jobs (each the stage's ``template`` with the arguments of
        :func:`~conveyor.store.run_graph.stage_args`, due now, waking workers) and its item
        rows (queued, each with its input and its job's id): what :func:`fan_part_rows`
        writes, which a dialect may call or write its own way (decision 136)."""
        ...

    def complete(self, completion: Completion, now: float | None) -> Plan[bool]:
        """Apply one completion, fenced by state and token, without advancing any run."""
        ...

    def cancel_jobs(self, ids: Sequence[int], now: float | None) -> Plan[list[int]]:
        """Cancel these jobs where unfinished (as ``cancel_jobs``); skip any whose row another
        transaction holds (PostgreSQL); return the ids cancelled."""
        ...

    def finish(
        self, job_ids_json: str, now: float | None
    ) -> Plan[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """Lock the runs of these jobs (in id order), then ``run_finish_items`` and the locked
        runs' stage rows: the locked runs (id, state), the ended items (stage id, item, state,
        error, output) and the stage rows (as ``run_load_stages``). Nothing to advance: three
        empty lists. A dialect shapes it to its costs (on PostgreSQL the run locks, then one
        statement for the item update and the stage rows; on SQLite, whose write lock is every
        run's lock, the item update first and the stage rows of the runs it touched). On both,
        a batch whose only effect is a fan-out stage's smaller count (every item it ends
        succeeded, is a fan-out's, of one stage it leaves unfinished) is applied at once,
        leaving nothing to advance (decisions 131, 134): the advance's reading of the run's
        stages and writing them back was most of a fan-out item's cost."""
        ...

    def write_back(
        self,
        items: list[dict[str, Any]],
        stages: list[dict[str, Any]],
        runs: list[dict[str, Any]],
        progressed: list[int],
        now: float | None,
    ) -> Plan[None]:
        """``run_insert_items``, ``run_update_stages`` and ``run_update`` with these batches
        and ``run_progressed`` with these run ids (an empty one: not written), in that order;
        a dialect encodes the batches as its statements take them, and may send them as one
        statement."""
        ...


# -- loading under the run lock ------------------------------------------------------------------


def _load(
    d: RunDialect, locked: list[tuple[Any, ...]], now: float | None
) -> Plan[list[RunProgress]]:
    """The locked runs (rows of id, state) with their stages."""
    if not locked:
        return []
    ids = [int(r[0]) for r in locked]
    found = yield d.stmt("run_load_stages", {"run_ids": json.dumps(ids)}, now)
    return _progress(locked, found.rows)


def _progress(locked: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> list[RunProgress]:
    stages: dict[int, list[StageRow]] = {int(r[0]): [] for r in locked}
    for row in rows:
        stages[int(row[1])].append(stage_from_row(row))
    return [RunProgress(int(r[0]), RunState(r[1]), stages[int(r[0])]) for r in locked]


def _lock_run(d: RunDialect, run_id: int, now: float | None) -> Plan[RunProgress | None]:
    locked = yield d.stmt("run_lock_run", {"run_id": run_id}, now)
    loaded = yield from _load(d, locked.rows, now)
    return loaded[0] if loaded else None


# -- writing back --------------------------------------------------------------------------------


def _insert_new(
    d: RunDialect, new: Sequence[tuple[RunProgress, NewItem]], now: float | None
) -> Plan[list[int]]:
    """The jobs of these new items, each template sent once (a fan-out's are all one); their
    ids in input order."""
    templates: list[JobTemplate] = []
    index: dict[int, int] = {}  # stage id -> its template's index in ``templates``
    jobs = []
    for p, i in new:
        at = index.get(i.stage_id)
        if at is None:
            at = index[i.stage_id] = len(templates)
            templates.append(p.by_id(i.stage_id).template)
        jobs.append((at, stage_args(p.id, i.stage_id, i.item, i.given)))
    return (yield from d.insert_stage_jobs(templates, jobs, now))


def fan_part_rows(
    d: RunDialect, template: JobTemplate, run_id: int, part: FanPart, now: float | None
) -> Plan[None]:
    """A fan-out part's jobs and item rows as any new items are written (see
    :meth:`RunDialect.insert_fan_part`)."""
    items, ids = yield from fan_part_jobs(d, template, run_id, part, now)
    yield from d.write_back(item_rows(items, ids), [], [], [], now)


def fan_part_jobs(
    d: RunDialect, template: JobTemplate, run_id: int, part: FanPart, now: float | None
) -> Plan[tuple[list[NewItem], list[int]]]:
    """Insert a fan-out part's jobs; the part's items and their jobs' ids, in item order, for
    the item rows a dialect then writes its own way."""
    items = part.new_items()
    jobs = [(0, stage_args(run_id, i.stage_id, i.item, i.given)) for i in items]
    ids = yield from d.insert_stage_jobs([template], jobs, now)
    return items, ids


def item_rows(items: Sequence[NewItem], job_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The item rows ``write_back`` writes for new items whose jobs got ``job_ids`` (in the
    same order)."""
    return [
        {"stage_run_id": i.stage_id, "item": i.item, "job_id": job_id, "input": i.input_json}
        for i, job_id in zip(items, job_ids, strict=True)
    ]


def flush(d: RunDialect, progress: RunProgress, now: float | None) -> Plan[None]:
    """Write what the rules decided for one run (see :func:`flush_all`)."""
    yield from flush_all(d, [progress], now)


def flush_all(d: RunDialect, runs: Sequence[RunProgress], now: float | None) -> Plan[None]:
    """Write what the rules decided for these locked runs: new jobs and items, cancellations,
    stages, the runs. Set-based: a completion batch that moved many runs inserts all their
    next jobs in one statement and writes all their rows in one more (on PostgreSQL)."""
    for p in runs:
        if p.fan_part is not None:
            part, p.fan_part = p.fan_part, None
            yield from d.insert_fan_part(p.by_id(part.stage_id).template, p.id, part, now)
    new = [(p, i) for p in runs for i in p.to_insert]
    batch: list[dict[str, Any]] = []
    if new:
        ids = yield from _insert_new(d, new, now)
        batch = item_rows([i for _, i in new], ids)
        for p in runs:
            p.to_insert = []
        if any(p.cancel_jobs for p in runs):
            # The cancel below finds a run's jobs through their items: write them first.
            yield from d.write_back(batch, [], [], [], now)
            batch = []
    for progress in runs:
        if progress.cancel_jobs:
            yield from _cancel_open_jobs(d, progress, now)
    dirty = [s.as_update() for p in runs for s in p.stages if s.dirty]
    moved = [p for p in runs if p.run_dirty or p.progressed]
    # A running run that was not resumed changes only its progress time when a stage ends
    # (nothing else writes a running run's error, result or finish time): the hand-off's
    # usual case, written as that one column.
    progressed = [
        p.id for p in moved if p.state is RunState.RUNNING and p.progressed and not p.resumed
    ]
    if progressed:
        only = set(progressed)
        moved = [p for p in moved if p.id not in only]
    sinks = {p.id: p.sinks() for p in moved if p.state is RunState.SUCCEEDED}
    items = {}
    if sinks:
        items = yield from _items(d, [s.id for found in sinks.values() for s in found], now)
    updates = [
        {
            "id": p.id,
            "state": str(p.state),
            "error": p.error,
            "result": run_result([stage_output(s, items.get(s.id, [])) for s in sinks[p.id]])
            if p.id in sinks
            else None,
            "finished": p.state is not RunState.RUNNING,
            "progressed": p.progressed,
            "resumed": p.resumed,
        }
        for p in moved
    ]
    # The items, stage rows and run rows last and together (one statement on PostgreSQL).
    yield from d.write_back(batch, dirty, updates, progressed, now)


def _cancel_open_jobs(d: RunDialect, progress: RunProgress, now: float | None) -> Plan[None]:
    stopped = STOPPED_RUNS.get()
    if stopped is not None:
        stopped.append(progress.id)
    found = yield d.stmt("run_open_jobs", {"run_id": progress.id}, now)
    cancelled = yield from d.cancel_jobs([int(r[0]) for r in found.rows], now)
    if cancelled:
        marked = yield d.stmt("run_cancel_items", {"ids": json.dumps(cancelled)}, now)
        for (stage_id,) in marked.rows:
            stage = progress.by_id(int(stage_id))
            stage.left -= 1
            stage.dirty = True


def _items(
    d: RunDialect, stage_ids: list[int], now: float | None
) -> Plan[dict[int, list[ItemRow]]]:
    """The items of these stages, in item order, by stage id."""
    found = yield d.stmt("run_items_of", {"ids": json.dumps(stage_ids), "below": None}, now)
    out: dict[int, list[ItemRow]] = {}
    for stage_id, item, state, input_json, output_json, error, _job in found.rows:
        out.setdefault(int(stage_id), []).append(
            ItemRow(int(item), state, input_json, output_json, error)
        )
    return out


def record(
    d: RunDialect, by: str | None, action: str, run_id: int, details: dict[str, Any],
    now: float | None,
) -> Statement:
    """The audit record of an operator's action on a run."""
    return d.stmt(
        "web_action_record",
        {
            "actor": by or "unknown",
            "action": action,
            "target": f"run:{run_id}",
            "details_json": json.dumps(details, sort_keys=True),
        },
        now,
    )


# -- the verbs -----------------------------------------------------------------------------------


def start_run(d: RunDialect, run: NewRun, now: float | None) -> Plan[int]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.start_run`."""
    check_graph(run)
    inserted = yield d.stmt(
        "run_insert",
        {
            "pipeline": run.pipeline,
            "input": run.input_json,
            "graph": run.graph_json,
            "deadline_at": run.deadline_at,
            "stall_after": run.stall_after,
            "tenant": run.tenant,
        },
        now,
    )
    run_id = int(inserted.rows[0][0])
    templates = [template_json(s.template) for s in run.stages]
    batch = [
        {
            "position": i,
            "stage": s.name,
            "parents": json.dumps(list(s.parents)),
            "pending": len(s.parents),
            "fan_out": s.fan_out,
            "policy": str(s.on_item_failure),
            "template": templates[i],
        }
        for i, s in enumerate(run.stages)
    ]
    found = yield d.stmt("run_insert_stages", {"run_id": run_id, "batch": json.dumps(batch)}, now)
    ids = {int(position): int(stage_id) for stage_id, position in found.rows}
    # The run's row is this transaction's own (no other can see it before the commit), so its
    # stages are known without locking or reading them back.
    stages = [
        new_stage_row(ids[i], s, templates[i]) for i, s in enumerate(run.stages)
    ]
    progress = RunProgress(run_id, RunState.RUNNING, stages, run_input_json=run.input_json)
    progress.start()
    yield from flush(d, progress, now)
    return run_id


def advance(d: RunDialect, job_ids: Sequence[int], now: float | None) -> Plan[None]:
    """Advance the runs of those of ``job_ids`` that are stage jobs and became final (in the
    transaction that made them final). Other ids cost one indexed statement."""
    if not job_ids:
        return
    ids = json.dumps(sorted(set(job_ids)))
    # The runs first, then their items: every writer of a run's rows takes the run's lock
    # before touching them (see the module docstring); the dialect does it in that order.
    locked, ended, stages = yield from d.finish(ids, now)
    if not ended:
        return
    runs = _progress(locked, stages)
    stage_rows = {s.id: (p, s) for p in runs for s in p.stages}
    for stage_id, item, state, error, output in sorted(
        ended, key=lambda r: (int(r[0]), int(r[1]))
    ):
        progress, stage = stage_rows[int(stage_id)]
        progress.item_ended(stage, int(item), state, error, output)
    yield from flush_all(d, runs, now)


EXPAND_PART = 2000
"""Most items one transaction of a fan-out writes (:func:`expand_stage`): the first part's
items can be claimed while the rest are written."""


def expand_stage(
    d: RunDialect, job_id: int, token: int, items_json: Sequence[str], now: float | None
) -> Plan[int | None]:
    """One part of a fan-out, in one transaction (see
    :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage`): the next
    :data:`EXPAND_PART` items after those earlier parts wrote, and with the last part the
    expander's completion. Returns how many items are written after it (``len(items_json)``:
    the fan-out is complete), or None when it stopped: the expander no longer runs under
    ``token``, ``job_id`` is no expander, or the run stopped (then the expander is completed
    and nothing more is written).

    A store calls it until the fan-out is complete or it stops. The parts of a retried
    expander (an attempt that died between parts) continue after what is written, which
    needs ``each=`` to return the same items; a different count fails the run.

    Every part after the first writes its items *before* it takes the run's lock, and takes
    it only to check that the run still runs (if not, the part rolls back to a savepoint and
    goes the locked way, which completes the expander): on PostgreSQL the completions of the
    run's items, which take that lock, then wait for a check rather than for 2,000 rows
    written (decision 130). The first part takes the lock first: it sets the stage's counts."""
    found = yield d.stmt("run_expander", {"job_id": job_id}, now)
    if not found.rows:
        return None
    stage_id, run_id = int(found.rows[0][0]), int(found.rows[0][1])
    # The job's row first, then the run's: the order every finishing transaction keeps.
    held = yield d.stmt("run_expander_hold", {"job_id": job_id, "token": token}, now)
    if not held.rows:
        return None
    end = yield from _later_part(d, job_id, token, stage_id, run_id, items_json, now)
    if end is not None:
        return end
    progress = yield from _lock_run(d, run_id, now)
    if progress is None:
        return None
    if not (yield from _still_expander(d, job_id, stage_id, now)):
        # A cancel and a resume committed since the lookup: the stage has another expander,
        # whose item this job must not finish.
        return None
    stage = progress.by_id(stage_id)
    total = len(items_json)
    if not progress.running or str(stage.state) != "active":
        yield from _expander_done(d, job_id, token, stage_id, now)
        return None
    if stage.total and stage.total != total:
        progress.fail(stage, f"stage {stage.stage!r}: its each= gave {total} items where an "
                      f"earlier attempt of its expander gave {stage.total}; each= must "
                      "return the same items every time it is called", cancelled=False)
        yield from flush(d, progress, now)
        return None
    written = 0
    if stage.total:  # an earlier part (of this attempt or an earlier one) set the count
        count = yield d.stmt("run_items_written", {"stage_run_id": stage_id}, now)
        written = int(count.rows[0][0])
    end = min(total, written + EXPAND_PART)
    if end == total:
        yield from _expander_done(d, job_id, token, stage_id, now)
    progress.expanded(stage, items_json[written:end], written, total)
    yield from flush(d, progress, now)
    return end


def _later_part(
    d: RunDialect, job_id: int, token: int, stage_id: int, run_id: int,
    items_json: Sequence[str], now: float | None,
) -> Plan[int | None]:
    """A part after the first, its items written before the run's lock is taken (see
    :func:`expand_stage`); None, having written nothing (or undone it), when the part must go
    the locked way: the first part, a run, stage or count that is not as the earlier parts
    left it, or a run that stopped while the part was written."""
    seen = yield d.stmt("run_peek_run", {"run_id": run_id}, now)
    loaded = yield from _load(d, seen.rows, now)
    if not loaded or not loaded[0].running:
        return None
    progress = loaded[0]
    stage = progress.by_id(stage_id)
    total = len(items_json)
    if str(stage.state) != "active" or not stage.total or stage.total != total:
        return None
    count = yield d.stmt("run_items_written", {"stage_run_id": stage_id}, now)
    written = int(count.rows[0][0])
    if written == 0 or written >= total:
        return None
    end = min(total, written + EXPAND_PART)
    # Nothing of the stage's row changes after the first part: this writes the item jobs
    # and rows alone.
    yield d.stmt("run_part_savepoint", {}, now)
    progress.expanded(stage, items_json[written:end], written, total)
    yield from flush(d, progress, now)
    locked = yield from _lock_run(d, run_id, now)
    # Under the lock: still running, the stage still fanning out, and this job still its
    # expander (a cancel and a resume in between would have replaced it).
    if (
        locked is None
        or not locked.running
        or str(locked.by_id(stage_id).state) != "active"
        or not (yield from _still_expander(d, job_id, stage_id, now))
    ):
        yield d.stmt("run_part_undo", {}, now)
        return None
    if end == total:
        yield from _expander_done(d, job_id, token, stage_id, now)
    return end


def _still_expander(d: RunDialect, job_id: int, stage_id: int, now: float | None) -> Plan[bool]:
    """Whether ``job_id`` is still the expander of stage ``stage_id`` (read under the run's
    lock: a resume replaces a stage's expander)."""
    found = yield d.stmt("run_expander", {"job_id": job_id}, now)
    return bool(found.rows) and int(found.rows[0][0]) == stage_id


def expand_all(part: Callable[[], int | None], total: int) -> bool:
    """Write a fan-out of ``total`` items by calling ``part`` (one transaction of
    :func:`expand_stage`) until it is complete (True) or stopped (False)."""
    while True:
        written = part()
        if written is None or written == total:
            return written is not None


async def expand_all_async(part: Callable[[], Awaitable[int | None]], total: int) -> bool:
    """:func:`expand_all` for an async store: the event loop runs between parts."""
    while True:
        written = await part()
        if written is None or written == total:
            return written is not None


def _expander_done(
    d: RunDialect, job_id: int, token: int, stage_id: int, now: float | None
) -> Plan[None]:
    """Complete the expander job (its row is held) and mark its item succeeded."""
    yield from d.complete(Completion(job_id, token, CompletionKind.SUCCEEDED), now)
    yield d.stmt("run_expander_done", {"stage_run_id": stage_id}, now)


def cancel_run(d: RunDialect, run_id: int, by: str | None, now: float | None) -> Plan[bool]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.cancel_run`."""
    progress = yield from _lock_run(d, run_id, now)
    if progress is None or not progress.running:
        return False
    progress.fail(None, f"cancelled by {by or 'an operator'}", cancelled=True)
    yield from flush(d, progress, now)
    yield record(d, by, "run.cancel", run_id, {}, now)
    return True


def cancel_stragglers(d: RunDialect, run_id: int, now: float | None) -> Plan[None]:
    """After a transaction that stopped the run committed (:func:`cancel_run`, or an advance
    that failed it; see :func:`collecting_stopped`): cancel the run's jobs it skipped because
    a claim in flight held them (``run_cancel_jobs`` skips rows another transaction holds,
    taking the holder for one that finishes the job and advances the run; a claim finishes
    nothing, and its jobs then ran in the stopped run). In a transaction of its own, in the
    order every writer keeps: the jobs' rows (waiting for those claims to commit), then the
    run's (decision 141). Where one writer at a time holds the store (SQLite), a claim cannot
    be in flight beside a stop, and this finds nothing."""
    found = yield d.stmt("run_open_jobs", {"run_id": run_id}, now)
    if not found.rows:
        return
    ids = [int(r[0]) for r in found.rows]
    yield d.stmt("run_wait_claims", {"ids": json.dumps(ids)}, now)
    progress = yield from _lock_run(d, run_id, now)
    if progress is None or progress.running:
        return  # pruned, or resumed meanwhile: its jobs are its own again
    progress.cancel_jobs = True
    yield from flush(d, progress, now)


def reset_run(d: RunDialect, reset: RunReset, now: float | None) -> Plan[bool]:
    """See :meth:`~conveyor.store.contract.runs.RunVerbs.reset_run`."""
    progress = yield from _lock_run(d, reset.run_id, now)
    if progress is None or progress.running:
        return False
    check_reset(progress, reset.stages)
    chosen = set(reset.stages)
    for name, template in reset.templates:
        if name not in chosen:
            raise ConfigurationError(
                f"resuming run {reset.run_id}: a new template for {name!r}, which is not re-run"
            )
        progress.by_name(name).template = template
    if reset.input_override is not None and reset.input_override[0] not in chosen:
        raise ConfigurationError(
            f"resuming run {reset.run_id}: new input for {reset.input_override[0]!r}, which "
            "is not re-run; resume from that stage"
        )
    ids = [s.id for s in progress.stages if s.stage in chosen]
    yield d.stmt("run_delete_items", {"stage_ids": json.dumps(ids)}, now)
    progress.reset(reset.stages, reset.input_override)
    yield from flush(d, progress, now)
    details = {
        "stages": sorted(chosen),
        "input_for": reset.input_override[0] if reset.input_override else None,
    }
    yield record(d, reset.by, "run.resume", reset.run_id, details, now)
    return True
