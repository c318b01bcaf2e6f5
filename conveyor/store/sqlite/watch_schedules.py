"""The SQLite store's schedules verbs (see :mod:`conveyor.store.contract.schedules`).

Every write runs under SQLite's single write lock (``BEGIN IMMEDIATE``), so a slot's ledger
insert, the check that it was this call's, and its job's insert cannot interleave with another
scheduler's: the (schedule, slot) primary key turns the loser's insert into a no-op.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.store import run_plans
from conveyor.store.schedule_rows import (
    latest_per_name,
    ledger_from_row,
    schedule_from_row,
)
from conveyor.store.sqlite import job_plans
from conveyor.store.sqlite.connection import query
from conveyor.store.sqlite.driver import drive
from conveyor.store.sqlite.run_verbs import DIALECT
from conveyor.store.watch_types import (
    LedgerEntry,
    ScheduleRow,
    ScheduleSource,
    SlotFire,
    SlotWritten,
    Verdict,
)

if TYPE_CHECKING:
    from conveyor.store.sqlite.connection import Database


class SQLiteScheduleVerbs:
    """Mixed into the SQLite store."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: Database

        def now(self) -> float: ...

    def put_schedules(self, rows: Sequence[ScheduleRow]) -> list[bool]:
        """See :meth:`ScheduleVerbs.put_schedules`."""
        if not rows:
            return []
        code = [row for row in rows if row.source == ScheduleSource.CODE]
        with self.db.write() as conn:
            now = self.now()
            conn.executemany(
                query("schedule_sync"), [_definition(row, now) for row in latest_per_name(code)]
            )
            return [
                row.source == ScheduleSource.CODE
                or conn.execute(query("schedule_add"), _definition(row, now)).rowcount == 1
                for row in rows
            ]

    def remove_schedule(self, name: str) -> bool:
        """See :meth:`ScheduleVerbs.remove_schedule`."""
        with self.db.write() as conn:
            cur = conn.execute(query("schedule_remove"), {"name": name})
        return cur.rowcount == 1

    def list_schedules(self, names: Sequence[str] | None = None) -> list[ScheduleRow]:
        """See :meth:`ScheduleVerbs.list_schedules`."""
        wanted = None if names is None else json.dumps(list(names))
        with self.db.read() as conn:
            found = conn.execute(query("schedule_list"), {"names": wanted}).fetchall()
        return [schedule_from_row(r) for r in found]

    def set_schedule_paused(self, name: str, paused: bool, by: str | None) -> bool:
        """See :meth:`ScheduleVerbs.set_schedule_paused`."""
        with self.db.write() as conn:
            cur = conn.execute(
                query("schedule_set_paused"),
                {"name": name, "paused": paused, "by": by, "now": self.now()},
            )
        return cur.rowcount == 1

    def fire_slots(
        self, schedule: str, fires: Sequence[SlotFire], *, now: float | None = None
    ) -> list[SlotWritten]:
        """See :meth:`ScheduleVerbs.fire_slots`.

        Each slot is inserted on its own so its rowcount says whether it was this call's; a
        slot is bound as a double, never passed through text, so it is stored exactly.
        """
        if not fires:
            return []
        with self.db.write() as conn:
            now = self.now() if now is None else now  # the store's, under the write lock
            won = [
                conn.execute(
                    query("slot_insert"),
                    {
                        "schedule": schedule,
                        "slot": fire.slot,
                        "status": str(fire.status),
                        "manual": fire.manual,
                        "by": fire.by,
                        "now": now,
                    },
                ).rowcount
                == 1
                for fire in fires
            ]
            run_of = self._start_runs(conn, schedule, fires, won, now)
            to_enqueue = [f for f, mine in zip(fires, won, strict=True) if mine and f.job]
            jobs = [f.job for f in to_enqueue if f.job is not None]
            inserted = drive(conn, job_plans.insert_jobs(now, jobs)) if jobs else []
            job_of = {f.slot: job.id for f, job in zip(to_enqueue, inserted, strict=True)}
            conn.executemany(
                query("slot_link_job"),
                [
                    {"schedule": schedule, "slot": slot, "job_id": job_id}
                    for slot, job_id in job_of.items()
                ],
            )
            scheduled = [f.slot for f in fires if not f.manual]
            if scheduled:
                conn.execute(
                    query("schedule_advance_last_slot"),
                    {"name": schedule, "slot": max(scheduled)},
                )
        return [
            SlotWritten(
                slot=f.slot,
                written=mine,
                job_id=job_of.get(f.slot) if mine else None,
                run_id=run_of.get(f.slot) if mine else None,
            )
            for f, mine in zip(fires, won, strict=True)
        ]

    @staticmethod
    def _start_runs(
        conn: sqlite3.Connection,
        schedule: str,
        fires: Sequence[SlotFire],
        won: Sequence[bool],
        now: float,
    ) -> dict[float, int]:
        """A schedule of a pipeline: each won slot starts its run in this transaction."""
        starting = [f for f, mine in zip(fires, won, strict=True) if mine and f.run is not None]
        if not starting:
            return {}
        run_of: dict[float, int] = {}
        for fire in starting:
            assert fire.run is not None
            run_of[fire.slot] = drive(conn, run_plans.start_run(DIALECT, fire.run, now))
        conn.executemany(
            query("slot_link_run"),
            [
                {"schedule": schedule, "slot": slot, "run_id": run_id}
                for slot, run_id in run_of.items()
            ],
        )
        return run_of

    def active_schedule_jobs(self, schedule: str) -> list[int]:
        """See :meth:`ScheduleVerbs.active_schedule_jobs`."""
        with self.db.read() as conn:
            found = conn.execute(query("slot_active_jobs"), {"schedule": schedule}).fetchall()
        return [r[0] for r in found]

    def schedule_ledger(
        self, schedule: str, limit: int = 50, before: float | None = None
    ) -> list[LedgerEntry]:
        """See :meth:`ScheduleVerbs.schedule_ledger`."""
        with self.db.read() as conn:
            found = conn.execute(
                query("slot_ledger"), {"schedule": schedule, "before": before, "limit": limit}
            ).fetchall()
        return [ledger_from_row(r) for r in found]

    def slots_to_judge(
        self, limit: int = 500, *, now: float | None = None
    ) -> list[LedgerEntry]:
        """See :meth:`ScheduleVerbs.slots_to_judge`."""
        with self.db.read() as conn:
            found = conn.execute(
                query("slot_to_judge"),
                {"now": self.now() if now is None else now, "limit": limit},
            ).fetchall()
        return [ledger_from_row(r) for r in found]

    def set_verdicts(
        self,
        verdicts: Sequence[tuple[str, float, Verdict, str | None]],
        *,
        now: float | None = None,
    ) -> None:
        """See :meth:`ScheduleVerbs.set_verdicts`."""
        if not verdicts:
            return
        with self.db.write() as conn:
            at = self.now() if now is None else now  # the caller's clock, else under the lock
            conn.executemany(
                query("slot_set_verdict"),
                [
                    {
                        "schedule": schedule,
                        "slot": slot,
                        "verdict": str(verdict),
                        "detail": detail,
                        "now": at,
                    }
                    for schedule, slot, verdict, detail in verdicts
                ],
            )


def _definition(row: ScheduleRow, now: float) -> dict[str, Any]:
    """The parameters of ``schedule_sync`` (code rows) and ``schedule_add`` (store rows)."""
    return {
        "name": row.name,
        "job_name": row.job_name,
        "timing": row.timing,
        "tz": row.tz,
        "args_json": row.args_json,
        "queue": row.queue,
        "priority": row.priority,
        "grace": float(row.grace),
        "catch_up": row.catch_up,
        "catch_up_cap": row.catch_up_cap,
        "overlap": row.overlap,
        "paused": row.paused,
        "paused_by": row.paused_by,
        "now": now,
        "last_slot": row.last_slot,
    }
