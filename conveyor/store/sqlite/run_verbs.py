"""Pipeline runs on SQLite: the dialect of the shared run plans, the job verbs that advance
runs, and the run verbs of the store.

The plans are :mod:`conveyor.store.run_plans` and :mod:`conveyor.store.run_reads`; this module
gives them the ``run_*.sql`` statements and SQLite's job writes. Every write runs under the
database's one write lock, which is also each run's lock. ``now`` is always a number here:
the store reads its clock under the write lock before a plan starts.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor._lifecycle import Completion
from conveyor.errors import ConfigurationError, StoreError
from conveyor.store import output_plans, rows, run_plans, run_reads, usage_plans
from conveyor.store.contract.output import OutputChunk
from conveyor.store.contract.records import (
    ClaimedJob,
    ClaimParams,
    CompletionResult,
    JobFilter,
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
from conveyor.store.limits import PassHint
from conveyor.store.plan import Plan, Statement
from conveyor.store.run_graph import INLINE_INPUT_MAX, ITEM_SUCCEEDED, FanPart
from conveyor.store.sqlite import job_plans, plans
from conveyor.store.sqlite.connection import query
from conveyor.store.sqlite.driver import drive

if TYPE_CHECKING:
    from conveyor.store.sqlite.connection import Database

T = TypeVar("T")


def _clock(now: float | None) -> float:
    if now is None:  # the SQLite store resolves its clock before any run plan starts
        raise RuntimeError("a SQLite run plan was started without a clock")
    return now


class SQLiteRunDialect:
    """The run plans' statements and job writes on SQLite (see ``RunDialect``)."""

    def stmt(self, name: str, params: dict[str, Any], now: float | None) -> Statement:
        """``queries/<name>.sql`` with ``now`` as its ``:now`` parameter."""
        return Statement(query(name), {**params, "now": _clock(now)})

    def insert_stage_jobs(
        self, templates: Sequence[JobTemplate], jobs: Sequence[tuple[int, str]], now: float | None
    ) -> Plan[list[int]]:
        """Ids in input order, from one statement (``run_insert_jobs``) that takes each
        template once, as an array of its options, and each job as ``[template index,
        arguments]``: a fan-out's thousands of jobs share one template, and SQLite parses a
        JSON array anew for each value taken from it. Jobs of one template (a fan-out's
        part, most hand-offs) take it as parameters instead (``run_insert_jobs_one``)."""
        if len(templates) == 1:
            one = {**_template_params(templates[0]), "jobs": json.dumps([a for _, a in jobs])}
            found = yield self.stmt("run_insert_jobs_one", one, now)
            return sorted(int(r[0]) for r in found.rows)  # ids are assigned in input order
        params = {
            "templates": json.dumps([_template_options(t) for t in templates]),
            "jobs": json.dumps(jobs),
            "due_state": rows.INSERTED_STATES["due_state"],
        }
        found = yield self.stmt("run_insert_jobs", params, now)
        return sorted(int(r[0]) for r in found.rows)  # ids are assigned in input order

    def insert_fan_part(
        self, template: JobTemplate, run_id: int, part: FanPart, now: float | None
    ) -> Plan[None]:
        """The part's jobs with their arguments made in SQL from the items' texts
        (``run_insert_part_jobs``), then its item rows from the same texts and the jobs'
        ids (``run_insert_part_items``): two statements and one JSON array, where building
        each job's arguments and each item's row in Python held the write lock as long as
        the inserts (decision 136). Should the ids not follow each other (they do, under
        the write lock), the items are written as any new items are."""
        items = json.dumps(list(part.items_json))
        found = yield self.stmt(
            "run_insert_part_jobs",
            {
                **_template_params(template), "run_id": run_id, "stage_run_id": part.stage_id,
                "first": part.first, "items": items, "inline_max": INLINE_INPUT_MAX,
            },
            now,
        )
        ids = sorted(int(r[0]) for r in found.rows)
        if ids and ids[-1] - ids[0] == len(ids) - 1:
            yield self.stmt(
                "run_insert_part_items",
                {"stage_run_id": part.stage_id, "first": part.first, "first_id": ids[0],
                 "items": items},
                now,
            )
            return
        yield from self.write_back(
            run_plans.item_rows(part.new_items(), ids), [], [], [], now
        )

    def finish(
        self, job_ids_json: str, now: float | None
    ) -> Plan[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """The item update first (the write lock is every run's lock, so there is no run row
        to lock before it), then the stage rows of the runs it touched, each with its run's
        state: two statements, and none more when no item ended."""
        ended = yield self.stmt("run_finish_items", {"ids": job_ids_json}, now)
        if not ended.rows:
            return [], [], []
        counted = yield from _count_down(self, ended.rows, now)
        if counted:  # applied: nothing left to advance
            return [], [], []
        stage_ids = json.dumps(sorted({int(r[0]) for r in ended.rows}))
        found = yield self.stmt("run_load_ended", {"stage_ids": stage_ids}, now)
        locked: dict[int, Any] = {}
        for row in found.rows:
            locked.setdefault(int(row[1]), row[-1])
        return list(locked.items()), ended.rows, [row[:-1] for row in found.rows]

    def write_back(
        self,
        items: list[dict[str, Any]],
        stages: list[dict[str, Any]],
        runs: list[dict[str, Any]],
        progressed: list[int],
        now: float | None,
    ) -> Plan[None]:
        """The items, the stage rows, then the run rows, one statement each. Items and stage
        rows travel as arrays of their values, in the statements' order: SQLite parses a JSON
        object anew for each field taken from it by name, and these are a hand-off's rows."""
        if items:
            packed = [[i["stage_run_id"], i["item"], i["job_id"], i["input"]] for i in items]
            yield self.stmt("run_insert_items", {"batch": json.dumps(packed)}, now)
        if stages:
            packed = [_stage_fields(s) for s in stages]
            yield self.stmt("run_update_stages", {"batch": json.dumps(packed)}, now)
        if runs:
            yield self.stmt("run_update", {"runs": json.dumps(runs)}, now)
        if progressed:
            yield self.stmt("run_progressed", {"ids": json.dumps(progressed)}, now)

    def complete(self, completion: Completion, now: float | None) -> Plan[bool]:
        """Apply one completion as complete_jobs does (:func:`.job_plans.complete_jobs`),
        advancing no run."""
        [result] = yield from job_plans.complete_jobs(_clock(now), [completion])
        return result.accepted

    def cancel_jobs(self, ids: Sequence[int], now: float | None) -> Plan[list[int]]:
        """cancel_jobs's plan for these ids (under the write lock nothing else holds them)."""
        if not ids:
            return []
        return (yield from plans.cancel_jobs(_clock(now), JobFilter(ids=tuple(ids))))


def _count_down(
    d: SQLiteRunDialect, ended: list[tuple[Any, ...]], now: float | None
) -> Plan[bool]:
    """The advance of a batch of items that all succeeded, of one fan-out stage they leave
    unfinished (a fan-out's usual batch), as one statement: its count goes down. False, having
    changed nothing, for any other batch. Every write holds SQLite's one write lock, so the
    count is every writer's; the lock is this store's bottleneck in a fan-out, and the full
    advance's read of the run's stages and write of the row back held it for most of an
    item's advance."""
    stage_id = ended[0][0]
    # An item above 0 is a fan-out's (a plain stage has item 0, an expander -1).
    if any(r[0] != stage_id or r[1] < 1 or r[2] != ITEM_SUCCEEDED for r in ended):
        return False
    found = yield d.stmt("run_count_down", {"stage_run_id": stage_id, "n": len(ended)}, now)
    return bool(found.rows)


_template_options = operator.attrgetter(
    "queue", "name", "priority", "max_attempts", "timeout", "tenant", "meta_json", "limit_key",
    "limit_max", "rate_key", "rate_max", "rate_per",
)
"""A stage job template's options, in the order ``run_insert_jobs`` reads them from its
array and under the names (below) the one-template statements bind them as."""
_TEMPLATE_PARAMS = (
    "queue", "name", "priority", "max_attempts", "timeout", "tenant", "meta", "limit_key",
    "limit_max", "rate_key", "rate_max", "rate_per",
)


def _template_params(template: JobTemplate) -> dict[str, Any]:
    """A template's options as the one-template statements' parameters, with the state a
    job due now is inserted in."""
    params = dict(zip(_TEMPLATE_PARAMS, _template_options(template), strict=True))
    params["due_state"] = rows.INSERTED_STATES["due_state"]
    return params


_stage_fields = operator.itemgetter(
    "id", "state", "pending", "total", "left", "failed", "template", "error", "override",
    "started", "finished", "cleared",
)
"""The fields of a stage row's update (:meth:`~conveyor.store.run_graph.StageRow.as_update`)
in ``run_update_stages``' array order."""


DIALECT = SQLiteRunDialect()


def record_usage(now: float, rows: Sequence[UsageRow]) -> Plan[None]:
    """The usage rows in one ``executemany`` of positional parameters (usage_insert.sql).

    SQLite's own plan rather than :func:`conveyor.store.usage_plans.record_usage`'s dicts:
    the worker writes one row per attempt, and tuples are cheaper to build and to bind.
    """
    many = [
        (r.job_id, r.attempt, r.name, r.queue, r.tenant, r.finished_at, r.wall, r.cpu,
         r.memory_mb,
         # Most attempts report no units: "{}" without the encoder.
         json.dumps(dict(r.units), separators=(",", ":")) if r.units else "{}")
        for r in rows
    ]
    yield Statement(query("usage_insert"), many=many)


# -- the job verbs that advance runs -------------------------------------------------------------


def completing(now: float, completions: Sequence[Completion]) -> Plan[list[CompletionResult]]:
    """complete_jobs's plan itself when no completion is a stage job's (plain jobs pay not one
    statement more), else it followed by the advance of the runs of the accepted final ones,
    in the same write transaction."""
    if not any(c.in_run for c in completions):
        return job_plans.complete_jobs(now, completions)
    return _complete_and_advance(now, completions)


def _complete_and_advance(
    now: float, completions: Sequence[Completion]
) -> Plan[list[CompletionResult]]:
    results = yield from job_plans.complete_jobs(now, completions)
    ended = [
        c.job_id
        for c, r in zip(completions, results, strict=True)
        if r.accepted and c.in_run and c.state.is_final
    ]
    yield from run_plans.advance(DIALECT, ended, now)
    return results


def completing_and_claiming(
    now: float, completions: Sequence[Completion], params: ClaimParams, hint: PassHint
) -> Plan[tuple[list[CompletionResult], list[ClaimedJob]]]:
    """complete_and_claim's plan, its completion step being :func:`completing`: runs advance
    before the claim, in the same transaction, so a stage made ready can be claimed at once."""
    return job_plans.complete_and_claim(now, completions, params, hint, complete=completing)


def cancelling(now: float, flt: JobFilter) -> Plan[list[int]]:
    """cancel_jobs, then the advance of the runs of the stage jobs it cancelled."""
    cancelled = yield from plans.cancel_jobs(now, flt)
    yield from run_plans.advance(DIALECT, cancelled, now)
    return cancelled


def rescuing(now: float, limit: int) -> Plan[list[int]]:
    """rescue_expired, then the advance of the runs of the stage jobs it sent to ``dead``."""
    rescued = yield from plans.rescue_expired(now, limit)
    yield from run_plans.advance(DIALECT, rescued, now)
    return rescued


def expiring(now: float, limit: int) -> Plan[list[int]]:
    """cancel_expired, then the advance of the runs of the stage jobs it cancelled."""
    expired = yield from plans.cancel_expired(now, limit)
    yield from run_plans.advance(DIALECT, expired, now)
    return expired


def prune_runs(now: float, retention: Retention, limit: int) -> Plan[int]:
    """The runs' part of ``prune`` (a write transaction of its own): finished runs past
    ``retention.runs`` with their stages, items and outputs, and their jobs' old steps."""
    return run_reads.prune_runs(DIALECT, retention.runs, limit, now)


class SQLiteRunVerbs:
    """:class:`~conveyor.store.contract.runs.RunVerbs` for :class:`SQLiteStore`."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: Database
        path: Path

        def now(self) -> float: ...
        def _write(
            self, plan: Callable[..., Plan[T]], *args: Any, now: float | None = ...
        ) -> T: ...
        def _read(
            self, plan: Callable[..., Plan[T]], *args: Any, now: float | None = ...
        ) -> T: ...

    def start_run(
        self, run: NewRun, *, connection: object | None = None, now: float | None = None
    ) -> int:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.start_run`."""
        if connection is None:
            return self._write(lambda at: run_plans.start_run(DIALECT, run, at), now=now)
        conn = self._caller_connection(connection)
        plan = run_plans.start_run(DIALECT, run, self.now() if now is None else now)
        try:
            if conn.isolation_level is None and not conn.in_transaction:
                # Autocommit: no caller's transaction to join, so the run gets its own.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    run_id = drive(conn, plan)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return run_id
            return drive(conn, plan)
        except sqlite3.Error as exc:
            raise StoreError(f"the SQLite database refused to start the run ({exc})") from exc

    def _caller_connection(self, connection: object) -> sqlite3.Connection:
        if not isinstance(connection, sqlite3.Connection):
            raise ConfigurationError(
                f"start(connection=...) on the SQLite store takes a sqlite3.Connection to "
                f"{str(self.path)!r}, got {type(connection).__name__}"
            )
        row = connection.execute("PRAGMA database_list").fetchone()
        if row is None or Path(row[2]).resolve() != self.path.resolve():
            raise ConfigurationError(
                f"start(connection=...): that connection is to {row[2] if row else '?'!r}, "
                f"not to Conveyor's database {str(self.path)!r}"
            )
        return connection

    def expand_stage(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage`: a write
        transaction per part."""
        return run_plans.expand_all(
            lambda: self.expand_stage_part(job_id, token, items_json, now=now), len(items_json)
        )

    def expand_stage_part(
        self, job_id: int, token: int, items_json: Sequence[str], *, now: float | None = None
    ) -> int | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.expand_stage_part`."""
        return self._write(
            lambda at: run_plans.expand_stage(DIALECT, job_id, token, items_json, at), now=now
        )

    def stage_input(self, stage_run_id: int, item: int) -> StageInput | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_input`."""
        return self._read(lambda at: run_reads.stage_input(DIALECT, stage_run_id, item, at))

    def get_run(self, run_id: int, *, outputs: int | None = None) -> RunDetail | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.get_run`."""
        return self._read(lambda at: run_reads.get_run(DIALECT, run_id, at, outputs))

    def stage_output_page(
        self, run_id: int, stage: str, offset: int, limit: int
    ) -> StageOutputPage | None:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.stage_output_page`."""
        return self._read(
            lambda at: run_reads.stage_output_page(DIALECT, run_id, stage, offset, limit, at)
        )

    def list_runs(self, flt: RunFilter) -> list[RunSummary]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.list_runs`."""
        return self._read(lambda at: run_reads.list_runs(DIALECT, flt, at))

    def cancel_run(self, run_id: int, *, by: str | None = None, now: float | None = None) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.cancel_run`."""
        return self._write(lambda at: run_plans.cancel_run(DIALECT, run_id, by, at), now=now)

    def reset_run(self, reset: RunReset, *, now: float | None = None) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.reset_run`."""
        return self._write(lambda at: run_plans.reset_run(DIALECT, reset, at), now=now)

    def save_step(self, job_id: int, token: int, name: str, value_json: str) -> bool:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.save_step`."""
        return self._write(
            lambda at: run_reads.save_step(DIALECT, job_id, token, name, value_json, at)
        )

    def load_steps(self, job_id: int) -> dict[str, str]:
        """See :meth:`~conveyor.store.contract.runs.RunVerbs.load_steps`."""
        return self._read(lambda at: run_reads.load_steps(DIALECT, job_id, at))

    # -- a job's output (ctx.emit): same shape as the steps, so the same dialect ----------------

    def append_output(
        self, job_id: int, token: int, attempt: int, chunk_json: str, max_bytes: int,
        *, now: float | None = None,
    ) -> int | None:
        """See :meth:`~conveyor.store.contract.output.OutputVerbs.append_output`."""
        return self._write(
            lambda at: output_plans.append_output(
                DIALECT, job_id, token, attempt, chunk_json, max_bytes, at
            ),
            now=now,
        )

    def read_output(self, job_id: int, after: int = 0, limit: int = 500) -> list[OutputChunk]:
        """See :meth:`~conveyor.store.contract.output.OutputVerbs.read_output`."""
        return self._read(lambda at: output_plans.read_output(DIALECT, job_id, after, limit, at))

    # -- usage (conveyor.store.contract.usage): a table of its own, same dialect ---------------

    def record_usage(self, rows: Sequence[UsageRow]) -> None:
        """See :meth:`~conveyor.store.contract.usage.UsageVerbs.record_usage`."""
        if rows:
            self._write(record_usage, rows)

    def usage_totals(
        self, by: UsageBy | None = None, *, since: float | None = None,
        until: float | None = None,
    ) -> list[UsageTotal]:
        """See :meth:`~conveyor.store.contract.usage.UsageVerbs.usage_totals`."""
        usage_plans.check_by(by)
        return self._read(lambda at: usage_plans.usage_totals(DIALECT, by, since, until, at))
