"""The schedules verbs as plans (see :mod:`conveyor.store.postgres.plans` for what a plan is).

Times are the server's clock (``now()``); a slot is an identity, sent and stored as a double
and compared exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor.store import slot_plans
from conveyor.store.contract.records import InsertedJob, NewJob
from conveyor.store.postgres.plans import Plan, Plans, Statement, register_single
from conveyor.store.postgres.plans_base import at
from conveyor.store.postgres.run_verbs import dialect
from conveyor.store.run_plans import RunDialect
from conveyor.store.schedule_rows import latest_per_name, ledger_from_row, schedule_from_row
from conveyor.store.slot_plans import LinkKind, SlotKey
from conveyor.store.watch_types import (
    LedgerEntry,
    ScheduleRow,
    ScheduleSource,
    SlotFire,
    SlotWritten,
    Verdict,
)

SCHEDULE_SINGLE = frozenset(
    {
        "remove_schedule", "list_schedules", "set_schedule_paused", "active_schedule_jobs",
        "busy_schedules",
        "schedule_ledger", "slots_to_judge", "set_verdicts",
    }
)  # fmt: skip
"""The plans below that are one statement: autocommit (``put_schedules`` and ``fire_slots``
run in a transaction)."""
register_single(SCHEDULE_SINGLE)


class SchedulePlans:
    """The schedules verbs, bound to a schema; job inserts go through the store's :class:`Plans`."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans

    def q(self, name: str) -> str:
        """A query of this dialect, qualified with the schema."""
        return self.plans.q(name)

    def put_schedules(self, rows: Sequence[ScheduleRow]) -> Plan[list[bool]]:
        """Upsert the code rows in one statement (see ``schedule_sync.sql``), then add each
        store row unless its name is taken."""
        code = [row for row in rows if row.source == ScheduleSource.CODE]
        if code:
            batch = [_definition(row) for row in latest_per_name(code)]
            yield Statement(self.q("schedule_sync"), {"rows": json.dumps(batch)})
        written: list[bool] = []
        for row in rows:
            if row.source == ScheduleSource.CODE:
                written.append(True)
                continue
            result = yield Statement(self.q("schedule_add"), _definition(row))
            written.append(bool(result.rows))
        return written

    def remove_schedule(self, name: str) -> Plan[bool]:
        """Delete a schedule's definition."""
        result = yield Statement(self.q("schedule_remove"), {"name": name})
        return bool(result.rows)

    def list_schedules(self, names: Sequence[str] | None = None) -> Plan[list[ScheduleRow]]:
        """Every schedule (or those of ``names``), by name."""
        wanted = None if names is None else list(names)
        result = yield Statement(self.q("schedule_list"), {"names": wanted})
        return [schedule_from_row(r) for r in result.rows]

    def set_schedule_paused(self, name: str, paused: bool, by: str | None) -> Plan[bool]:
        """Pause or resume; False when there is no such schedule."""
        result = yield Statement(
            self.q("schedule_set_paused"), {"name": name, "paused": paused, "by": by}
        )
        return bool(result.rows)

    def fire_slots(
        self, schedule: str, fires: Sequence[SlotFire], now: float | None = None
    ) -> Plan[list[SlotWritten]]:
        """The shared plan :func:`.slot_plans.fire_slots`, on PostgreSQL.

        Must run in a transaction: the ledger insert is what decides which jobs to insert,
        and both commit together. Four statements at most however many slots (more only for
        pipelines' runs and for jobs with unique keys, whose insert locks and reads their
        holders first).
        """
        return slot_plans.fire_slots(PostgresSlotDialect(self.plans), schedule, fires, now)

    def fire_schedules(
        self, batches: Sequence[tuple[str, Sequence[SlotFire]]], now: float | None = None
    ) -> Plan[list[list[SlotWritten]]]:
        """The shared plan :func:`.slot_plans.fire_many`, on PostgreSQL: the same four
        statements for any number of schedules. Must run in a transaction."""
        return slot_plans.fire_many(PostgresSlotDialect(self.plans), batches, now)

    def busy_schedules(self, schedules: Sequence[str]) -> Plan[frozenset[str]]:
        """Those of ``schedules`` with an unfinished job, in one statement."""
        result = yield Statement(self.q("busy_schedules"), {"schedules": sorted(set(schedules))})
        return frozenset(str(r[0]) for r in result.rows)

    def active_schedule_jobs(self, schedule: str) -> Plan[list[int]]:
        """Ids of the schedule's unfinished jobs, oldest first."""
        result = yield Statement(self.q("slot_active_jobs"), {"schedule": schedule})
        return [r[0] for r in result.rows]

    def schedule_ledger(
        self, schedule: str, limit: int, before: float | None
    ) -> Plan[list[LedgerEntry]]:
        """The schedule's newest slots below ``before``."""
        result = yield Statement(
            self.q("slot_ledger"),
            {
                "schedule": schedule,
                "before": None if before is None else float(before),
                "limit": limit,
            },
        )
        return [ledger_from_row(r) for r in result.rows]

    def slots_to_judge(self, limit: int, now: float | None = None) -> Plan[list[LedgerEntry]]:
        """Unjudged slots that can be judged now, oldest first."""
        result = yield at(self.q("slot_to_judge"), {"limit": limit}, now)
        return [ledger_from_row(r) for r in result.rows]

    def set_verdicts(
        self, verdicts: Sequence[tuple[str, float, Verdict, str | None]], now: float | None = None
    ) -> Plan[None]:
        """Record every judgement in one statement."""
        if not verdicts:
            return
        yield at(
            self.q("slot_set_verdicts"),
            {
                "schedules": [v[0] for v in verdicts],
                "slots": [float(v[1]) for v in verdicts],
                "verdicts": [str(v[2]) for v in verdicts],
                "details": [v[3] for v in verdicts],
            },
            now,
        )


class PostgresSlotDialect:
    """:func:`.slot_plans.fire_slots`'s statements on PostgreSQL (see ``SlotDialect``): one
    statement per step, the slots as arrays."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans

    @property
    def runs(self) -> RunDialect:
        """PostgreSQL's run dialect over the store's plans."""
        return dialect(self.plans)

    def insert_slots(
        self, fires: Sequence[tuple[str, SlotFire]], now: float | None
    ) -> Plan[list[bool]]:
        """One insert for every slot of every schedule; it returns the slots it wrote."""
        found = yield at(
            self.plans.q("slot_insert"),
            {
                "schedules": [schedule for schedule, _ in fires],
                "slots": [float(f.slot) for _, f in fires],
                "statuses": [str(f.status) for _, f in fires],
                "manuals": [f.manual for _, f in fires],
                "bys": [f.by for _, f in fires],
            },
            now,
        )
        inserted = {(str(r[0]), float(r[1])) for r in found.rows}
        won: list[bool] = []
        for schedule, fire in fires:
            # A slot given twice in one call is written once: only its first fire wins.
            key = (schedule, float(fire.slot))
            won.append(key in inserted)
            inserted.discard(key)
        return won

    def insert_jobs(self, jobs: Sequence[NewJob], now: float | None) -> Plan[list[InsertedJob]]:
        """The store's insert plan (plain or unique)."""
        return (yield from self.plans.insert_jobs(jobs, now=now))

    def link(self, kind: LinkKind, ids: dict[SlotKey, int]) -> Statement:
        """``slot_link_runs``/``slot_link_jobs``: every slot in one statement."""
        return Statement(
            self.plans.q(f"slot_link_{kind}s"),
            {
                "schedules": [schedule for schedule, _ in ids],
                "slots": [float(slot) for _, slot in ids],
                f"{kind}_ids": list(ids.values()),
            },
        )

    def advance(self, slots: dict[str, float]) -> Statement:
        """``schedule_advance_last_slot``: every schedule in one statement."""
        return Statement(
            self.plans.q("schedule_advance_last_slot"),
            {"names": list(slots), "slots": [float(s) for s in slots.values()]},
        )


def _definition(row: ScheduleRow) -> dict[str, Any]:
    """A schedule's stored fields, as parameters or as one JSON object of a batch."""
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
        "last_slot": None if row.last_slot is None else float(row.last_slot),
    }
