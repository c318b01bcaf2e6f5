"""Turning the monitor tables' rows into records, for both stores.

Both dialects select the same columns in the same order (times as epoch seconds), so one
mapping serves SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.store.watch_types import (
    CheckinRow,
    IncidentRow,
    IncidentState,
    OverdueRun,
)


def checkin_from_row(row: Sequence[Any]) -> CheckinRow:
    """(name, timing, tz, grace, created_at, last_ping_at, paused) -> :class:`CheckinRow`."""
    return CheckinRow(
        name=row[0],
        timing=row[1],
        tz=row[2],
        grace=float(row[3]),
        created_at=float(row[4]),
        last_ping_at=_time(row[5]),
        paused=bool(row[6]),
    )


def incident_from_row(row: Sequence[Any]) -> IncidentRow:
    """(id, rule, subject, state, summary, details_json, opened_at, updated_at, resolved_at,
    last_notified_at, notify_count) -> :class:`IncidentRow`."""
    return IncidentRow(
        id=int(row[0]),
        rule=row[1],
        subject=row[2],
        state=IncidentState(row[3]),
        summary=row[4],
        details_json=row[5],
        opened_at=float(row[6]),
        updated_at=float(row[7]),
        resolved_at=_time(row[8]),
        last_notified_at=_time(row[9]),
        notify_count=int(row[10]),
    )


def _time(value: Any) -> float | None:
    return None if value is None else float(value)


def overdue_from_row(row: Sequence[Any]) -> OverdueRun:
    """(id, pipeline, created_at, deadline_at, stall_after, last_progress_at, resumes, tenant)
    -> :class:`OverdueRun`."""
    return OverdueRun(
        id=int(row[0]),
        pipeline=row[1],
        created_at=float(row[2]),
        deadline_at=None if row[3] is None else float(row[3]),
        stall_after=None if row[4] is None else float(row[4]),
        last_progress_at=float(row[5]),
        resumes=int(row[6]),
        tenant=row[7],
    )
