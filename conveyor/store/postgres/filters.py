"""Turning a :class:`JobFilter` into a PostgreSQL WHERE clause with bound parameters."""

from __future__ import annotations

from typing import Any

from conveyor.store.protocol import JobFilter


def where(flt: JobFilter, *, paginate: bool = True) -> tuple[str, dict[str, Any]]:
    """Return ``(clause, params)``; the clause is ``TRUE`` when nothing filters."""
    terms: list[str] = []
    params: dict[str, Any] = {}
    if len(flt.states) == 1:
        # An equality, not ANY: only then does the list index (state, id) yield newest first.
        terms.append("state = %(f_state)s")
        params["f_state"] = str(flt.states[0])
    elif flt.states:
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
    if flt.tenant is not None:
        terms.append("tenant = %(f_tenant)s")
        params["f_tenant"] = flt.tenant
    if flt.search:
        terms.append("(args::text ILIKE %(f_search)s OR error_message ILIKE %(f_search)s)")
        params["f_search"] = f"%{like_literal(flt.search)}%"
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


def like_literal(text: str) -> str:
    """``text`` escaped for LIKE/ILIKE (default escape ``\\``), so % and _ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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

LIST_COLUMNS = JOB_COLUMNS.replace("args::text", "NULL::text").replace("result::text", "NULL::text")
""":data:`JOB_COLUMNS` without the payloads (``JobFilter(payloads=False)``)."""
