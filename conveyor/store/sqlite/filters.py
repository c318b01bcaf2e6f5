"""Turning a :class:`JobFilter` into a SQLite WHERE clause with bound parameters."""

from __future__ import annotations

import json
from typing import Any

from conveyor.store.protocol import JobFilter


def where(flt: JobFilter, now: float, *, paginate: bool = True) -> tuple[str, dict[str, Any]]:
    """Return ``(clause, params)``; the clause is ``TRUE`` when nothing filters."""
    terms: list[str] = []
    params: dict[str, Any] = {}
    if flt.states:
        terms.append("state IN (SELECT value FROM json_each(:f_states))")
        params["f_states"] = json.dumps([str(s) for s in flt.states])
    if flt.ids:
        terms.append("id IN (SELECT value FROM json_each(:f_ids))")
        params["f_ids"] = json.dumps(list(flt.ids))
    if flt.queue is not None:
        terms.append("queue = :f_queue")
        params["f_queue"] = flt.queue
    if flt.name is not None:
        terms.append("name = :f_name")
        params["f_name"] = flt.name
    if flt.error_type is not None:
        terms.append("error_type = :f_error_type")
        params["f_error_type"] = flt.error_type
    # Age counts from when the job finished, or from its creation while it is unfinished.
    if flt.older_than is not None:
        terms.append("COALESCE(finished_at, created_at) < :f_older")
        params["f_older"] = now - flt.older_than
    if flt.newer_than is not None:
        terms.append("COALESCE(finished_at, created_at) >= :f_newer")
        params["f_newer"] = now - flt.newer_than
    if paginate and flt.before_id is not None:
        terms.append("id < :f_before")
        params["f_before"] = flt.before_id
    return (" AND ".join(terms) if terms else "TRUE"), params
