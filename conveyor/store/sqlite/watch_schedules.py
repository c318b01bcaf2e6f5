"""The SQLite store's schedules verbs (see :mod:`conveyor.store.contract.schedules`).

Every write runs under SQLite's single write lock (``BEGIN IMMEDIATE``), so a slot's ledger
insert, the check that it was this call's, and its job's insert cannot interleave with another
scheduler's: the (schedule, slot) primary key turns the loser's insert into a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.store import slot_plans
from conveyor.store.contract.records import InsertedJob, NewJob
from conveyor.store.plan import Plan, Statement
from conveyor.store.run_plans import RunDialect
from conveyor.store.schedule_rows import (
    latest_per_name,
    ledger_from_row,
    schedule_from_row,
)
from conveyor.store.slot_plans import LinkKind, SlotKey
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
        """See :meth:`ScheduleVerbs.fire_slots`; the plan is :func:`.slot_plans.fire_slots`."""
        if not fires:
            return []
        with self.db.write() as conn:
            now = self.now() if now is None else now  # the store's, under the write lock
            return drive(conn, slot_plans.fire_slots(SLOTS, schedule, fires, now))

    def fire_schedules(
        self, batches: Sequence[tuple[str, Sequence[SlotFire]]], *, now: float | None = None
    ) -> list[list[SlotWritten]]:
        """See :meth:`ScheduleVerbs.fire_schedules`; the plan is :func:`.slot_plans.fire_many`."""
        if not any(fires for _, fires in batches):
            return [[] for _ in batches]
        with self.db.write() as conn:
            now = self.now() if now is None else now  # the store's, under the write lock
            return drive(conn, slot_plans.fire_many(SLOTS, batches, now))

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

    def slots_to_judge(self, limit: int = 500, *, now: float | None = None) -> list[LedgerEntry]:
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


class SQLiteSlotDialect:
    """:func:`.slot_plans.fire_slots`'s statements on SQLite (see ``SlotDialect``)."""

    @property
    def runs(self) -> RunDialect:
        """SQLite's run dialect."""
        return DIALECT

    def insert_slots(
        self, fires: Sequence[tuple[str, SlotFire]], now: float | None
    ) -> Plan[list[bool]]:
        """Each slot is inserted on its own so its rowcount says whether it was this call's; a
        slot is bound as a double, never passed through text, so it is stored exactly."""
        won: list[bool] = []
        for schedule, fire in fires:
            result = yield Statement(
                query("slot_insert"),
                {
                    "schedule": schedule,
                    "slot": fire.slot,
                    "status": str(fire.status),
                    "manual": fire.manual,
                    "by": fire.by,
                    "now": _clock(now),
                },
            )
            won.append(result.rowcount == 1)
        return won

    def insert_jobs(self, jobs: Sequence[NewJob], now: float | None) -> Plan[list[InsertedJob]]:
        """The store's insert plan (:func:`.job_plans.insert_jobs`)."""
        return (yield from job_plans.insert_jobs(_clock(now), jobs))

    def link(self, kind: LinkKind, ids: dict[SlotKey, int]) -> Statement:
        """``slot_link_run``/``slot_link_job``, once per slot (one prepared statement)."""
        column = "run_id" if kind == "run" else "job_id"
        return Statement(
            query(f"slot_link_{kind}"),
            many=[
                {"schedule": schedule, "slot": slot, column: i}
                for (schedule, slot), i in ids.items()
            ],
        )

    def advance(self, slots: dict[str, float]) -> Statement:
        """``schedule_advance_last_slot``, once per schedule."""
        return Statement(
            query("schedule_advance_last_slot"),
            many=[{"name": name, "slot": slot} for name, slot in slots.items()],
        )


def _clock(now: float | None) -> float:
    if now is None:  # the SQLite store reads its clock under the write lock before the plan
        raise RuntimeError("a SQLite slot plan was started without a clock")
    return now


SLOTS = SQLiteSlotDialect()


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
