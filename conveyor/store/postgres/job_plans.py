"""The job-lifecycle verbs as plans: producing, claiming, completing, leases and workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor._lifecycle import EXPIRED, EXPIRED_MESSAGE, Action, lost_attempt, sources, target
from conveyor.errors import ConfigurationError
from conveyor.models import JobState, WorkerInfo
from conveyor.store import limits, rows
from conveyor.store.postgres.copy_rows import COPY_MIN_BATCH, copy_data
from conveyor.store.postgres.planner_settings import INDEX_WALKS
from conveyor.store.postgres.plans_base import Plan, PlansBase, Statement
from conveyor.store.postgres.sequence_plans import SequencePlans
from conveyor.store.postgres.sql import inline_nulls
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    Completion,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    JobBatch,
    NewJob,
)
from conveyor.store.sequences import has_sequence
from conveyor.store.unheld import release_unheld
from conveyor.store.unique import has_unique, insert_unique


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


def _queues(jobs: Sequence[NewJob]) -> set[str]:
    """The batch's distinct queues (a JobBatch's without building its jobs)."""
    if isinstance(jobs, JobBatch):
        return {jobs.template.queue}
    return {j.queue for j in jobs}


def _float(value: float | None) -> float | None:
    # psycopg refuses lists mixing int and float; the columns are double precision anyway.
    return None if value is None else float(value)


class JobPlans(PlansBase):
    """Producing, working and the workers' rows."""

    several_groups = False
    """Whether this store's last plain claim took jobs of several (queue, tenant) groups. Its
    next plain claim then runs claim_jobs_tenants.sql (short tenant heads), else
    claim_jobs.sql: both give the same fair order, each is the cheaper one for its case."""

    def plain_claim_query(self) -> str:
        """The name of the plain claim's SQL for the next claim (see :attr:`several_groups`)."""
        return "claim_jobs_tenants" if self.several_groups else "claim_jobs"

    def saw_claimed(self, claimed: Sequence[ClaimedJob]) -> None:
        """Remember whether a plain claim took jobs of several groups (an empty claim says
        nothing, so the choice stays)."""
        if claimed:
            self.several_groups = len({(j.queue, j.tenant) for j in claimed}) > 1

    # -- producing ----------------------------------------------------------------------------

    def insert_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True, now: float | None = None
    ) -> Plan[list[InsertedJob]]:
        """The plan for a batch: one autocommit statement, unless some job has a unique key
        or a sequence (a transaction then), or the batch is long enough to COPY (decision
        100)."""
        if has_sequence(jobs):
            return self.insert_sequenced_jobs(jobs, notify=notify, now=now)
        if has_unique(jobs):
            return self.insert_unique_jobs(jobs, notify=notify, now=now)
        if len(jobs) >= COPY_MIN_BATCH:
            return self.insert_copied_jobs(jobs, notify=notify, now=now)
        return self.insert_plain_jobs(jobs, notify=notify, now=now)

    def insert_copied_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True, now: float | None = None
    ) -> Plan[list[InsertedJob]]:
        """Reserve ids and read the clock (sending the NOTIFY), then COPY the rows: two
        statements in one transaction. Only for batches without unique keys, whose policy
        needs the holders read first (see :func:`conveyor.store.unique.insert_unique`)."""
        queues = sorted(_queues(jobs))
        reserved = yield self.at(
            self.q("reserve_job_ids"),
            {"n": len(jobs), "channel": self.channel, "notify": notify, "queues": queues},
            now,
        )
        clock, ids, _ = reserved.rows[0]
        ids = sorted(ids)  # drawn in order; sorted so input order maps to ascending ids
        data = copy_data(jobs, ids, clock)
        yield Statement(self.q("copy_jobs"), copy=data.blocks)
        return data.inserted

    def insert_sequenced_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True, now: float | None = None
    ) -> Plan[list[InsertedJob]]:
        """Lock the batch's sequence keys, insert (held), release each free key's first job
        (one transaction; the policy is :mod:`conveyor.store.sequences`)."""

        def insert(batch: Sequence[NewJob]) -> Plan[list[InsertedJob]]:
            if has_unique(batch):
                return self.insert_unique_jobs(batch, notify=notify, now=now)
            return self.insert_plain_jobs(batch, notify=notify, now=now)

        return SequencePlans(self).insert(jobs, insert, now)

    def insert_unique_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True, now: float | None = None
    ) -> Plan[list[InsertedJob]]:
        """Lock the batch's keys, read their holders, insert the rest (one transaction; the
        policy is :func:`conveyor.store.unique.insert_unique`)."""
        return insert_unique(
            jobs,
            self._lock_unique_keys,
            lambda keys: self.at(self.q("unique_holders"), {"keys": keys}, now),
            lambda rest: self.insert_plain_jobs(rest, notify=notify, now=now),
        )

    def _lock_unique_keys(self, keys: list[str]) -> Plan[None]:
        """Advisory locks on ``keys`` that keep every other producer of them waiting until this
        transaction ends. The holders are read by a *later* statement, which under READ
        COMMITTED takes a fresh snapshot after the locks were granted: it sees every holder
        committed before, and none can commit until this transaction does."""
        locked = yield Statement(self.q("lock_unique_keys"), {"keys": keys})
        if locked.rows and locked.rows[0][0] == "repeatable read":
            raise ConfigurationError(
                "enqueueing unique jobs inside a REPEATABLE READ transaction cannot see holders "
                "committed after it started; enqueue them in a READ COMMITTED (the default) or "
                "SERIALIZABLE transaction"
            )

    def insert_plain_jobs(
        self, jobs: Sequence[NewJob], *, notify: bool = True, now: float | None = None
    ) -> Plan[list[InsertedJob]]:
        """One statement inserts every job and sends one NOTIFY per distinct queue."""
        if len(jobs) == 1:
            # The common web-request case: a plain one-row statement is cheaper than unnest.
            [job] = jobs
            statement = self.at(
                self.q("insert_job"),
                {
                    "channel": self.channel,
                    "notify": notify,
                    **rows.INSERTED_STATES,
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
                    "start_by": _float(job.start_by),
                    "expires_in": _float(job.expires_in),
                    "sequence_key": job.sequence_key,
                    "sequence_blocks": job.sequence_blocks if job.sequence_key else None,
                },
                now,
            )
            # Most of the 26 parameters are None for a plain job: NULL in the text is cheaper
            # for psycopg and the server than a parameter (decision 114).
            single = yield Statement(*inline_nulls(statement.sql, statement.params))
            return [
                InsertedJob(id=r[0], state=JobState(r[1]), created_at=r[2]) for r in single.rows
            ]
        result = yield self.at(
            self.q("insert_jobs"),
            {
                "channel": self.channel,
                "notify": notify,
                **rows.INSERTED_STATES,
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
                "start_bys": [_float(j.start_by) for j in jobs],
                "expires_ins": [_float(j.expires_in) for j in jobs],
                "sequence_keys": [j.sequence_key for j in jobs],
                "sequence_blocks": [j.sequence_blocks if j.sequence_key else None for j in jobs],
            },
            now,
        )
        # Ids come from an identity in insertion order, which follows the input order.
        inserted = sorted(result.rows, key=lambda r: r[0])
        return [InsertedJob(id=r[0], state=JobState(r[1]), created_at=r[2]) for r in inserted]

    # -- working ------------------------------------------------------------------------------

    def limited_waiting(
        self, params: ClaimParams, completing: Sequence[int] = ()
    ) -> Plan[bool]:
        """Whether a limited pass for ``params`` would find a candidate (one statement).

        Read without locks, so a later pass may still find nothing; it only spares a worker
        with limited types but no limited job waiting the pass's transaction. The running
        attempts in ``completing`` (those the caller completes before its pass) count as
        finished, so room they free counts.
        """
        if params.limit <= 0 or not params.queues or not params.names:
            return False
        found = yield self.at(
            self.q("limited_waiting"),
            {
                "queues": list(params.queues),
                "names": list(params.names),
                "completing": list(completing),
            },
            params.now,
            generic=True,
        )
        return bool(found.rows[0][0])

    def claim_limited_jobs(self, params: ClaimParams) -> Plan[list[ClaimedJob]]:
        """The limited pass (:func:`conveyor.store.limits.claim_limited`) in three statements,
        or two when no candidate has a rate key.

        The first reads candidates without row locks and takes the keys' advisory locks; the
        second (a fresh READ COMMITTED snapshot) counts what each key has spent and which
        candidates are still ready, so every committed claim of those keys is seen and none
        can commit until this one does; the third claims the chosen jobs and records their
        rate starts. Without rate keys the second statement also decides and claims
        (limited_claim_concurrency.sql, decision 111). Must run in a transaction (the locks
        are transaction-scoped).
        """
        return limits.claim_limited(
            params,
            self._limited_candidates,
            self._limited_spent,
            self._limited_claim,
            self._limited_claim_concurrency,
        )

    def _limited_claim_concurrency(
        self, params: ClaimParams, read: list[limits.Candidate]
    ) -> Plan[list[tuple[Any, ...]]]:
        result = yield self.at(
            self.q("limited_claim_concurrency"),
            {
                # An array literal: a list parameter is dumped element by element, each
                # checked for quoting, and a window is four candidates per free slot.
                "ids": "{" + ",".join([str(c.id) for c in read]) + "}",
                "keys": limits.limit_keys(read),
                "slots": params.limit,
                "worker_id": params.worker_id,
                "lease_seconds": float(params.lease_seconds),
            },
            params.now,
        )
        return result.rows

    def _limited_candidates(self, params: ClaimParams, window: int) -> Plan[list[limits.Candidate]]:
        found = yield self.at(
            self.q("limited_candidates"),
            {
                "queues": list(params.queues),
                "names": list(params.names),
                "window": window,
                "namespace": limits.LOCK_NAMESPACE,
            },
            params.now,
            # Its index walks at any size and whatever the statistics (decision 132).
            settings=INDEX_WALKS,
        )
        return [limits.Candidate.from_row(r) for r in found.rows]

    def _limited_spent(
        self, params: ClaimParams, read: list[limits.Candidate]
    ) -> Plan[limits.Spending]:
        spent = yield self.at(
            self.q("limited_spent"),
            {
                "limit_keys": limits.limit_keys(read),
                "rate_keys": limits.rate_keys(read),
                "ids": [c.id for c in read],
            },
            params.now,
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
        return limits.Spending(now, running, starts, frozenset(ready))

    def _limited_claim(
        self, params: ClaimParams, decision: limits.Decision, now: float
    ) -> Plan[list[tuple[Any, ...]]]:
        recorded = list(decision.starts.items())
        result = yield self.at(
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
            params.now,
        )
        return result.rows

    def claim_plain_jobs(self, params: ClaimParams) -> Plan[list[ClaimedJob]]:
        """Fair between tenants, ``FOR UPDATE SKIP LOCKED`` in a CTE, one UPDATE ... RETURNING."""
        if params.limit <= 0 or not params.queues or not params.names:
            return []
        result = yield self.at(
            self.q(self.plain_claim_query()),
            {
                "queues": list(params.queues),
                "names": list(params.names),
                "limit": params.limit,
                "worker_id": params.worker_id,
                "lease_seconds": params.lease_seconds,
            },
            params.now,
            generic=True,
        )
        # RETURNING order is unspecified; the last column is the job's place in claim order.
        found = sorted(result.rows, key=lambda r: r[-1])
        claimed = [rows.claimed_from_row(r) for r in found]
        self.saw_claimed(claimed)
        return claimed

    def complete_jobs(
        self, completions: Sequence[Completion], now: float | None = None
    ) -> Plan[list[CompletionResult]]:
        """One guarded statement updates every job and appends every attempt row, at ``now``
        (the caller's clock) or the server's."""
        unique: dict[int, Completion] = {}
        for c in completions:
            unique.setdefault(c.job_id, c)  # a second completion of one attempt is refused
        accepted = yield from self._finish(list(unique.values()), now)
        return [
            CompletionResult(c.job_id, accepted=c.job_id in accepted and unique[c.job_id] is c)
            for c in completions
        ]

    def _finish(self, completions: list[Completion], now: float | None) -> Plan[set[int]]:
        if not completions:
            return set()
        # One JSON document is far cheaper to send than a dozen typed arrays.
        batch = [completion_row(c) for c in completions]
        result = yield self.at(
            self.q("complete_jobs"), {"batch": json.dumps(batch), "channel": self.channel}, now
        )
        return {r[0] for r in result.rows}

    def heartbeat(self, params: HeartbeatParams) -> Plan[frozenset[int]]:
        """Renew held leases (matched on id and token) and mark the worker seen."""
        result = yield self.at(
            self.q("heartbeat"),
            {
                "ids": [h[0] for h in params.held],
                "tokens": [h[1] for h in params.held],
                "lease_seconds": float(params.lease_seconds),
                "worker_id": params.worker_id,
            },
            params.now,
        )
        return frozenset(r[0] for r in result.rows)

    def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None,
        now: float | None = None,
    ) -> Plan[bool]:
        """Progress for the attempt holding ``token`` (its time moves only on a change)."""
        result = yield self.at(
            self.q("set_progress"),
            {"id": job_id, "token": token, "fraction": fraction, "message": message},
            now,
        )
        return result.rowcount == 1

    def cancel_expired(self, limit: int, now: float | None = None) -> Plan[list[int]]:
        """End waiting jobs past their start deadline as ``cancelled`` (error type
        ``Expired``), in one statement."""
        before, after = EXPIRED_MESSAGE
        params = {
            "limit": limit, "lc_from": [str(s) for s in sources(Action.EXPIRE)],
            "lc_to": str(target(Action.EXPIRE)), "error_type": EXPIRED, "before": before,
            "after": after,
        }
        found = yield self.at(self.q("cancel_expired"), params, now)
        expired = sorted(r[0] for r in found.rows)
        yield from SequencePlans(self).advance(expired, now)  # an expired job frees its key
        return expired

    def rescue_expired(self, limit: int, now: float | None = None) -> Plan[list[int]]:
        """Lapsed leases count as failed attempts: retry in the job's old place, or dead when
        exhausted (see :func:`conveyor._lifecycle.lost_attempt`)."""
        expired = yield self.at(self.q("select_expired"), {"limit": limit}, now)
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
        result = yield self.at(
            self.q("rescue_jobs"), {"batch": json.dumps(batch), "channel": self.channel}, now
        )
        rescued = sorted(r[0] for r in result.rows)
        # A rescued job that retries keeps its place; one sent to dead may free its key.
        yield from SequencePlans(self).advance(rescued, now)
        return rescued

    # -- workers ------------------------------------------------------------------------------

    def expire_worker(self, worker_id: str, now: float | None = None) -> Plan[int]:
        """Lapse a dead worker's leases (at ``now`` or the server's clock), forget the worker."""
        result = yield self.at(self.q("expire_worker"), {"worker_id": worker_id}, now)
        yield Statement(self.q("delete_worker"), {"worker_id": worker_id})
        return result.rowcount

    def release_unheld(
        self, worker_id: str, held: Sequence[tuple[int, int]], now: float | None = None
    ) -> Plan[list[int]]:
        """Release uncharged the running jobs of ``worker_id`` it does not hold (the shared
        plan, :func:`conveyor.store.unheld.release_unheld`, with this store's statements)."""
        running = Statement(self.q("worker_running"), {"worker_id": worker_id})
        return release_unheld(worker_id, held, running, lambda c: self.complete_jobs(c, now))

    def put_worker(
        self, worker_id: str, info: WorkerInfo | None, now: float | None = None
    ) -> Plan[None]:
        """Insert or refresh a worker row at ``now`` (or the server's clock), or remove it."""
        if info is None:
            yield Statement(self.q("delete_worker"), {"worker_id": worker_id})
            return
        yield self.at(
            self.q("upsert_worker"),
            {
                "id": worker_id,
                "hostname": info.hostname,
                "pid": info.pid,
                "queues": json.dumps(list(info.queues)),
                "names": json.dumps(list(info.names)),
                "slots": info.slots,
                "busy": info.busy,
            },
            now,
        )

    def live_workers(
        self, stale_after: float, now: float | None = None
    ) -> Plan[list[WorkerInfo]]:
        """Workers seen within ``stale_after`` seconds before ``now`` (or the server's)."""
        result = yield self.at(self.q("live_workers"), {"stale_after": stale_after}, now)
        return [rows.worker_from_row(r) for r in result.rows]
