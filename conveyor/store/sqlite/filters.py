"""Turning a :class:`JobFilter` into a SQLite WHERE clause with bound parameters."""

from __future__ import annotations

import json
from typing import Any

from conveyor.store.protocol import JobFilter


def where(flt: JobFilter, now: float, *, paginate: bool = True) -> tuple[str, dict[str, Any]]:
    """Return ``(clause, params)``; the clause is ``TRUE`` when nothing filters."""
    terms: list[str] = []
    params: dict[str, Any] = {}
    if len(flt.states) == 1:
        # An equality, not IN: the list index (state, id) then yields the newest first.
        terms.append("state = :f_state")
        params["f_state"] = str(flt.states[0])
    elif flt.states:
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
    if flt.tenant is not None:
        terms.append("tenant = :f_tenant")
        params["f_tenant"] = flt.tenant
    if flt.search:
        # instr() takes the text literally (LIKE would read % and _ in it); lower() folds
        # ASCII letters only, as SQLite's lower() does without the ICU extension.
        terms.append(
            "(instr(lower(args), lower(:f_search)) > 0 "
            "OR instr(lower(COALESCE(error_message, '')), lower(:f_search)) > 0)"
        )
        params["f_search"] = flt.search
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
