"""Pipeline runs: starting them, their fan-out, stage inputs, reading, cancelling, resuming,
and the checkpoints of ``ctx.step``.

A **run** is one execution of a pipeline (or of a workflow built at run time): a graph of
**stages**, each made of ordinary jobs (**items**: one for a plain stage, one per element for a
fan-out stage, plus an expander job that makes them). Outputs live with the items, not in the
jobs table, so job retention never takes what a run needs.

**The advance.** Whenever a stage job becomes final, in the same transaction that makes it
final, the store advances its run: the item takes the job's output (or error); the stage's
count of unfinished items goes down, under a row lock, so of two jobs finishing the last two
items at once exactly one sees zero; a failed item fails the stage and the run (policy
``fail``, and any failure of a plain stage or an expander) and cancels the run's other
unfinished jobs, or is counted (``skip``, ``collect``); a stage with no item left succeeds,
its children's count of pending parents goes down, and a child reaching zero becomes
``active`` with its job (or its expander) inserted; when no stage is left unfinished the run
succeeds with its result. A job that died fails its run (``failed``); one that was cancelled
(``cancel_jobs``) where a failure would fail the run ends it ``cancelled``. Late completions
of a run that has stopped only record their item. "Becomes final" is every path: ``complete_jobs``,
``complete_and_claim`` and ``ctx.transaction`` for a :class:`~conveyor._lifecycle.Completion`
with ``in_run=True`` that was accepted (a retry, a release or a lost lease advances nothing),
``cancel_jobs``, ``rescue_expired`` and ``expire_worker`` when they end a stage job.
``discard_jobs`` only deletes final jobs, which have already advanced their run.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.store.contract.run_records import (
    NewRun,
    RunDetail,
    RunFilter,
    RunReset,
    RunSummary,
    StageInput,
    StageOutputPage,
)


class RunVerbs(Protocol):
    """Runs of pipelines and workflows, and ``ctx.step`` checkpoints."""

    def start_run(
        self, run: NewRun, *, connection: object | None = None, now: float | None = None
    ) -> int:
        """Insert a run, its stages and the jobs of its first stages (those without parents);
        return the run's id. Ids are never reused.

        With ``connection`` (a driver connection of this store's kind, as
        :meth:`~conveyor.store.contract.jobs.JobVerbs.insert_jobs_in` takes), everything is
        written inside the caller's transaction and exists only if the caller commits.
        Raises ``ConfigurationError`` for a graph with duplicate stage names, unknown parents,
        a cycle, no stage, or a fan-out stage without exactly one parent.

        Guarantees: one transaction (or inside the caller's). Not idempotent: each call starts
        a new run. ``now`` is the run's creation time and its first jobs' due time.
        """
        ...

    def expand_stage(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> bool:
        """Fan out: insert one job and one item per element of ``items_json`` (in order,
        items 0..n-1) for the stage of expander job ``job_id``, and complete the expander as
        succeeded. With no items the stage succeeds at once with an empty list and its
        children are advanced. Each item's job is the stage's template with arguments
        ``{"run_id": R, "stage_run_id": S, "item": i, "given": {"item_input": X}}`` (``given``
        left out for an item over ``INLINE_INPUT_MAX``). False when the expander no longer
        runs under ``token``, when ``job_id`` is no expander, or when its run has stopped
        meanwhile (the expander is then completed, and no more items are written).

        The items are written in parts of at most ``run_plans.EXPAND_PART``, a transaction
        each, in item order; the last part completes the expander. An earlier part's items
        can be claimed and run while later parts are written (the stage's count is the whole
        fan-out's from the first part, so it cannot finish early). A later attempt of an
        expander whose earlier attempt wrote some parts before losing its job continues after
        them; its ``items_json`` must have the same length (``each=`` must give the same
        items every time), or the run fails naming both counts. A part after the first does
        not hold up the completions of the run's items while it writes (PostgreSQL: it takes
        the run's lock after its rows, to check the run still runs; a run stopped meanwhile
        rolls the part back and completes the expander).

        The worker's own later completion of the expander is refused (``accepted=False``),
        which is harmless.

        Guarantees: a transaction per part, each fenced by the expander's token; the
        expander's completion is in the last. Idempotent: a repeat finds the expander
        finished and returns False. Bulk: a part's items are written in a few statements.
        ``now`` is the expander's finish time and the items' due time.
        """
        ...

    def expand_stage_part(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> int | None:
        """One transaction of :meth:`expand_stage`: the next part of the fan-out. Returns how
        many items are written after it (``len(items_json)`` when the fan-out is complete and
        the expander with it), or None when it stopped (for the reasons :meth:`expand_stage`
        returns False).

        A caller that must not hold its connection for a whole fan-out (a store with one
        thread per process, whose heartbeats wait behind it) calls this until it returns
        None or ``len(items_json)``; :meth:`expand_stage` is that loop.
        """
        ...

    def stage_input(self, stage_run_id: int, item: int) -> StageInput | None:
        """What a stage job needs to start: the run's input, its parents' outputs (a fan-out
        parent's as the array of its item outputs in item order, with its failures under
        ``collect``), its item's input and any override. An item (``item >= 0``) of a fan-out
        stage gets its item's input and no ``parents`` (its expander, item -1, gets them).
        None when the stage run is gone.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def get_run(self, run_id: int, *, outputs: int | None = None) -> RunDetail | None:
        """A run with its stages, or None when it does not exist (or was pruned).

        ``outputs`` bounds what is read of a fan-out stage's items: None reads every item's
        output (a 10,000-item stage: all 10,000); N reads the outputs of its first N items
        only, and a succeeded fan-out stage with more than N items then has no
        ``output_json`` but ``output_left_out`` (page it with :meth:`stage_output_page`).
        Plain stages, states, counts and job ids are read whole either way. Raises
        ``ValueError`` for a negative ``outputs``.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def stage_output_page(
        self, run_id: int, stage: str, offset: int, limit: int
    ) -> StageOutputPage | None:
        """Values ``offset`` to ``offset + limit`` of the output of stage ``stage`` of run
        ``run_id`` (a fan-out stage's succeeded item outputs in item order, or a plain
        stage's one output), paged by the store, not read whole. No values until the stage
        succeeded. None when the run or the stage does not exist.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def list_runs(self, flt: RunFilter) -> list[RunSummary]:
        """Runs matching ``flt``, newest first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def cancel_run(self, run_id: int, *, by: str | None = None, now: float | None = None) -> bool:
        """Cancel a running run: its unfinished stages become ``cancelled``, its waiting jobs
        are cancelled and its running ones too (their attempts are recorded as cancelled and
        their later completions refused, as ``cancel_jobs`` does; the worker's cooperative
        cancel stops the handler). Recorded in the audit log as ``by``. False when the run is
        not running (or does not exist).

        Guarantees: one transaction; fenced by the run's state. Idempotent: a repeat returns
        False.
        """
        ...

    def reset_run(self, reset: RunReset, *, now: float | None = None) -> bool:
        """Resume a finished run: the named stages lose their items and go back to
        ``waiting`` (with a new template and input override where given), their count of
        pending parents is recomputed from the stages outside the set, the run becomes
        ``running`` again (``resumes`` + 1, its error and result cleared), those with no
        pending parent become ``active`` with new jobs, and the resume is recorded in the
        audit log. Every other stage keeps its state and output. False when the run is still
        running or does not exist. Raises ``ConfigurationError`` naming an unknown stage, or
        a set that is not closed under descendants.

        Guarantees: one transaction; fenced by the run's state (only a run that is not
        running). Not idempotent: a repeat finds the run running and returns False.
        """
        ...

    def save_step(self, job_id: int, token: int, name: str, value_json: str) -> bool:
        """Store the result of ``ctx.step(name, ...)`` for job ``job_id``. False (nothing
        written) when the job no longer runs under ``token``, or the step is already stored.

        Guarantees: one transaction; fenced by the job's running state and token;
        insert-if-absent on (job, name): the first value stays.
        """
        ...

    def load_steps(self, job_id: int) -> dict[str, str]:
        """Every stored step of job ``job_id`` by name (retries of the job see them; a
        resumed stage is a new job and starts without).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...


class AsyncRunVerbs(Protocol):
    """The async twins of :class:`RunVerbs` (same guarantees), for workers and async
    producers."""

    async def start_run(
        self, run: NewRun, *, connection: object | None = None, now: float | None = None
    ) -> int:
        """See :meth:`RunVerbs.start_run` (``connection`` may be an async connection)."""
        ...

    async def expand_stage(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> bool:
        """See :meth:`RunVerbs.expand_stage`."""
        ...

    async def expand_stage_part(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> int | None:
        """See :meth:`RunVerbs.expand_stage_part`."""
        ...

    async def stage_input(self, stage_run_id: int, item: int) -> StageInput | None:
        """See :meth:`RunVerbs.stage_input`."""
        ...

    async def get_run(self, run_id: int, *, outputs: int | None = None) -> RunDetail | None:
        """See :meth:`RunVerbs.get_run`."""
        ...

    async def stage_output_page(
        self, run_id: int, stage: str, offset: int, limit: int
    ) -> StageOutputPage | None:
        """See :meth:`RunVerbs.stage_output_page`."""
        ...

    async def list_runs(self, flt: RunFilter) -> list[RunSummary]:
        """See :meth:`RunVerbs.list_runs`."""
        ...

    async def cancel_run(
        self, run_id: int, *, by: str | None = None, now: float | None = None
    ) -> bool:
        """See :meth:`RunVerbs.cancel_run`."""
        ...

    async def reset_run(self, reset: RunReset, *, now: float | None = None) -> bool:
        """See :meth:`RunVerbs.reset_run`."""
        ...

    async def save_step(self, job_id: int, token: int, name: str, value_json: str) -> bool:
        """See :meth:`RunVerbs.save_step`."""
        ...

    async def load_steps(self, job_id: int) -> dict[str, str]:
        """See :meth:`RunVerbs.load_steps`."""
        ...
