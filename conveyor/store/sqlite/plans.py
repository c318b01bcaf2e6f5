"""SQLite's verbs as plans (see :mod:`conveyor.store.plan`), run by :mod:`.driver`.

Each plan takes ``now``, the store's clock read by the driver once the transaction is open (for
a write: once the write lock is held, so a verb that waited for it never judges by a moment
already past). The hot paths (insert, claim, complete, heartbeat) are in :mod:`.job_plans`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor._lifecycle import (
    EXPIRED,
    EXPIRED_MESSAGE,
    WORKER_LOST,
    Action,
    lost_attempt,
    sources,
    target,
    transition,
)
from conveyor.models import COUNT_CAP, Attempt, Job, JobState, QueueControl, QueueStats, WorkerInfo
from conveyor.store import limits, rows
from conveyor.store.filters import SQLITE, where
from conveyor.store.plan import Plan, Statement
from conveyor.store.protocol import Completion, CompletionKind, JobFilter, LimitStatus, Retention
from conveyor.store.queue_rows import stats_from_rows
from conveyor.store.run_graph import refuse_stage_jobs
from conveyor.store.sqlite.connection import query
from conveyor.store.sqlite.sequence_plans import (
    advance_after,
    advance_keys,
    requeue,
    sequence_keys_of,
)

# Which statement applies a completion: they differ in the columns they write (a handler's
# retry moves run_at, a rescue keeps it, a release un-charges the attempt); the state and the
# attempt change come from the completion itself (conveyor._lifecycle decides them).
_STATEMENT_OF = {
    CompletionKind.RETRY: "retry_job",
    CompletionKind.LOST: "rescue_job",
    CompletionKind.RELEASED: "release_job",
    CompletionKind.SNOOZED: "snooze_job",
}


def update_for(c: Completion, now: float) -> tuple[str, dict[str, Any]]:
    """The guarded statement (by query name) and parameters that apply one completion."""
    statement = _STATEMENT_OF.get(c.kind, "finish_job")
    # Each statement's parameters as one literal: this runs once per finished job.
    if statement == "finish_job":
        error = c.error
        return statement, {
            "id": c.job_id, "token": c.token, "now": now, "state": str(c.state),
            "error_type": error.type if error else None,
            "error_message": error.message if error else None,
            "result": c.result_json,
        }
    params: dict[str, Any] = {"id": c.job_id, "token": c.token, "now": now, "state": str(c.state)}
    if statement == "release_job":
        return statement, params | {"attempt_delta": c.attempt_delta}
    if statement == "snooze_job":
        return statement, params | {"attempt_delta": c.attempt_delta, "delay": c.retry_delay}
    params |= {
        "error_type": c.error.type if c.error else None,
        "error_message": c.error.message if c.error else None,
    }
    if statement == "retry_job":
        return statement, params | {"delay": c.retry_delay}
    return statement, params


def _q(query_name: str, /, **params: Any) -> Statement:
    return Statement(query(query_name), params)


def _attempt(**values: Any) -> Statement:
    values["outcome"] = str(values["outcome"])
    return Statement(query("insert_attempt"), values)


# -- working ------------------------------------------------------------------------------------


def set_progress(
    now: float, job_id: int, token: int, fraction: float, message: str | None
) -> Plan[bool]:
    """Progress for the attempt holding ``token``."""
    result = yield _q(
        "set_progress", id=job_id, token=token, fraction=fraction, message=message, now=now
    )
    return result.rowcount == 1


def cancel_expired(now: float, limit: int) -> Plan[list[int]]:
    """End waiting jobs past their start deadline as ``cancelled`` (error type ``Expired``)."""
    before, after = EXPIRED_MESSAGE
    found = yield _q(
        "cancel_expired", now=now, limit=limit, lc_from=json.dumps(sources(Action.EXPIRE)),
        lc_to=str(target(Action.EXPIRE)), error_type=EXPIRED, before=before, after=after,
    )
    expired = sorted(r[0] for r in found.rows)
    yield from advance_after(now, expired)  # an expired job frees its sequence's key
    return expired


def rescue_expired(now: float, limit: int) -> Plan[list[int]]:
    """Count lapsed attempts as failed: retry in the job's old place (its run_at is kept), or
    ``dead`` when attempts are spent (see :func:`conveyor._lifecycle.lost_attempt`)."""
    expired = yield _q("select_expired", now=now, limit=limit)
    rescued = []
    for job_id, token, attempt, max_attempts, worker_id, started_at in expired.rows:
        completion = lost_attempt(job_id, token, attempt, max_attempts, worker_id)
        statement, params = update_for(completion, now)
        yield Statement(query(statement), params)
        yield _attempt(
            job_id=job_id,
            attempt=attempt,
            token=token,
            worker_id=worker_id,
            started_at=started_at,
            now=now,
            outcome=completion.outcome,
            error_type=WORKER_LOST,
            error_message=completion.error.message if completion.error else None,
            traceback=None,
        )
        rescued.append(job_id)
    # A rescued job that retries keeps its place; one sent to dead may free its key.
    yield from advance_after(now, rescued)
    return rescued


def expire_worker(now: float, worker_id: str) -> Plan[int]:
    """Lapse a dead worker's leases and forget the worker."""
    result = yield _q("expire_worker", worker_id=worker_id, now=now)
    yield _q("delete_worker", worker_id=worker_id)
    return result.rowcount


def put_worker(now: float, worker_id: str, info: WorkerInfo | None) -> Plan[None]:
    """Insert or refresh a worker row, or remove it."""
    if info is None:
        yield _q("delete_worker", worker_id=worker_id)
        return
    yield _q(
        "upsert_worker",
        id=worker_id,
        hostname=info.hostname,
        pid=info.pid,
        queues=json.dumps(list(info.queues)),
        names=json.dumps(list(info.names)),
        now=now,
        slots=info.slots,
        busy=info.busy,
    )


def live_workers(now: float, stale_after: float) -> Plan[list[WorkerInfo]]:
    """Workers seen within ``stale_after`` seconds."""
    found = yield _q("live_workers", since=now - stale_after)
    return [rows.worker_from_row(r) for r in found.rows]


# -- inspecting ---------------------------------------------------------------------------------


def list_jobs(now: float, flt: JobFilter) -> Plan[list[Job]]:
    """Jobs matching ``flt``, newest first."""
    clause, params = where(SQLITE, flt, now)
    columns = rows.JOB_COLUMNS if flt.payloads else rows.LIST_COLUMNS
    sql = f"SELECT {columns} FROM conveyor_jobs WHERE {clause} ORDER BY id DESC"
    if flt.limit is not None:
        sql += " LIMIT :f_limit"
        params["f_limit"] = flt.limit
    found = yield Statement(sql, params)
    return [rows.job_from_row(r) for r in found.rows]


def count_jobs(now: float, flt: JobFilter) -> Plan[int]:
    """Number of jobs matching ``flt``."""
    clause, params = where(SQLITE, flt, now, paginate=False)
    found = yield Statement(f"SELECT COUNT(*) FROM conveyor_jobs WHERE {clause}", params)
    return int(found.rows[0][0])


def list_attempts(now: float, job_id: int) -> Plan[list[Attempt]]:
    """A job's attempts, oldest first."""
    found = yield _q("list_attempts", job_id=job_id)
    return [rows.attempt_from_row(r) for r in found.rows]


def queue_stats(now: float) -> Plan[list[QueueStats]]:
    """Per-queue counts, ages and last-hour outcomes."""
    counts = yield _q("queue_counts", now=now, cap=COUNT_CAP)
    failures = yield _q("queue_failures", now=now)
    names = yield _q("waiting_names", now=now)
    paused = yield _q("paused_queues")
    return stats_from_rows(counts.rows, failures.rows, names.rows, paused.rows)


def next_due_in(now: float, queues: Sequence[str], names: Sequence[str]) -> Plan[float | None]:
    """Seconds until the earliest pending job is due, or None if there is none."""
    found = yield _q(
        "next_due",
        queues=json.dumps(list(queues)),
        names=json.dumps(list(names)),
        now=now,
        limited_recheck=limits.RECHECK_SECONDS,
    )
    due = found.rows[0][0]
    return None if due is None else max(0.0, float(due) - now)


# -- queue controls, holds and limits -----------------------------------------------------------


def set_queue_paused(now: float, name: str, paused: bool, by: str | None) -> Plan[bool]:
    """See :meth:`Store.set_queue_paused`."""
    result = yield _q("pause_queue" if paused else "resume_queue", name=name, now=now, by=by)
    return result.rowcount == 1


def queue_controls(now: float) -> Plan[list[QueueControl]]:
    """See :meth:`Store.queue_controls`."""
    found = yield _q("queue_controls")
    return [
        QueueControl(name=r[0], paused=bool(r[1]), changed_at=r[2], changed_by=r[3])
        for r in found.rows
    ]


def queue_depth(now: float, queue: str, cap: int) -> Plan[int]:
    """See :meth:`Store.queue_depth`."""
    found = yield _q("queue_depth", queue=queue, cap=cap)
    return int(found.rows[0][0])


def held_unique_keys(now: float, keys: Sequence[str]) -> Plan[frozenset[str]]:
    """See :meth:`Store.held_unique_keys`."""
    if not keys:
        return frozenset()
    found = yield _q("unique_holders", keys=json.dumps(sorted(keys)), now=now)
    return frozenset(row[0] for row in found.rows)


def limit_status(now: float, job_id: int) -> Plan[LimitStatus | None]:
    """See :meth:`Store.limit_status`."""
    job = yield _q("limit_status_job", id=job_id)
    if not job.rows:
        return None
    limit_key, rate_key = job.rows[0][0], job.rows[0][2]
    running: list[tuple[Any, ...]] = []
    starts: list[tuple[Any, ...]] = []
    if limit_key is not None:
        running = (yield _q("limit_status_running", key=limit_key)).rows
    if rate_key is not None:
        starts = (yield _q("limit_status_starts", key=rate_key, now=now)).rows
    return limits.status_from_rows(job.rows[0], running, starts)


def count_ahead(now: float, job_id: int, cap: int) -> Plan[int]:
    """See :meth:`Store.count_ahead`."""
    found = yield _q("count_ahead", id=job_id, now=now, cap=cap)
    return int(found.rows[0][0])


# -- acting -------------------------------------------------------------------------------------


def retry_jobs(now: float, flt: JobFilter) -> Plan[list[int]]:
    """Make matching dead/cancelled/scheduled/retrying/queued jobs run now."""
    clause, params = where(SQLITE, flt, now)
    params |= {"lc_from": json.dumps(sources(Action.RETRY_NOW))}
    found = yield Statement(
        f"SELECT id, state FROM conveyor_jobs WHERE {clause} "
        "AND state IN (SELECT value FROM json_each(:lc_from)) ORDER BY id",
        params,
    )
    moves = [(r[0], transition(JobState(r[1]), Action.RETRY_NOW)) for r in found.rows]
    fresh = json.dumps([i for i, t in moves if t.fresh_attempts])
    # Finished stage jobs of a run are refused, before anything is written.
    staged = yield Statement(query("run_stage_jobs"), {"ids": fresh})
    refuse_stage_jobs(staged.rows)
    waiting = json.dumps([i for i, t in moves if not t.fresh_attempts])
    state = str(target(Action.RETRY_NOW))
    # Fresh attempts (no snoozes counted, no start deadline: an operator's "run it again"
    # means now) for finished jobs; their attempt history stays.
    yield Statement(
        "UPDATE conveyor_jobs SET state = :state, attempt = 0, run_at = :now, "
        "finished_at = NULL, result = NULL, lease_until = NULL, worker_id = NULL, "
        "meta = json_remove(meta, '$.snoozes'), expires_at = NULL "
        "WHERE id IN (SELECT value FROM json_each(:ids))",
        {"now": now, "ids": fresh, "state": state},
    )
    yield Statement(
        "UPDATE conveyor_jobs SET state = :state, run_at = :now "
        "WHERE id IN (SELECT value FROM json_each(:ids))",
        {"now": now, "ids": waiting, "state": state},
    )
    # A finished job of a sequence run again goes back in line (its key may be busy).
    yield from requeue(now, [i for i, t in moves if t.fresh_attempts])
    return [r[0] for r in found.rows]


def cancel_jobs(now: float, flt: JobFilter) -> Plan[list[int]]:
    """Cancel matching unfinished jobs; a running attempt's later completion is refused."""
    clause, params = where(SQLITE, flt, now)
    params |= {"lc_from": json.dumps(sources(Action.CANCEL))}
    found = yield Statement(
        "SELECT id, state, token, attempt, worker_id, started_at FROM conveyor_jobs "
        f"WHERE {clause} AND state IN (SELECT value FROM json_each(:lc_from)) ORDER BY id",
        params,
    )
    for job_id, state, token, attempt, worker_id, started_at in found.rows:
        outcome = transition(JobState(state), Action.CANCEL).outcome
        if outcome is not None:  # a running attempt is recorded as cancelled
            yield _attempt(
                job_id=job_id,
                attempt=attempt,
                token=token,
                worker_id=worker_id,
                started_at=started_at,
                now=now,
                outcome=outcome,
                error_type=None,
                error_message="cancelled while running",
                traceback=None,
            )
    ids = [r[0] for r in found.rows]
    yield Statement(
        "UPDATE conveyor_jobs SET state = :state, finished_at = :now, "
        "lease_until = NULL WHERE id IN (SELECT value FROM json_each(:ids))",
        {"now": now, "ids": json.dumps(ids), "state": str(target(Action.CANCEL))},
    )
    yield from advance_after(now, ids)  # a cancelled head frees its key
    return ids


def discard_jobs(now: float, flt: JobFilter) -> Plan[int]:
    """Delete matching finished jobs with their attempts."""
    clause, params = where(SQLITE, flt, now)
    found = yield Statement(
        f"SELECT id FROM conveyor_jobs WHERE {clause} "
        "AND (state = 'succeeded' OR state = 'dead' OR state = 'cancelled')",
        params,
    )
    ids = [r[0] for r in found.rows]
    # A discarded dead job that blocked its sequence lets the key go on.
    keys = (yield sequence_keys_of(ids)).rows if ids else []
    yield from _delete(ids)
    yield from advance_keys(now, [str(r[0]) for r in keys])
    return len(ids)


def prune(now: float, retention: Retention, limit: int) -> Plan[int]:
    """Delete finished jobs past their retention, at most ``limit`` per state."""
    total = 0
    for state, keep in (
        (JobState.SUCCEEDED, retention.succeeded),
        (JobState.DEAD, retention.dead),
        (JobState.CANCELLED, retention.cancelled),
    ):
        # now: a succeeded job still holding its unique key is kept.
        found = yield _q(
            "select_prunable", state=str(state), cutoff=now - keep, limit=limit, now=now
        )
        ids = [r[0] for r in found.rows]
        yield from _delete(ids)
        total += len(ids)
    once = yield _q("prune_once", cutoff=now - retention.once, limit=limit)
    starts = yield _q("prune_rate_starts", now=now, limit=limit)
    yield _q("usage_prune", cutoff=now - retention.usage)
    yield _q("usage_prune_units", cutoff=now - retention.usage)
    return total + once.rowcount + starts.rowcount


def _delete(ids: list[int]) -> Plan[None]:
    if not ids:
        return
    packed = {"ids": json.dumps(ids)}
    # Usage outlives its jobs: folded into the hourly roll-up before the rows go.
    yield _q("usage_fold", **packed)
    yield _q("usage_fold_units", **packed)
    yield Statement(
        "DELETE FROM conveyor_attempts WHERE job_id IN (SELECT value FROM json_each(:ids))", packed
    )
    yield Statement(
        "DELETE FROM conveyor_job_output WHERE job_id IN (SELECT value FROM json_each(:ids))",
        packed,
    )
    yield Statement(
        "DELETE FROM conveyor_usage WHERE job_id IN (SELECT value FROM json_each(:ids))", packed
    )
    yield Statement(
        "DELETE FROM conveyor_jobs WHERE id IN (SELECT value FROM json_each(:ids))", packed
    )


# -- ctx.once() records -------------------------------------------------------------------------


def once_seen(now: float, key: str) -> Plan[bool]:
    """Whether a ``ctx.once()`` record of ``key`` is visible."""
    found = yield _q("once_seen", key=key)
    return bool(found.rows)


def record_once(now: float, key: str, job_id: int) -> Plan[bool]:
    """Record ``key``; False when it already exists."""
    result = yield _q("record_once", key=key, job_id=job_id, now=now)
    return result.rowcount == 1
