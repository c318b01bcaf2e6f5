"""The inspecting and administering verbs as plans: reads, queue controls, bulk actions,
pruning and ``ctx.once()`` records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor._lifecycle import Action, sources, target, transition
from conveyor.models import COUNT_CAP, Attempt, Job, JobState, QueueControl, QueueStats
from conveyor.store import limits, rows
from conveyor.store.filters import POSTGRES, where
from conveyor.store.postgres.columns import JOB_COLUMNS, LIST_COLUMNS
from conveyor.store.postgres.plans_base import Plan, PlansBase, Statement
from conveyor.store.postgres.sequence_plans import SequencePlans
from conveyor.store.protocol import JobFilter, LimitStatus, Retention
from conveyor.store.queue_rows import stats_from_rows
from conveyor.store.run_graph import refuse_stage_jobs


class AdminPlans(PlansBase):
    """Reads for the CLI and dashboard, queue controls, bulk actions and pruning."""

    # -- inspecting ---------------------------------------------------------------------------

    def now(self) -> Plan[float]:
        """The server's clock."""
        result = yield Statement(self.q("now"))
        return float(result.rows[0][0])

    def jit_setting(self) -> Plan[str]:
        """The session's ``jit`` setting (checked once behind a transaction pooler)."""
        result = yield Statement("SELECT current_setting('jit')")
        return str(result.rows[0][0])

    def list_jobs(self, flt: JobFilter, now: float | None = None) -> Plan[list[Job]]:
        """Jobs matching ``flt``, newest first."""
        clause, params = where(POSTGRES, flt)
        table = f'"{self.schema}".conveyor_jobs'
        columns = JOB_COLUMNS if flt.payloads else LIST_COLUMNS
        sql = f"SELECT {columns} FROM {table} WHERE {clause} ORDER BY id DESC"
        if flt.limit is not None:
            sql += " LIMIT %(f_limit)s"
            params["f_limit"] = flt.limit
        result = yield self.at(sql, params, now)
        return [rows.job_from_row(r) for r in result.rows]

    def count_jobs(self, flt: JobFilter, now: float | None = None) -> Plan[int]:
        """How many jobs match ``flt``."""
        clause, params = where(POSTGRES, flt, paginate=False)
        result = yield self.at(
            f'SELECT COUNT(*) FROM "{self.schema}".conveyor_jobs WHERE {clause}', params, now
        )
        return int(result.rows[0][0])

    def list_attempts(self, job_id: int) -> Plan[list[Attempt]]:
        """A job's attempts, oldest first."""
        result = yield Statement(self.q("list_attempts"), {"job_id": job_id})
        return [rows.attempt_from_row(r) for r in result.rows]

    def queue_stats(self, now: float | None = None) -> Plan[list[QueueStats]]:
        """Per-queue counts, ages and last-hour outcomes."""
        counts = yield self.at(self.q("queue_counts"), {"cap": COUNT_CAP}, now)
        failures = yield self.at(self.q("queue_failures"), {}, now)
        names = yield self.at(self.q("waiting_names"), {}, now)
        paused = yield Statement(self.q("paused_queues"))
        return stats_from_rows(counts.rows, failures.rows, names.rows, paused.rows)

    def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], now: float | None = None
    ) -> Plan[float | None]:
        """Seconds until the earliest pending job is due, or None."""
        result = yield self.at(
            self.q("next_due"),
            {
                "queues": list(queues),
                "names": list(names),
                "limited_recheck": limits.RECHECK_SECONDS,
            },
            now,
        )
        value = result.rows[0][0]
        return None if value is None else max(0.0, float(value))

    # -- queue controls -----------------------------------------------------------------------

    def set_queue_paused(
        self, name: str, paused: bool, by: str | None, now: float | None = None
    ) -> Plan[bool]:
        """See :meth:`Store.set_queue_paused` (a resume also wakes listening workers)."""
        if paused:
            result = yield self.at(self.q("pause_queue"), {"name": name, "by": by}, now)
        else:
            result = yield self.at(
                self.q("resume_queue"), {"name": name, "by": by, "channel": self.channel}, now
            )
        return bool(result.rows)

    def queue_controls(self) -> Plan[list[QueueControl]]:
        """See :meth:`Store.queue_controls`."""
        result = yield Statement(self.q("queue_controls"))
        return [
            QueueControl(name=r[0], paused=r[1], changed_at=r[2], changed_by=r[3])
            for r in result.rows
        ]

    def queue_depth(self, queue: str, cap: int) -> Plan[int]:
        """See :meth:`Store.queue_depth`."""
        result = yield Statement(self.q("queue_depth"), {"queue": queue, "cap": cap})
        return int(result.rows[0][0])

    def held_unique_keys(
        self, keys: Sequence[str], now: float | None = None
    ) -> Plan[frozenset[str]]:
        """See :meth:`Store.held_unique_keys`."""
        if not keys:
            return frozenset()
        found = yield self.at(self.q("unique_holders"), {"keys": sorted(keys)}, now)
        return frozenset(row[0] for row in found.rows)

    def count_ahead(self, job_id: int, cap: int, now: float | None = None) -> Plan[int]:
        """See :meth:`Store.count_ahead`."""
        result = yield self.at(self.q("count_ahead"), {"id": job_id, "cap": cap}, now)
        return int(result.rows[0][0])

    def limit_status(self, job_id: int, now: float | None = None) -> Plan[LimitStatus | None]:
        """See :meth:`Store.limit_status`."""
        job = yield self.at(self.q("limit_status_job"), {"id": job_id}, now)
        if not job.rows:
            return None
        limit_key, rate_key = job.rows[0][0], job.rows[0][2]
        running: list[tuple[Any, ...]] = []
        starts: list[tuple[Any, ...]] = []
        if limit_key is not None:
            found = yield self.at(self.q("limit_status_running"), {"key": limit_key}, now)
            running = found.rows
        if rate_key is not None:
            found = yield self.at(self.q("limit_status_starts"), {"key": rate_key}, now)
            starts = found.rows
        return limits.status_from_rows(job.rows[0], running, starts)

    # -- acting -------------------------------------------------------------------------------

    def retry_jobs(self, flt: JobFilter, now: float | None = None) -> Plan[list[int]]:
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
        # Finished stage jobs of a run are refused (run_graph.refuse_stage_jobs): in the same
        # statement, so the update writes nothing when ``staged`` found any.
        ids = "ARRAY(SELECT value::bigint FROM jsonb_array_elements_text(%(ids)s::jsonb))"
        staged = self.q("run_stage_jobs")
        assert ids in staged
        staged = staged.replace(
            ids, f'ARRAY(SELECT id FROM "{self.schema}".conveyor_jobs WHERE {clause} AND {fresh})'
        )
        result = yield self.at(
            f"WITH staged AS (\n{staged}\n), "
            f'retried AS (UPDATE "{self.schema}".conveyor_jobs SET '
            "state = %(lc_to)s, run_at = now(), "
            f"attempt = CASE WHEN {fresh} THEN 0 ELSE attempt END, "
            "finished_at = NULL, "
            f"result = CASE WHEN {fresh} THEN NULL ELSE result END, "
            "lease_until = NULL, "
            f"worker_id = CASE WHEN {fresh} THEN NULL ELSE worker_id END, "
            f"meta = CASE WHEN {fresh} THEN meta - 'snoozes' ELSE meta END, "
            f"expires_at = CASE WHEN {fresh} THEN NULL ELSE expires_at END "
            f"WHERE {clause} AND state = ANY(%(lc_from)s::text[]) "
            "AND NOT EXISTS (SELECT 1 FROM staged) RETURNING id, queue), "
            "woken AS (SELECT pg_notify(%(channel)s, q.queue) "
            "FROM (SELECT DISTINCT queue FROM retried) AS q) "
            "SELECT retried.id, NULL::bigint, NULL::text "
            "FROM retried, (SELECT COUNT(*) FROM woken) AS notified "
            "UNION ALL SELECT id, run_id, stage FROM staged",
            params,
            now,
        )
        refuse_stage_jobs([r for r in result.rows if r[1] is not None])
        return sorted(r[0] for r in result.rows)

    def cancel_jobs(self, flt: JobFilter, now: float | None = None) -> Plan[list[int]]:
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
        result = yield self.at(
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
            now,
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
            # A discarded dead job that blocked its sequence lets the key go on.
            seq = SequencePlans(self)
            keys = (yield seq.keys_of(ids)).rows
            yield from self._delete_jobs(ids)
            yield from seq.advance_keys([str(r[0]) for r in keys], None)
        return len(ids)

    def _delete_jobs(self, ids: list[int]) -> Plan[None]:
        """Delete the jobs ``ids`` with their attempts and output, their usage folded into
        the hourly roll-up first so that usage reports outlive the jobs."""
        if ids:
            yield Statement(self.q("usage_fold"), {"ids": ids})
            yield Statement(self.q("delete_jobs"), {"ids": ids})

    def prune_jobs(self, retention: Retention, limit: int, now: float | None = None) -> Plan[int]:
        """The jobs' part of :meth:`Store.prune`: finished jobs past their retention, once
        records and spent rate starts, at ``now`` (or the server's clock)."""
        total = 0
        for state, keep in (
            (JobState.SUCCEEDED, retention.succeeded),
            (JobState.DEAD, retention.dead),
            (JobState.CANCELLED, retention.cancelled),
        ):
            found = yield self.at(
                self.q("select_prunable"),
                {"state": str(state), "keep": float(keep), "limit": limit},
                now,
            )
            ids = [r[0] for r in found.rows]
            yield from self._delete_jobs(ids)
            total += len(ids)
        once = yield self.at(
            self.q("prune_once"), {"keep": float(retention.once), "limit": limit}, now
        )
        starts = yield self.at(self.q("prune_rate_starts"), {"limit": limit}, now)
        yield self.at(self.q("usage_prune"), {"keep": float(retention.usage)}, now)
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
