"""The job columns PostgreSQL reads for a :class:`~conveyor.models.Job` (filters: ../filters.py)."""

from __future__ import annotations


def epoch(column: str) -> str:
    """A timestamptz column as epoch seconds."""
    return f"extract(epoch FROM {column})::float8"


JOB_COLUMNS = ", ".join(
    [
        "id", "queue", "name", "args::text", "state", "priority", "attempt", "max_attempts",
        epoch("run_at"), epoch("created_at"), epoch("started_at"), epoch("finished_at"),
        epoch("lease_until"), "worker_id", "result::text", "progress", "progress_message",
        "error_type", "error_message", "timeout", "unique_key", "tenant", "meta::text",
        epoch("expires_at"), epoch("progress_at"),
    ]
)
"""The job columns in the order :func:`conveyor.store.rows.job_from_row` reads them."""

LIST_COLUMNS = JOB_COLUMNS.replace("args::text", "NULL::text").replace("result::text", "NULL::text")
""":data:`JOB_COLUMNS` without the payloads (``JobFilter(payloads=False)``)."""
