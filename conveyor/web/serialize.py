"""Store records as JSON-ready dicts, shared by the HTTP API and the dashboard pages.

Times are Unix epoch seconds (floats, UTC) exactly as the store keeps them; a client formats
them itself. Two shapes exist for a job: :func:`job_summary` for lists (never the arguments,
the result or a traceback, so a list stays small however big the payloads are) and
:func:`job_detail` for one job.
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.models import Attempt, Job, JobState, QueueStats, WorkerInfo
from conveyor.store.contract.output import OutputChunk
from conveyor.store.contract.usage import UsageTotal
from conveyor.store.watch_types import IncidentRow, LedgerEntry, ScheduleRow

JsonDict = dict[str, Any]


def job_summary(job: Job) -> JsonDict:
    """A job as a list shows it: identity, state, timing, progress and its last error."""
    return {
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "state": job.state.value,
        "priority": job.priority,
        "attempts": job.attempt,
        "max_attempts": job.max_attempts,
        "tenant": job.tenant,
        "created_at": job.created_at,
        "run_at": job.run_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "error_type": job.error_type,
        "error_message": job.error_message,
    }


def job_detail(job: Job, now: float | None = None) -> JsonDict:
    """One job in full: the summary plus arguments, result, worker, lease and metadata.

    ``args`` is None when the stored payload cannot be decoded; ``error`` is None unless an
    attempt failed (``{"type", "message"}`` of the latest failure). ``stalled_for`` is judged
    at ``now`` (None when not given, or when the job is not stalled).
    """
    detail = job_summary(job)
    detail.update(
        args=job.args,
        result=job.result,
        error=job_error(job),
        worker_id=job.worker_id,
        lease_until=job.lease_until,
        timeout=job.timeout,
        expires_at=job.expires_at,
        unique_key=job.unique_key,
        sequence=job.sequence,
        meta=job.meta,
        progress_at=job.progress_at,
        stall_after=job.stall_after,
        stalled_for=None if now is None else job.stalled_for(now),
    )
    return detail


def job_error(job: Job) -> JsonDict | None:
    """The job's latest error as ``{"type", "message"}``, or None when it has none."""
    if job.error_type is None and job.error_message is None:
        return None
    return {"type": job.error_type, "message": job.error_message}


def job_status(job: Job) -> JsonDict:
    """What changes while a job runs (for Server-Sent Events): state, progress, outcome.

    ``result`` is included only once the job succeeded, ``error`` once an attempt failed.
    """
    return {
        "id": job.id,
        "name": job.name,
        "state": job.state.value,
        "attempts": job.attempt,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "result": job.result if job.state is JobState.SUCCEEDED else None,
        "error": job_error(job),
        "finished_at": job.finished_at,
    }


def output_chunk(chunk: OutputChunk) -> JsonDict:
    """One chunk a job emitted: its place, attempt, time and value."""
    return {
        "seq": chunk.seq,
        "attempt": chunk.attempt,
        "at": chunk.at,
        "chunk": json.loads(chunk.chunk_json),
    }


def attempt_detail(attempt: Attempt) -> JsonDict:
    """One attempt with its worker, timing, outcome, error and full traceback."""
    return {
        "attempt": attempt.attempt,
        "worker_id": attempt.worker_id,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "duration": attempt.duration,
        "outcome": attempt.outcome.value,
        "error_type": attempt.error_type,
        "error_message": attempt.error_message,
        "traceback": attempt.traceback,
    }


def queue_detail(stats: QueueStats) -> JsonDict:
    """A queue's counts, oldest queued age (seconds), last hour's throughput and failures.

    ``failure_rate`` is failed / (succeeded + failed) over the last hour, None when nothing
    finished. The counts stop at :data:`conveyor.models.COUNT_CAP`: ``at_least`` names those
    that reached it (``approximate`` is then true).
    """
    finished = stats.succeeded_last_hour + stats.failed_last_hour
    return {
        "queue": stats.queue,
        "queued": stats.queued,
        "scheduled": stats.scheduled,
        "running": stats.running,
        "retrying": stats.retrying,
        "dead": stats.dead,
        "oldest_queued_age": stats.oldest_queued_age,
        "succeeded_last_hour": stats.succeeded_last_hour,
        "failed_last_hour": stats.failed_last_hour,
        "failure_rate": stats.failed_last_hour / finished if finished else None,
        "waiting_names": list(stats.waiting_names),
        "paused": stats.paused,
        "approximate": stats.approximate,
        "at_least": list(stats.at_least),
    }


def worker_detail(worker: WorkerInfo) -> JsonDict:
    """A live worker process: where it runs, what it serves, when it was last seen."""
    return {
        "id": worker.id,
        "hostname": worker.hostname,
        "pid": worker.pid,
        "queues": list(worker.queues),
        "names": list(worker.names),
        "started_at": worker.started_at,
        "last_seen": worker.last_seen,
    }


def schedule_detail(
    row: ScheduleRow, next_slot: float | None, last: LedgerEntry | None
) -> JsonDict:
    """A schedule's definition, its next slot (None when paused or unreadable) and its last
    slot with what became of it."""
    try:
        args: Any = json.loads(row.args_json)
    except ValueError:
        args = None
    return {
        "name": row.name,
        "job_name": row.job_name,
        "timing": row.timing,
        "tz": row.tz,
        "args": args,
        "queue": row.queue,
        "grace": row.grace,
        "catch_up": row.catch_up,
        "overlap": row.overlap,
        "source": row.source.value,
        "paused": row.paused,
        "paused_by": row.paused_by,
        "next_slot": next_slot,
        "last": None if last is None else ledger_entry(last),
    }


def ledger_entry(entry: LedgerEntry) -> JsonDict:
    """One slot of a schedule: what the scheduler did, its job, and the monitor's verdict."""
    return {
        "slot": entry.slot,
        "status": entry.status.value,
        "fired_at": entry.fired_at,
        "manual": entry.manual,
        "by": entry.by,
        "job_id": entry.job_id,
        "job_state": None if entry.job_state is None else entry.job_state.value,
        "verdict": None if entry.verdict is None else entry.verdict.value,
        "verdict_detail": entry.verdict_detail,
    }


def incident_detail(row: IncidentRow) -> JsonDict:
    """An incident (an alert rule firing for one subject)."""
    try:
        details: Any = json.loads(row.details_json)
    except ValueError:
        details = None
    return {
        "id": row.id,
        "rule": row.rule,
        "subject": row.subject,
        "state": row.state.value,
        "summary": row.summary,
        "details": details,
        "opened_at": row.opened_at,
        "updated_at": row.updated_at,
        "resolved_at": row.resolved_at,
    }


def usage_total(total: UsageTotal) -> JsonDict:
    """One group's usage: attempts, jobs, seconds, largest memory and reported units."""
    return {"key": total.key, "attempts": total.attempts, "jobs": total.jobs,
            "wall": total.wall, "cpu": total.cpu, "memory_mb": total.memory_mb,
            "units": total.units}
