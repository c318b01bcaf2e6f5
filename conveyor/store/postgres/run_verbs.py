"""Pipeline runs on PostgreSQL: the dialect of the shared run plans, the job verbs that advance
runs, and the run verbs of the sync and async stores.

The plans are :mod:`conveyor.store.run_plans` and :mod:`conveyor.store.run_reads`; this module
gives them the ``run_*.sql`` statements and the job writes of :class:`Plans`. The job verbs
that can make a stage job final (complete, cancel, rescue) run the advance in their own
transaction through the wrappers below; a batch with no stage job completion runs exactly
the plan it ran before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from conveyor._lifecycle import Action, Completion, sources, target, transition
from conveyor.errors import ConfigurationError
from conveyor.store import output_plans, run_plans, run_reads, usage_plans
from conveyor.store.connections import driver_connection, driver_connection_async
from conveyor.store.contract.output import OutputChunk
from conveyor.store.contract.records import (
    CompletionResult,
    JobBatch,
    JobFilter,
    NewJob,
    Retention,
)
from conveyor.store.contract.run_records import (
    JobTemplate,
    NewRun,
    RunDetail,
    RunFilter,
    RunReset,
    RunSummary,
    StageInput,
    StageOutputPage,
)
from conveyor.store.contract.usage import UsageBy, UsageRow, UsageTotal
from conveyor.store.plan import Plan, Statement
from conveyor.store.postgres.copy_items import item_blocks
from conveyor.store.postgres.copy_rows import COPY_MIN_BATCH
from conveyor.store.postgres.plans import Plans
from conveyor.store.postgres.plans_base import at
from conveyor.store.postgres.sequence_plans import SequencePlans
from conveyor.store.run_graph import FanPart, stage_job

if TYPE_CHECKING:
    from conveyor.store.postgres.store import PostgresStore

log = logging.getLogger("conveyor.store.postgres")

T = TypeVar("T")


def _cancel_params() -> dict[str, Any]:
    from_states = sources(Action.CANCEL)
    recorded = {st: transition(st, Action.CANCEL).outcome for st in from_states}
    [outcome] = {o for o in recorded.values() if o is not None}
    return {
        "lc_from": [str(st) for st in from_states],
        "lc_to": str(target(Action.CANCEL)),
        "lc_recorded": [str(st) for st, o in recorded.items() if o is not None],
        "lc_outcome": str(outcome),
    }


def _copied(templates: Sequence[JobTemplate], jobs: Sequence[tuple[int, str]]) -> Sequence[NewJob]:
    """Stage jobs to COPY: a fan-out's (one template) as a :class:`JobBatch`, whose shared
    columns are packed once, rather than a :class:`NewJob` built per item (a third of the
    worker's time in a 100,000-item fan-out's parts went to building them)."""
    if len({t for t, _ in jobs}) == 1:
        return JobBatch(stage_job(templates[jobs[0][0]], "{}"), [args for _, args in jobs])
    return [stage_job(templates[t], args) for t, args in jobs]


class PostgresRunDialect:
    """The run plans' statements and job writes on PostgreSQL (see ``RunDialect``)."""

    def __init__(self, plans: Plans, *, copy: bool = True) -> None:
        self.plans = plans
        self.copy = copy
        """Whether a long insert may be COPYed; a worker's round may not (see
        :func:`completing`)."""

    def stmt(self, name: str, params: dict[str, Any], now: float | None) -> Statement:
        """``queries/<name>.sql`` on the server's clock, or at ``now``."""
        return at(self.plans.q(name), params, now)

    def insert_stage_jobs(
        self, templates: Sequence[JobTemplate], jobs: Sequence[tuple[int, str]], now: float | None
    ) -> Plan[list[int]]:
        """Insert with the NOTIFY that wakes workers; ids in input order. A long fan-out is
        COPYed (decision 100), inside the run plan's transaction like the short INSERT."""
        # A stage job has no unique key or sequence (stage_job), which COPY could not check.
        if self.copy and len(jobs) >= COPY_MIN_BATCH:
            inserted = yield from self.plans.insert_copied_jobs(
                _copied(templates, jobs), notify=True, now=now
            )
            return [i.id for i in inserted]
        new = [stage_job(templates[t], args) for t, args in jobs]
        inserted = yield from self.plans.insert_plain_jobs(new, notify=True, now=now)
        return [i.id for i in inserted]

    def insert_fan_part(
        self, template: JobTemplate, run_id: int, part: FanPart, now: float | None
    ) -> Plan[None]:
        """As any new items (:func:`~conveyor.store.run_plans.fan_part_rows`), but a long
        part's jobs and item rows are both COPYed (see :mod:`.copy_items`)."""
        if not self.copy or len(part.items_json) < COPY_MIN_BATCH:
            return run_plans.fan_part_rows(self, template, run_id, part, now)
        return self._copy_fan_part(template, run_id, part, now)

    def _copy_fan_part(
        self, template: JobTemplate, run_id: int, part: FanPart, now: float | None
    ) -> Plan[None]:
        items, ids = yield from run_plans.fan_part_jobs(self, template, run_id, part, now)
        yield Statement(self.plans.q("copy_stage_items"), copy=item_blocks(items, ids))

    def finish(
        self, job_ids_json: str, now: float | None
    ) -> Plan[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """The runs' row locks, with a fan-out's usual batch applied in the same statement
        (``run_lock_count_down``, decision 134: then nothing is left to advance); else one
        more statement: the item update as a CTE, the stage rows with each stage's ended
        items (it starts after the run locks are held, so it reads the stage rows as the
        last holder of each lock left them)."""
        locked = yield self.stmt("run_lock_count_down", {"job_ids": job_ids_json}, now)
        if not locked.rows or locked.rows[0][2]:
            return [], [], []
        run_ids = [int(r[0]) for r in locked.rows]
        sql = (
            "WITH ended AS (\n"
            + self.plans.q("run_finish_items")
            + "\n)\n"
            + self.plans.q("run_finish_load")
        )
        found = yield at(sql, {"ids": job_ids_json, "run_ids": json.dumps(run_ids)}, now)
        ended: list[tuple[Any, ...]] = []
        stages: list[tuple[Any, ...]] = []
        for row in found.rows:
            stage_id = int(row[0])
            for item, state, error, output in row[-1] or ():
                ended.append((stage_id, item, state, error, output))
            stages.append(tuple(row[:-1]))
        return [r[:2] for r in locked.rows], ended, stages

    def write_back(
        self,
        items: list[dict[str, Any]],
        stages: list[dict[str, Any]],
        runs: list[dict[str, Any]],
        progressed: list[int],
        now: float | None,
    ) -> Plan[None]:
        """Every write that is due in one statement: the earlier ones as CTEs of the last.
        (The writes touch different tables, so their order inside one statement does not
        matter; ``run_insert_items``' batch parameter is renamed so it does not collide with
        ``run_update_stages``'.)"""
        parts: list[str] = []
        params: dict[str, Any] = {}
        if items:
            parts.append(self.plans.q("run_insert_items").replace("%(batch)s", "%(items)s"))
            params["items"] = json.dumps(items)
        if stages:
            parts.append(self.plans.q("run_update_stages"))
            params["batch"] = json.dumps(stages)
        if runs:
            parts.append(self.plans.q("run_update"))
            params["runs"] = json.dumps(runs)
        if progressed:
            parts.append(self.plans.q("run_progressed"))
            params["progressed"] = json.dumps(progressed)
        if not parts:
            return
        *ctes, last = parts
        head = ",\n".join(f"w{n} AS (\n{sql}\n)" for n, sql in enumerate(ctes))
        yield at(f"WITH {head}\n{last}" if ctes else last, params, now)

    def complete(self, completion: Completion, now: float | None) -> Plan[bool]:
        """complete_jobs.sql for one attempt (it advances no run)."""
        [result] = yield from self.plans.complete_jobs([completion], now)
        return result.accepted

    def cancel_jobs(self, ids: Sequence[int], now: float | None) -> Plan[list[int]]:
        """Cancel those not final, skipping rows another transaction holds."""
        if not ids:
            return []
        params = {"ids": json.dumps(list(ids)), **_cancel_params()}
        result = yield self.stmt("run_cancel_jobs", params, now)
        return sorted(int(r[0]) for r in result.rows)


STRAGGLERS = "cancelling the jobs claims held while a run stopped"
"""What a store's follow-up of a stopped run is doing (for its errors)."""


def stragglers(plans: Plans, stopped: Sequence[int]) -> Iterator[tuple[int, Plan[None]]]:
    """Each run a committed plan stopped with the transaction that follows it
    (:func:`~conveyor.store.run_plans.cancel_stragglers`, decision 141)."""
    for run_id in stopped:
        yield run_id, run_plans.cancel_stragglers(dialect(plans), run_id, None)


def straggler_failed(run_id: int, exc: Exception) -> None:
    """Log a follow-up that failed: the plan it follows is committed, so it is not raised."""
    log.warning("run %s stopped; the jobs claimed as it stopped were not cancelled: %s",
                run_id, exc)


def dialect(plans: Plans, *, copy: bool = True) -> PostgresRunDialect:
    """The run dialect over ``plans`` (``copy=False``: it never COPYs jobs in)."""
    return PostgresRunDialect(plans, copy=copy)


# -- the job verbs that advance runs -------------------------------------------------------------


def completing(
    plans: Plans, completions: Sequence[Completion], now: float | None
) -> Plan[list[CompletionResult]]:
    """The plan that applies ``completions``: complete_jobs as it is when none is a stage job's,
    else it followed by the advance of the accepted final ones, in one transaction. The
    advance inserts the jobs of the stages it activates with INSERT, never COPY (one job per
    stage made ready, a few per batch; a fan-out's items are written by ``expand_stage``), so
    a worker's round that runs this plan can be pipelined (decision 116)."""
    if not any(c.in_run or c.in_sequence for c in completions):
        return plans.complete_jobs(completions, now)
    return _complete_and_advance(plans, completions, now)


def _complete_and_advance(
    plans: Plans, completions: Sequence[Completion], now: float | None
) -> Plan[list[CompletionResult]]:
    results = yield from plans.complete_jobs(completions, now)
    ended = [
        c.job_id
        for c, r in zip(completions, results, strict=True)
        if r.accepted and c.in_run and c.state.is_final
    ]
    yield from run_plans.advance(dialect(plans, copy=False), ended, now)
    # A sequenced job that ended frees its key: the next one is released in this transaction.
    finished = [
        c.job_id
        for c, r in zip(completions, results, strict=True)
        if r.accepted and c.in_sequence and c.state.is_final
    ]
    yield from SequencePlans(plans).advance(finished, now)
    return results


def cancelling(plans: Plans, flt: JobFilter, now: float | None) -> Plan[list[int]]:
    """cancel_jobs, then the advance of the runs of the stage jobs it cancelled."""
    cancelled = yield from plans.cancel_jobs(flt, now)
    yield from run_plans.advance(dialect(plans), cancelled, now)
    yield from SequencePlans(plans).advance(cancelled, now)  # a cancelled head frees its key
    return cancelled


def retrying(plans: Plans, flt: JobFilter, now: float | None) -> Plan[list[int]]:
    """retry_jobs, then the finished jobs of a sequence it revived go back in line."""
    retried = yield from plans.retry_jobs(flt, now)
    yield from SequencePlans(plans).requeue(retried, now)
    return retried


def rescuing(plans: Plans, limit: int, now: float | None) -> Plan[list[int]]:
    """rescue_expired, then the advance of the runs of the stage jobs it sent to ``dead``."""
    rescued = yield from plans.rescue_expired(limit, now)
    yield from run_plans.advance(dialect(plans), rescued, now)
    return rescued


def expiring(plans: Plans, limit: int, now: float | None) -> Plan[list[int]]:
    """cancel_expired, then the advance of the runs of the stage jobs it cancelled."""
    expired = yield from plans.cancel_expired(limit, now)
    yield from run_plans.advance(dialect(plans), expired, now)
    return expired


def prune_runs(plans: Plans, retention: Retention, limit: int, now: float | None) -> Plan[int]:
    """The runs' part of ``prune`` (a transaction of its own, see
    :func:`~conveyor.store.postgres.prune_plan.prune_plans`): finished runs past
    ``retention.runs`` with their stages, items and outputs, and their jobs' old steps."""
    return run_reads.prune_runs(dialect(plans), retention.runs, limit, now)


def _caller_connection(
    connection: object, check_same_database: Callable[[str], None]
) -> psycopg.Connection[Any]:
    raw = driver_connection(connection)
    if not isinstance(raw, psycopg.Connection):
        raise ConfigurationError(
            "start(connection=...) on PostgreSQL takes a psycopg.Connection or a SQLAlchemy "
            f"Connection/Session using psycopg (postgresql+psycopg://), got "
            f"{type(raw).__name__}; from async code use the async start"
        )
    check_same_database(raw.info.dbname)
    return raw


# -- the run verbs -------------------------------------------------------------------------------


class PostgresRunVerbs:
    """:class:`~conveyor.store.contract.runs.RunVerbs` for :class:`PostgresStore`."""

    if TYPE_CHECKING:  # provided by PostgresStore
        plans: Plans

        def run(self, plan: Plan[T], where: str) -> T: ...
        def run_on(self, conn: Any, plan: Plan[T], where: str) -> T: ...
        def check_same_database(self, dbname: str) -> None: ...

    def start_run(
        self, run: NewRun, *, connection: object | None = None, now: float | None = None
    ) -> int:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.start_run`."""
        plan = run_plans.start_run(dialect(self.plans), run, now)
        if connection is None:
            return self.run(plan, "starting a run")
        raw = _caller_connection(connection, self.check_same_database)
        return self.run_on(raw, plan, "starting a run")

    def expand_stage(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage`: a transaction
        per part."""
        return run_plans.expand_all(
            lambda: self.expand_stage_part(job_id, token, items_json, now=now), len(items_json)
        )

    def expand_stage_part(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> int | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage_part`."""
        plan = run_plans.expand_stage(dialect(self.plans), job_id, token, items_json, now)
        return self.run(plan, "fanning out a stage")

    def stage_input(self, stage_run_id: int, item: int) -> StageInput | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_input`."""
        plan = run_reads.stage_input(dialect(self.plans), stage_run_id, item, None)
        return self.run(plan, "reading a stage's input")

    def get_run(self, run_id: int, *, outputs: int | None = None) -> RunDetail | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.get_run`."""
        plan = run_reads.get_run(dialect(self.plans), run_id, None, outputs)
        return self.run(plan, "reading a run")

    def stage_output_page(
        self, run_id: int, stage: str, offset: int, limit: int
    ) -> StageOutputPage | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_output_page`."""
        plan = run_reads.stage_output_page(dialect(self.plans), run_id, stage, offset, limit, None)
        return self.run(plan, "reading a stage's output")

    def list_runs(self, flt: RunFilter) -> list[RunSummary]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.list_runs`."""
        return self.run(run_reads.list_runs(dialect(self.plans), flt, None), "listing runs")

    def cancel_run(self, run_id: int, *, by: str | None = None, now: float | None = None) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.cancel_run`."""
        plan = run_plans.cancel_run(dialect(self.plans), run_id, by, now)
        return self.run(plan, "cancelling a run")

    def reset_run(self, reset: RunReset, *, now: float | None = None) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.reset_run`."""
        return self.run(run_plans.reset_run(dialect(self.plans), reset, now), "resuming a run")

    def save_step(self, job_id: int, token: int, name: str, value_json: str) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.save_step`."""
        plan = run_reads.save_step(dialect(self.plans), job_id, token, name, value_json, None)
        return self.run(plan, "saving a step")

    def load_steps(self, job_id: int) -> dict[str, str]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.load_steps`."""
        return self.run(run_reads.load_steps(dialect(self.plans), job_id, None), "reading steps")

    # -- a job's output (ctx.emit): same shape as the steps, so the same dialect ----------------

    def append_output(
        self, job_id: int, token: int, attempt: int, chunk_json: str, max_bytes: int,
        *, now: float | None = None,
    ) -> int | None:
        """See :meth:`~conveyor.store.contract.output.OutputVerbs.append_output`."""
        plan = output_plans.append_output(
            dialect(self.plans), job_id, token, attempt, chunk_json, max_bytes, now
        )
        return self.run(plan, "appending a job's output")

    def read_output(self, job_id: int, after: int = 0, limit: int = 500) -> list[OutputChunk]:
        """See :meth:`~conveyor.store.contract.output.OutputVerbs.read_output`."""
        plan = output_plans.read_output(dialect(self.plans), job_id, after, limit, None)
        return self.run(plan, "reading a job's output")

    # -- usage (conveyor.store.contract.usage): a table of its own, same dialect ---------------

    def record_usage(self, rows: Sequence[UsageRow]) -> None:
        """See :meth:`~conveyor.store.contract.usage.UsageVerbs.record_usage`."""
        if rows:
            self.run(usage_plans.record_usage(dialect(self.plans), rows, None), "recording usage")

    def usage_totals(
        self, by: UsageBy | None = None, *, since: float | None = None,
        until: float | None = None,
    ) -> list[UsageTotal]:
        """See :meth:`~conveyor.store.contract.usage.UsageVerbs.usage_totals`."""
        usage_plans.check_by(by)
        plan = usage_plans.usage_totals(dialect(self.plans), by, since, until, None)
        return self.run(plan, "summing usage")


class AsyncPostgresRunVerbs:
    """:class:`~conveyor.store.contract.runs.AsyncRunVerbs` for :class:`AsyncPostgresStore`."""

    if TYPE_CHECKING:  # provided by AsyncPostgresStore
        plans: Plans
        _store: PostgresStore

        async def run(self, plan: Plan[T], where: str) -> T: ...
        async def run_on(self, conn: Any, plan: Plan[T], where: str) -> T: ...

    async def start_run(
        self, run: NewRun, *, connection: object | None = None, now: float | None = None
    ) -> int:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.start_run`."""
        if connection is None:
            plan = run_plans.start_run(dialect(self.plans), run, now)
            return await self.run(plan, "starting a run")
        raw = await driver_connection_async(connection)
        if isinstance(raw, psycopg.Connection):
            return self._store.start_run(run, connection=raw, now=now)
        if not isinstance(raw, psycopg.AsyncConnection):
            raise ConfigurationError(
                "start(connection=...) from async code on PostgreSQL takes a psycopg "
                "AsyncConnection or a SQLAlchemy AsyncConnection/AsyncSession using psycopg, "
                f"got {type(raw).__name__}"
            )
        self._store.check_same_database(raw.info.dbname)
        plan = run_plans.start_run(dialect(self.plans), run, now)
        return await self.run_on(raw, plan, "starting a run")

    async def expand_stage(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage`: a transaction
        per part."""
        return await run_plans.expand_all_async(
            lambda: self.expand_stage_part(job_id, token, items_json, now=now), len(items_json)
        )

    async def expand_stage_part(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> int | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage_part`."""
        plan = run_plans.expand_stage(dialect(self.plans), job_id, token, items_json, now)
        return await self.run(plan, "fanning out a stage")

    async def stage_input(self, stage_run_id: int, item: int) -> StageInput | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_input`."""
        plan = run_reads.stage_input(dialect(self.plans), stage_run_id, item, None)
        return await self.run(plan, "reading a stage's input")

    async def get_run(self, run_id: int, *, outputs: int | None = None) -> RunDetail | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.get_run`."""
        plan = run_reads.get_run(dialect(self.plans), run_id, None, outputs)
        return await self.run(plan, "reading a run")

    async def stage_output_page(
        self, run_id: int, stage: str, offset: int, limit: int
    ) -> StageOutputPage | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_output_page`."""
        plan = run_reads.stage_output_page(dialect(self.plans), run_id, stage, offset, limit, None)
        return await self.run(plan, "reading a stage's output")

    async def list_runs(self, flt: RunFilter) -> list[RunSummary]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.list_runs`."""
        plan = run_reads.list_runs(dialect(self.plans), flt, None)
        return await self.run(plan, "listing runs")

    async def cancel_run(
        self, run_id: int, *, by: str | None = None, now: float | None = None
    ) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.cancel_run`."""
        plan = run_plans.cancel_run(dialect(self.plans), run_id, by, now)
        return await self.run(plan, "cancelling a run")

    async def reset_run(self, reset: RunReset, *, now: float | None = None) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.reset_run`."""
        plan = run_plans.reset_run(dialect(self.plans), reset, now)
        return await self.run(plan, "resuming a run")

    async def save_step(self, job_id: int, token: int, name: str, value_json: str) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.save_step`."""
        plan = run_reads.save_step(dialect(self.plans), job_id, token, name, value_json, None)
        return await self.run(plan, "saving a step")

    async def load_steps(self, job_id: int) -> dict[str, str]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.load_steps`."""
        plan = run_reads.load_steps(dialect(self.plans), job_id, None)
        return await self.run(plan, "reading steps")
