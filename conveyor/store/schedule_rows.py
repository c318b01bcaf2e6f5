"""Mapping schedule and ledger rows to their records, for both dialects.

Both dialects select the same columns in the same order (times as epoch seconds, JSON as text,
booleans as 0/1 or true/false), so one mapping serves both, as in :mod:`conveyor.store.rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.models import JobState
from conveyor.store.watch_types import (
    LedgerEntry,
    ScheduleRow,
    ScheduleSource,
    SlotStatus,
    Verdict,
)

SCHEDULE_FIELDS = (
    "name", "job_name", "timing", "tz", "args_json", "queue", "priority", "grace", "catch_up",
    "catch_up_cap", "overlap", "source", "paused", "paused_by", "created_at", "updated_at",
    "last_slot",
)  # fmt: skip
"""The columns of ``conveyor_schedules`` in the order :func:`schedule_from_row` reads them."""


def schedule_from_row(row: Sequence[Any]) -> ScheduleRow:
    """A :class:`ScheduleRow` from a row selected in :data:`SCHEDULE_FIELDS` order."""
    return ScheduleRow(
        name=row[0],
        job_name=row[1],
        timing=row[2],
        tz=row[3],
        args_json=row[4],
        queue=row[5],
        priority=row[6],
        grace=float(row[7]),
        catch_up=row[8],
        catch_up_cap=row[9],
        overlap=row[10],
        source=ScheduleSource(row[11]),
        paused=bool(row[12]),
        paused_by=row[13],
        created_at=float(row[14]),
        updated_at=float(row[15]),
        last_slot=row[16],
    )


def ledger_from_row(row: Sequence[Any]) -> LedgerEntry:
    """A :class:`LedgerEntry` from a row of the ledger left-joined to its job.

    The columns: schedule, slot, status, fired_at, manual, fired_by, job_id, the job's state,
    started_at, finished_at, result (text), error_type, error_message, then the slot's verdict,
    verdict_detail and judged_at, and the run a pipeline's slot started. The job's columns are
    NULL once the job was pruned; for a pipeline's slot they describe its run.
    """
    return LedgerEntry(
        schedule=row[0],
        slot=row[1],
        status=SlotStatus(row[2]),
        fired_at=float(row[3]),
        manual=bool(row[4]),
        by=row[5],
        job_id=row[6],
        job_state=None if row[7] is None else JobState(row[7]),
        started_at=row[8],
        finished_at=row[9],
        result_json=row[10],
        error_type=row[11],
        error_message=row[12],
        verdict=None if row[13] is None else Verdict(row[13]),
        verdict_detail=row[14],
        judged_at=row[15],
        run_id=row[16],
    )


def latest_per_name(rows: Sequence[ScheduleRow]) -> list[ScheduleRow]:
    """``rows`` with one row per name (the last one given wins), sorted by name.

    Upserting in one order everywhere keeps two workers syncing at once from locking the same
    rows in opposite orders; one row per name keeps a batch upsert from touching a row twice.
    """
    return sorted({row.name: row for row in rows}.values(), key=lambda row: row.name)
