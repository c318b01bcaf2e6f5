"""Mapping database rows to the records that cross the store boundary.

Both dialects select the same columns in the same order (times as epoch seconds, JSON as
text), so one mapping serves both.
"""

from __future__ import annotations

import json
from typing import Any

from conveyor._lifecycle import INSERTED_DUE, INSERTED_HELD, INSERTED_LATER
from conveyor.models import Attempt, AttemptOutcome, Job, JobState, WorkerInfo
from conveyor.store.protocol import ClaimedJob

INSERTED_STATES: dict[str, str] = {
    "due_state": str(INSERTED_DUE),
    "later_state": str(INSERTED_LATER),
    "held_state": str(INSERTED_HELD),
}
"""The insert statements' state parameters (``insert_job*.sql``): the lifecycle decides the
state a new job starts in, so no insert statement names one."""

JOB_COLUMNS = (
    "id, queue, name, args, state, priority, attempt, max_attempts, run_at, created_at, "
    "started_at, finished_at, lease_until, worker_id, result, progress, progress_message, "
    "error_type, error_message, timeout, unique_key, tenant, meta, expires_at, progress_at"
)

LIST_COLUMNS = JOB_COLUMNS.replace("args,", "NULL,").replace("result,", "NULL,")
""":data:`JOB_COLUMNS` without the payloads (``JobFilter(payloads=False)``)."""


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def job_from_row(row: tuple[Any, ...]) -> Job:
    """A :class:`Job` from a row selected with :data:`JOB_COLUMNS`."""
    args = _loads(row[3])
    meta = _loads(row[22])
    return Job(
        id=row[0],
        queue=row[1],
        name=row[2],
        args=args if isinstance(args, dict) else None,
        state=JobState(row[4]),
        priority=row[5],
        attempt=row[6],
        max_attempts=row[7],
        run_at=row[8],
        created_at=row[9],
        started_at=row[10],
        finished_at=row[11],
        lease_until=row[12],
        worker_id=row[13],
        result=_loads(row[14]),
        progress=row[15],
        progress_message=row[16],
        error_type=row[17],
        error_message=row[18],
        timeout=row[19],
        unique_key=row[20],
        tenant=row[21],
        meta=meta if isinstance(meta, dict) else {},
        expires_at=row[23],
        # Selects that spell the columns out (a webhook's finished jobs) stop before it.
        progress_at=row[24] if len(row) > 24 else None,
    )


def claimed_from_row(row: tuple[Any, ...]) -> ClaimedJob:
    """A :class:`ClaimedJob` from a row returned by ``claim_jobs.sql``."""
    return ClaimedJob(
        id=row[0],
        queue=row[1],
        name=row[2],
        args_json=row[3],
        attempt=row[4],
        max_attempts=row[5],
        token=row[6],
        priority=row[7],
        timeout=row[8],
        lease_until=row[9],
        started_at=row[10],
        created_at=row[11],
        meta_json=row[12],
        run_at=row[13],
        tenant=row[14],
    )


def attempt_from_row(row: tuple[Any, ...]) -> Attempt:
    """An :class:`Attempt` from a row selected by ``list_attempts.sql``."""
    return Attempt(
        job_id=row[0],
        attempt=row[1],
        worker_id=row[2],
        started_at=row[3],
        finished_at=row[4],
        outcome=AttemptOutcome(row[5]),
        error_type=row[6],
        error_message=row[7],
        traceback=row[8],
    )


def worker_from_row(row: tuple[Any, ...]) -> WorkerInfo:
    """A :class:`WorkerInfo` from a row selected by ``live_workers.sql``."""
    return WorkerInfo(
        id=row[0],
        hostname=row[1],
        pid=row[2],
        queues=tuple(json.loads(row[3])),
        names=tuple(json.loads(row[4])),
        started_at=row[5],
        last_seen=row[6],
        slots=row[7],
        busy=row[8],
    )
