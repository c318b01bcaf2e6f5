"""The rows ``enqueue_many`` COPYs into ``conveyor_jobs`` on PostgreSQL (decision 100).

``insert_jobs.sql`` computes each job's due time, first state and start deadline in SQL from
``now()``; COPY only carries finished values, so the same rules are applied here, in Python,
from the transaction's ``now()`` read by the statement that reserved the ids. The rules must
stay those of ``insert_jobs.sql`` (the conformance suite runs both paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.store import rows
from conveyor.store.contract.records import NewJob

COPY_MIN_BATCH = 500
"""Batches at least this long are COPYed; shorter ones take the one-statement INSERT.

COPY costs two more round trips (BEGIN and COMMIT around the id reservation and the copy),
which a short batch does not earn back (see the measurement under decision 100)."""

COPY_TYPES = (
    "int8", "text", "text", "text", "text", "int4", "int4", "timestamptz", "float8", "text",
    "float8", "text", "text", "text", "int4", "text", "int4", "float8", "timestamptz",
    "timestamptz",
)
"""``copy_jobs.sql``'s columns' types, in order. The two jsonb columns are sent as ``text``:
in COPY's text format a JSON document is its text, which the rows already hold."""

_DUE = rows.INSERTED_STATES["due_state"]
_LATER = rows.INSERTED_STATES["later_state"]


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def copy_rows(jobs: Sequence[NewJob], ids: Sequence[int], now: datetime) -> list[tuple[Any, ...]]:
    """One row per job in ``copy_jobs.sql``'s column order, ids in input order.

    ``now`` is the transaction's clock: a job without ``run_at`` is due ``delay`` after it,
    and a job due later than it starts ``scheduled`` (else ``queued``), as in SQL.
    """
    out: list[tuple[Any, ...]] = []
    for job_id, job in zip(ids, jobs, strict=True):
        if job.run_at is not None:
            due = _at(job.run_at)
        elif job.delay:
            due = now + timedelta(seconds=job.delay)
        else:
            due = now
        if job.start_by is not None:
            expires: datetime | None = _at(job.start_by)
        elif job.expires_in is not None:
            expires = due + timedelta(seconds=job.expires_in)
        else:
            expires = None
        out.append(
            (
                job_id, job.queue, job.name, job.args_json, _LATER if due > now else _DUE,
                job.priority, job.max_attempts, due, job.timeout, job.unique_key,
                job.unique_for, job.tenant, job.meta_json, job.limit_key, job.limit_max,
                job.rate_key, job.rate_max, job.rate_per, expires, now,
            )
        )
    return out
