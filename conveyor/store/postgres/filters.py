"""Turning a :class:`JobFilter` into a PostgreSQL WHERE clause with bound parameters."""

from __future__ import annotations

from typing import Any

from conveyor.store.protocol import JobFilter


def where(flt: JobFilter, *, paginate: bool = True) -> tuple[str, dict[str, Any]]:
    """Return ``(clause, params)``; the clause is ``TRUE`` when nothing filters."""
    terms: list[str] = []
    params: dict[str, Any] = {}
    if flt.states:
        terms.append("state = ANY(%(f_states)s::text[])")
        params["f_states"] = [str(s) for s in flt.states]
    if flt.ids:
        terms.append("id = ANY(%(f_ids)s::bigint[])")
        params["f_ids"] = list(flt.ids)
    if flt.queue is not None:
        terms.append("queue = %(f_queue)s")
        params["f_queue"] = flt.queue
    if flt.name is not None:
        terms.append("name = %(f_name)s")
        params["f_name"] = flt.name
    if flt.error_type is not None:
        terms.append("error_type = %(f_error_type)s")
        params["f_error_type"] = flt.error_type
    # Age counts from when the job finished, or from its creation while it is unfinished.
    if flt.older_than is not None:
        terms.append(
            "COALESCE(finished_at, created_at) < now() - make_interval(secs => %(f_older)s)"
        )
        params["f_older"] = flt.older_than
    if flt.newer_than is not None:
        terms.append(
            "COALESCE(finished_at, created_at) >= now() - make_interval(secs => %(f_newer)s)"
        )
        params["f_newer"] = flt.newer_than
    if paginate and flt.before_id is not None:
        terms.append("id < %(f_before)s")
        params["f_before"] = flt.before_id
    return (" AND ".join(terms) if terms else "TRUE"), params


def epoch(column: str) -> str:
    """A timestamptz column as epoch seconds."""
    return f"extract(epoch FROM {column})::float8"


JOB_COLUMNS = ", ".join(
    [
        "id", "queue", "name", "args::text", "state", "priority", "attempt", "max_attempts",
        epoch("run_at"), epoch("created_at"), epoch("started_at"), epoch("finished_at"),
        epoch("lease_until"), "worker_id", "result::text", "progress", "progress_message",
        "error_type", "error_message", "timeout", "unique_key", "tenant", "meta::text",
    ]
)
"""The job columns in the order :func:`conveyor.store.rows.job_from_row` reads them."""
