"""Every store verb as a plan: a generator that yields statements and receives their results.

Writing each verb once as a plan, and running it with a sync or an async driver, gives the
synchronous and asynchronous stores the same SQL and the same row mapping without writing any
verb twice (the "sans-I/O" style). A plan runs inside one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from conveyor.errors import ConfigurationError
from conveyor.lifecycle import Action, lost_attempt, sources, target, transition
from conveyor.models import Attempt, Job, JobState, QueueControl, QueueStats, WorkerInfo
from conveyor.store import limits, rows
from conveyor.store.filters import POSTGRES, where
from conveyor.store.paused import with_paused
from conveyor.store.plan import Plan, Result, Statement
from conveyor.store.postgres.columns import JOB_COLUMNS, LIST_COLUMNS
from conveyor.store.postgres.sql import notify_channel, query
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    Completion,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    JobFilter,
    LimitStatus,
    NewJob,
    Retention,
)
from conveyor.store.unique import UniqueBatch, has_unique, holders_from_rows, unique_keys

T = TypeVar("T")
__all__ = ["Plan", "Plans", "Result", "Statement", "is_single", "register_single"]


SINGLE = frozenset(
    {
        "insert_plain_jobs", "claim_plain_jobs", "limited_waiting", "complete_jobs",
        "heartbeat", "set_progress", "register_worker", "deregister_worker", "live_workers",
        "now", "list_jobs", "count_jobs", "list_attempts", "next_due_in", "retry_jobs",
        "cancel_jobs", "pause_queue", "resume_queue", "paused_queues", "queue_control",
        "queue_depth", "count_ahead", "once_seen", "record_once", "held_unique_keys",
    }
)
"""Verbs whose plan is one statement: run in autocommit, one round trip, no BEGIN/COMMIT.

``insert_jobs`` only picks a plan (``insert_plain_jobs`` or the transactional
``insert_unique_jobs``); claims are picked by the drivers (see ``claim_jobs`` there).
"""


_single_plans: set[str] = set(SINGLE)


def register_single(names: frozenset[str]) -> None:
    """Add one-statement plans defined in another module (the scheduler's and monitor's)."""
    _single_plans.update(names)


def is_single(plan: Plan[Any]) -> bool:
    """True for a plan of a verb in :data:`SINGLE` or registered with :func:`register_single`."""
    return getattr(plan, "__name__", "") in _single_plans


def completion_row(c: Completion) -> dict[str, Any]:
    """One completion as a row of complete_jobs.sql's batch: the decided state is data."""
    return {
        "id": c.job_id,
        "token": c.token,
        "kind": str(c.kind),
        "state": str(c.state),
        "final": c.state.is_final,
        "attempt_delta": c.attempt_delta,
        "result": c.result_json,
        "delay": c.retry_delay,
        "error_type": c.error.type if c.error else None,
        "error_message": c.error.message if c.error else None,
        "traceback": c.error.traceback if c.error else None,
        "outcome": str(c.outcome),
    }


def _float(value: float | None) -> float | None:
    # psycopg refuses lists mixing int and float; the columns are double precision anyway.
    return None if value is None else float(value)


class Plans:
    """The verbs, bound to a schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.channel = notify_channel(schema)

    def q(self, name: str) -> str:
        """A query of this dialect, qualified with the schema."""
        return query(name, self.schema)

    # -- producing ----------------------------------------------------------------------------

    def insert_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True
    ) -> Plan[list[InsertedJob]]:
        """The plan for a batch: one autocommit statement, unless some job has a unique key."""
        if has_unique(jobs):
            return self.insert_unique_jobs(jobs, notify=notify)
        return self.insert_plain_jobs(jobs, notify=notify)

    def insert_unique_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True
    ) -> Plan[list[InsertedJob]]:
        """Lock the batch's keys, read their holders, insert the rest (one transaction).

        The advisory locks keep every other producer of these keys waiting until this
        transaction ends. The holders are read by a *later* statement, which under READ
        COMMITTED takes a fresh snapshot after the locks were granted: it sees every holder
        committed before, and none can commit until this transaction does.
        """
        keys = unique_keys(jobs)
        locked = yield Statement(self.q("lock_unique_keys"), {"keys": keys})
        if locked.rows and locked.rows[0][0] == "repeatable read":
            raise ConfigurationError(
                "enqueueing unique jobs inside a REPEATABLE READ transaction cannot see holders "
                "committed after it started; enqueue them in a READ COMMITTED (the default) or "
                "SERIALIZABLE transaction"
            )
        found = yield Statement(self.q("unique_holders"), {"keys": keys})
        batch = UniqueBatch.split(jobs, holders_from_rows(found.rows))
        inserted: list[InsertedJob] = []
        if batch.to_insert:
            inserted = yield from self.insert_plain_jobs(batch.to_insert, notify=notify)
        return batch.answer(inserted)

    def insert_plain_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True
    ) -> Plan[list[InsertedJob]]:
        """One statement inserts every job and sends one NOTIFY per distinct queue."""
        if len(jobs) == 1:
            # The common web-request case: a plain one-row statement is cheaper than unnest.
            [job] = jobs
            single = yield Statement(
                self.q("insert_job"),
                {
                    "channel": self.channel,
                    "notify": notify,
                    "queue": job.queue,
                    "name": job.name,
                    "args": job.args_json,
                    "priority": job.priority,
                    "max_attempts": job.max_attempts,
                    "run_at": _float(job.run_at),
                    "delay": float(job.delay),
                    "timeout": _float(job.timeout),
                    "unique_key": job.unique_key,
                    "unique_for": _float(job.unique_for),
                    "tenant": job.tenant,
                    "meta": job.meta_json,
                    "limit_key": job.limit_key,
                    "limit_max": job.limit_max,
                    "rate_key": job.rate_key,
                    "rate_max": job.rate_max,
                    "rate_per": _float(job.rate_per),
                },
            )
            return [
                InsertedJob(id=r[0], state=JobState(r[1]), created_at=r[2]) for r in single.rows
            ]
        result = yield Statement(
            self.q("insert_jobs"),
            {
                "channel": self.channel,
                "notify": notify,
                "queues": [j.queue for j in jobs],
                "names": [j.name for j in jobs],
                "args": [j.args_json for j in jobs],
                "priorities": [j.priority for j in jobs],
                "max_attempts": [j.max_attempts for j in jobs],
                "run_ats": [_float(j.run_at) for j in jobs],
                "delays": [float(j.delay) for j in jobs],
                "timeouts": [_float(j.timeout) for j in jobs],
                "unique_keys": [j.unique_key for j in jobs],
                "unique_fors": [_float(j.unique_for) for j in jobs],
                "tenants": [j.tenant for j in jobs],
                "metas": [j.meta_json for j in jobs],
                "limit_keys": [j.limit_key for j in jobs],
                "limit_maxes": [j.limit_max for j in jobs],
                "rate_keys": [j.rate_key for j in jobs],
                "rate_maxes": [j.rate_max for j in jobs],
                "rate_pers": [_float(j.rate_per) for j in jobs],
            },
        )
        # Ids come from an identity in insertion order, which follows the input order.
        inserted = sorted(result.rows, key=lambda r: r[0])
        return [InsertedJob(id=r[0], state=JobState(r[1]), created_at=r[2]) for r in inserted]

    # -- working ------------------------------------------------------------------------------

    def limited_waiting(self, params: ClaimParams) -> Plan[bool]:
        """Whether a limited pass for ``params`` would find a candidate (one statement).

        Read without locks, so a later pass may still find nothing; it only spares a worker
        with limited types but no limited job waiting the pass's transaction.
        """
        if params.limit <= 0 or not params.queues or not params.names:
            return False
        found = yield Statement(
            self.q("limited_waiting"),
            {"queues": list(params.queues), "names": list(params.names)},
        )
        return bool(found.rows[0][0])

    def claim_limited_jobs(self, params: ClaimParams) -> Plan[list[ClaimedJob]]:
        """Claim limited jobs within their keys' budgets (see :mod:`conveyor.store.limits`).

        Three statements at most. The first reads candidates without row locks and takes the
        keys' advisory locks; the second (a fresh READ COMMITTED snapshot) counts what each
        key has spent and which candidates are still ready, so every committed claim of those
        keys is seen and none can commit until this one does; the third claims the chosen
        jobs and records their rate starts. Must run in a transaction (the locks are
        transaction-scoped). Every job of ``params.names`` whose row carries a limit is a
        candidate: the row, not the worker's code, says whether a job is limited.
        """
        if params.limit <= 0 or not params.queues or not params.names:
            return []
        found = yield Statement(
            self.q("limited_candidates"),
            {
                "queues": list(params.queues),
                "names": list(params.names),
                "window": limits.window(params.limit),
                "namespace": limits.LOCK_NAMESPACE,
            },
        )
        if not found.rows:
            return []
        read = [limits.Candidate.from_row(r) for r in found.rows]
        spent = yield Statement(
            self.q("limited_spent"),
            {
                "limit_keys": limits.limit_keys(read),
                "rate_keys": limits.rate_keys(read),
                "ids": [c.id for c in read],
            },
        )
        now = 0.0
        ready: set[int] = set()
        counted = []
        for row in spent.rows:
            if row[0] == "now":
                now = float(row[4])
            elif row[0] == "ready":
                ready.add(int(row[2]))
            else:
                counted.append(row[:4])
        running, starts = limits.spent_from_rows(counted)
        # Candidates a concurrent pass claimed while this one waited for the locks would
        # only take slots of this decision that their UPDATE then skips.
        candidates = [c for c in read if c.id in ready]
        decision = limits.choose(candidates, running, starts, now, params.limit)
        if not decision.chosen:
            return []
        recorded = [(job_id, start) for job_id, start in decision.starts.items()]
        result = yield Statement(
            self.q("limited_claim"),
            {
                "ids": decision.chosen,
                "now": now,
                "worker_id": params.worker_id,
                "lease_seconds": float(params.lease_seconds),
                "start_ids": [job_id for job_id, _ in recorded],
                "keys": [s.key for _, s in recorded],
                "expires": [s.expires_at for _, s in recorded],
                "maxes": [s.rate_max for _, s in recorded],
            },
        )
        found_rows = sorted(result.rows, key=lambda r: (-r[7], r[13], r[0]))
        return [rows.claimed_from_row(r) for r in found_rows]

    def claim_plain_jobs(self, params: ClaimParams) -> Plan[list[ClaimedJob]]:
        """Fair between tenants, ``FOR UPDATE SKIP LOCKED`` in a CTE, one UPDATE ... RETURNING."""
        if params.limit <= 0 or not params.queues or not params.names:
            return []
        result = yield Statement(
            self.q("claim_jobs"),
            {
                "queues": list(params.queues),
                "names": list(params.names),
                "limit": params.limit,
                "worker_id": params.worker_id,
                "lease_seconds": params.lease_seconds,
            },
        )
        # RETURNING order is unspecified; the last column is the job's place in claim order.
        found = sorted(result.rows, key=lambda r: r[-1])
        return [rows.claimed_from_row(r) for r in found]

    def complete_jobs(self, completions: Sequence[Completion]) -> Plan[list[CompletionResult]]:
        """One guarded statement updates every job and appends every attempt row."""
        unique: dict[int, Completion] = {}
        for c in completions:
            unique.setdefault(c.job_id, c)  # a second completion of one attempt is refused
        accepted = yield from self._finish(list(unique.values()))
        return [
            CompletionResult(c.job_id, accepted=c.job_id in accepted and unique[c.job_id] is c)
            for c in completions
        ]

    def _finish(self, completions: list[Completion]) -> Plan[set[int]]:
        if not completions:
            return set()
        # One JSON document is far cheaper to send than a dozen typed arrays.
        batch = [completion_row(c) for c in completions]
        result = yield Statement(
            self.q("complete_jobs"), {"batch": json.dumps(batch), "channel": self.channel}
        )
        return {r[0] for r in result.rows}

    def heartbeat(self, params: HeartbeatParams) -> Plan[frozenset[int]]:
        """Renew held leases (matched on id and token) and mark the worker seen."""
        result = yield Statement(
            self.q("heartbeat"),
            {
                "ids": [h[0] for h in params.held],
                "tokens": [h[1] for h in params.held],
                "lease_seconds": float(params.lease_seconds),
                "worker_id": params.worker_id,
            },
        )
        return frozenset(r[0] for r in result.rows)

    def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None
    ) -> Plan[bool]:
        """Progress for the attempt holding ``token``."""
        result = yield Statement(
            self.q("set_progress"),
            {"id": job_id, "token": token, "fraction": fraction, "message": message},
        )
        return result.rowcount == 1

    def rescue_expired(self, limit: int) -> Plan[list[int]]:
        """Lapsed leases count as failed attempts: retry in the job's old place, or dead when
        exhausted (see :func:`conveyor.lifecycle.lost_attempt`)."""
        expired = yield Statement(self.q("select_expired"), {"limit": limit})
        if not expired.rows:
            return []
        batch = []
        for job_id, token, attempt, max_attempts, worker_id in expired.rows:
            completion = lost_attempt(job_id, token, attempt, max_attempts, worker_id)
            batch.append(
                {
                    "id": job_id,
                    "token": token,
                    "state": str(completion.state),
                    "final": completion.state.is_final,
                    "error_type": completion.error.type if completion.error else None,
                    "error_message": completion.error.message if completion.error else None,
                    "outcome": str(completion.outcome),
                }
            )
        result = yield Statement(
            self.q("rescue_jobs"), {"batch": json.dumps(batch), "channel": self.channel}
        )
        return sorted(r[0] for r in result.rows)

    def expire_worker(self, worker_id: str) -> Plan[int]:
        """Lapse a dead worker's leases and forget the worker."""
        result = yield Statement(self.q("expire_worker"), {"worker_id": worker_id})
        yield Statement(self.q("delete_worker"), {"worker_id": worker_id})
        return result.rowcount

    def register_worker(self, info: WorkerInfo) -> Plan[None]:
        """Insert or refresh a worker row."""
        yield Statement(
            self.q("upsert_worker"),
            {
                "id": info.id,
                "hostname": info.hostname,
                "pid": info.pid,
                "queues": json.dumps(list(info.queues)),
                "names": json.dumps(list(info.names)),
            },
        )

    def deregister_worker(self, worker_id: str) -> Plan[None]:
        """Remove a worker row."""
        yield Statement(self.q("delete_worker"), {"worker_id": worker_id})

    def live_workers(self, stale_after: float) -> Plan[list[WorkerInfo]]:
        """Workers seen within ``stale_after`` seconds."""
        result = yield Statement(self.q("live_workers"), {"stale_after": stale_after})
        return [rows.worker_from_row(r) for r in result.rows]

    # -- inspecting ---------------------------------------------------------------------------

    def now(self) -> Plan[float]:
        """The server's clock."""
        result = yield Statement(self.q("now"))
        return float(result.rows[0][0])

    def list_jobs(self, flt: JobFilter) -> Plan[list[Job]]:
        """Jobs matching ``flt``, newest first."""
        clause, params = where(POSTGRES, flt)
        table = f'"{self.schema}".conveyor_jobs'
        columns = JOB_COLUMNS if flt.payloads else LIST_COLUMNS
        sql = f"SELECT {columns} FROM {table} WHERE {clause} ORDER BY id DESC"
        if flt.limit is not None:
            sql += " LIMIT %(f_limit)s"
            params["f_limit"] = flt.limit
        result = yield Statement(sql, params)
        return [rows.job_from_row(r) for r in result.rows]

    def count_jobs(self, flt: JobFilter) -> Plan[int]:
        """How many jobs match ``flt``."""
        clause, params = where(POSTGRES, flt, paginate=False)
        result = yield Statement(
            f'SELECT COUNT(*) FROM "{self.schema}".conveyor_jobs WHERE {clause}', params
        )
        return int(result.rows[0][0])

    def list_attempts(self, job_id: int) -> Plan[list[Attempt]]:
        """A job's attempts, oldest first."""
        result = yield Statement(self.q("list_attempts"), {"job_id": job_id})
        return [rows.attempt_from_row(r) for r in result.rows]

    def queue_stats(self) -> Plan[list[QueueStats]]:
        """Per-queue counts, ages and last-hour outcomes."""
        counts = yield Statement(self.q("queue_counts"))
        failures = yield Statement(self.q("queue_failures"))
        names = yield Statement(self.q("waiting_names"))
        paused = yield Statement(self.q("paused_queues"))
        stopped = {r[0] for r in paused.rows}
        failed = {r[0]: r[1] for r in failures.rows}
        waiting: dict[str, list[str]] = {}
        for queue, name in names.rows:
            waiting.setdefault(queue, []).append(name)
        stats = [
            QueueStats(
                queue=r[0],
                queued=r[1],
                scheduled=r[2],
                running=r[3],
                retrying=r[4],
                dead=r[5],
                oldest_queued_age=None if r[6] is None else max(0.0, r[6]),
                succeeded_last_hour=r[7],
                failed_last_hour=failed.get(r[0], 0),
                waiting_names=tuple(waiting.get(r[0], ())),
                paused=r[0] in stopped,
            )
            for r in counts.rows
        ]
        return with_paused(stats, stopped)

    def next_due_in(self, queues: Sequence[str], names: Sequence[str]) -> Plan[float | None]:
        """Seconds until the earliest pending job is due, or None."""
        result = yield Statement(
            self.q("next_due"),
            {
                "queues": list(queues),
                "names": list(names),
                "limited_recheck": limits.RECHECK_SECONDS,
            },
        )
        value = result.rows[0][0]
        return None if value is None else max(0.0, float(value))

    # -- queue controls -----------------------------------------------------------------------

    def pause_queue(self, name: str, by: str | None) -> Plan[bool]:
        """See :meth:`Store.pause_queue`."""
        result = yield Statement(self.q("pause_queue"), {"name": name, "by": by})
        return bool(result.rows)

    def resume_queue(self, name: str, by: str | None) -> Plan[bool]:
        """See :meth:`Store.resume_queue` (also wakes listening workers)."""
        result = yield Statement(
            self.q("resume_queue"), {"name": name, "by": by, "channel": self.channel}
        )
        return bool(result.rows)

    def paused_queues(self) -> Plan[frozenset[str]]:
        """See :meth:`Store.paused_queues`."""
        result = yield Statement(self.q("paused_queues"))
        return frozenset(r[0] for r in result.rows)

    def queue_control(self, name: str) -> Plan[QueueControl | None]:
        """See :meth:`Store.queue_control`."""
        result = yield Statement(self.q("queue_control"), {"name": name})
        if not result.rows:
            return None
        row = result.rows[0]
        return QueueControl(name=row[0], paused=row[1], changed_at=row[2], changed_by=row[3])

    def queue_depth(self, queue: str, cap: int) -> Plan[int]:
        """See :meth:`Store.queue_depth`."""
        result = yield Statement(self.q("queue_depth"), {"queue": queue, "cap": cap})
        return int(result.rows[0][0])

    def held_unique_keys(self, keys: Sequence[str]) -> Plan[frozenset[str]]:
        """See :meth:`Store.held_unique_keys`."""
        if not keys:
            return frozenset()
        found = yield Statement(self.q("unique_holders"), {"keys": sorted(keys)})
        return frozenset(row[0] for row in found.rows)

    def count_ahead(self, job_id: int, cap: int) -> Plan[int]:
        """See :meth:`Store.count_ahead`."""
        result = yield Statement(self.q("count_ahead"), {"id": job_id, "cap": cap})
        return int(result.rows[0][0])

    def limit_status(self, job_id: int) -> Plan[LimitStatus | None]:
        """See :meth:`Store.limit_status`."""
        job = yield Statement(self.q("limit_status_job"), {"id": job_id})
        if not job.rows:
            return None
        limit_key, rate_key = job.rows[0][0], job.rows[0][2]
        running: list[tuple[Any, ...]] = []
        starts: list[tuple[Any, ...]] = []
        if limit_key is not None:
            found = yield Statement(self.q("limit_status_running"), {"key": limit_key})
            running = found.rows
        if rate_key is not None:
            found = yield Statement(self.q("limit_status_starts"), {"key": rate_key})
            starts = found.rows
        return limits.status_from_rows(job.rows[0], running, starts)

    # -- acting -------------------------------------------------------------------------------

    def retry_jobs(self, flt: JobFilter) -> Plan[list[int]]:
        """Finished jobs get fresh attempts; waiting ones are made due now."""
        clause, params = where(POSTGRES, flt)
        from_states = sources(Action.RETRY_NOW)
        params |= {
            "channel": self.channel,
            "lc_from": [str(s) for s in from_states],
            "lc_to": str(target(Action.RETRY_NOW)),
            "lc_fresh": [
                str(s) for s in from_states if transition(s, Action.RETRY_NOW).fresh_attempts
            ],
        }
        fresh = "state = ANY(%(lc_fresh)s::text[])"
        result = yield Statement(
            f'WITH retried AS (UPDATE "{self.schema}".conveyor_jobs SET '
            "state = %(lc_to)s, run_at = now(), "
            f"attempt = CASE WHEN {fresh} THEN 0 ELSE attempt END, "
            "finished_at = NULL, "
            f"result = CASE WHEN {fresh} THEN NULL ELSE result END, "
            "lease_until = NULL, "
            f"worker_id = CASE WHEN {fresh} THEN NULL ELSE worker_id END "
            f"WHERE {clause} AND state = ANY(%(lc_from)s::text[]) RETURNING id, queue), "
            "woken AS (SELECT pg_notify(%(channel)s, q.queue) "
            "FROM (SELECT DISTINCT queue FROM retried) AS q) "
            "SELECT retried.id FROM retried, (SELECT COUNT(*) FROM woken) AS notified",
            params,
        )
        return sorted(r[0] for r in result.rows)

    def cancel_jobs(self, flt: JobFilter) -> Plan[list[int]]:
        """Cancel unfinished jobs; a running attempt's history row says it was cancelled."""
        clause, params = where(POSTGRES, flt)
        from_states = sources(Action.CANCEL)
        recorded = {st: transition(st, Action.CANCEL).outcome for st in from_states}
        # Only an attempt in flight is recorded (as cancelled while running).
        [outcome] = {o for o in recorded.values() if o is not None}
        params |= {
            "lc_from": [str(st) for st in from_states],
            "lc_to": str(target(Action.CANCEL)),
            "lc_recorded": [str(st) for st, o in recorded.items() if o is not None],
            "lc_outcome": str(outcome),
        }
        s = self.schema
        result = yield Statement(
            f"WITH old AS (SELECT id, state, token, attempt, worker_id, started_at "
            f'FROM "{s}".conveyor_jobs WHERE {clause} '
            "AND state = ANY(%(lc_from)s::text[]) FOR UPDATE), "
            f'done AS (UPDATE "{s}".conveyor_jobs AS j SET state = %(lc_to)s, '
            "finished_at = now(), lease_until = NULL FROM old WHERE j.id = old.id "
            "RETURNING old.*), "
            f'history AS (INSERT INTO "{s}".conveyor_attempts (job_id, attempt, token, '
            "worker_id, started_at, finished_at, outcome, error_message) "
            "SELECT id, attempt, token, worker_id, started_at, now(), %(lc_outcome)s, "
            "'cancelled while running' FROM done "
            "WHERE state = ANY(%(lc_recorded)s::text[])) "
            "SELECT id FROM done",
            params,
        )
        return sorted(r[0] for r in result.rows)

    def discard_jobs(self, flt: JobFilter) -> Plan[int]:
        """Delete matching finished jobs and their attempts."""
        clause, params = where(POSTGRES, flt)
        found = yield Statement(
            f'SELECT id FROM "{self.schema}".conveyor_jobs WHERE {clause} '
            "AND state IN ('succeeded', 'dead', 'cancelled')",
            params,
        )
        ids = [r[0] for r in found.rows]
        if ids:
            yield Statement(self.q("delete_jobs"), {"ids": ids})
        return len(ids)

    def prune(self, retention: Retention, limit: int) -> Plan[int]:
        """Delete finished jobs past their retention."""
        total = 0
        for state, keep in (
            (JobState.SUCCEEDED, retention.succeeded),
            (JobState.DEAD, retention.dead),
            (JobState.CANCELLED, retention.cancelled),
        ):
            found = yield Statement(
                self.q("select_prunable"),
                {"state": str(state), "keep": float(keep), "limit": limit},
            )
            ids = [r[0] for r in found.rows]
            if ids:
                yield Statement(self.q("delete_jobs"), {"ids": ids})
            total += len(ids)
        once = yield Statement(
            self.q("prune_once"), {"keep": float(retention.once), "limit": limit}
        )
        starts = yield Statement(self.q("prune_rate_starts"), {"limit": limit})
        return total + once.rowcount + starts.rowcount

    # -- ctx.once() records -------------------------------------------------------------------

    def once_seen(self, key: str) -> Plan[bool]:
        """Whether a ``ctx.once()`` record of ``key`` is visible."""
        result = yield Statement(self.q("once_seen"), {"key": key})
        return bool(result.rows)

    def record_once(self, key: str, job_id: int) -> Plan[bool]:
        """Record ``key``; False when it already exists (the insert does nothing)."""
        result = yield Statement(self.q("record_once"), {"key": key, "job_id": job_id})
        return result.rowcount == 1
