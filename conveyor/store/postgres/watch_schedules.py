"""The Postgres store's schedules verbs (see :mod:`conveyor.store.contract.schedules`).

Each verb runs one plan of :mod:`conveyor.store.postgres.schedule_plans` in one transaction.
Two schedulers firing the same slot race on the ledger's primary key: the second insert waits
for the first transaction and then does nothing, so only the first inserts the slot's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from conveyor.store.postgres.schedule_plans import SchedulePlans
from conveyor.store.watch_types import (
    LedgerEntry,
    ScheduleRow,
    SlotFire,
    SlotWritten,
    Verdict,
)

if TYPE_CHECKING:
    from conveyor.store.postgres.plans import Plan, Plans

T = TypeVar("T")


class PostgresScheduleVerbs:
    """Mixed into the Postgres store."""

    if TYPE_CHECKING:  # provided by PostgresStore
        plans: Plans

        def run(self, plan: Plan[T], where: str) -> T: ...

    @cached_property
    def _schedule_plans(self) -> SchedulePlans:
        return SchedulePlans(self.plans)

    def put_schedules(self, rows: Sequence[ScheduleRow]) -> list[bool]:
        """See :meth:`ScheduleVerbs.put_schedules`."""
        if not rows:
            return []
        return self.run(self._schedule_plans.put_schedules(rows), "saving schedules")

    def remove_schedule(self, name: str) -> bool:
        """See :meth:`ScheduleVerbs.remove_schedule`."""
        return self.run(self._schedule_plans.remove_schedule(name), "removing a schedule")

    def list_schedules(self, names: Sequence[str] | None = None) -> list[ScheduleRow]:
        """See :meth:`ScheduleVerbs.list_schedules`."""
        return self.run(self._schedule_plans.list_schedules(names), "listing schedules")

    def set_schedule_paused(self, name: str, paused: bool, by: str | None) -> bool:
        """See :meth:`ScheduleVerbs.set_schedule_paused`."""
        what = "pausing a schedule" if paused else "resuming a schedule"
        return self.run(self._schedule_plans.set_schedule_paused(name, paused, by), what)

    def fire_slots(
        self, schedule: str, fires: Sequence[SlotFire], *, now: float | None = None
    ) -> list[SlotWritten]:
        """See :meth:`ScheduleVerbs.fire_slots`."""
        return self.run(
            self._schedule_plans.fire_slots(schedule, fires, now), f"firing schedule {schedule!r}"
        )

    def fire_schedules(
        self, batches: Sequence[tuple[str, Sequence[SlotFire]]], *, now: float | None = None
    ) -> list[list[SlotWritten]]:
        """See :meth:`ScheduleVerbs.fire_schedules`."""
        if not any(fires for _, fires in batches):
            return [[] for _ in batches]
        return self.run(
            self._schedule_plans.fire_schedules(batches, now), "firing a round of schedules"
        )

    def busy_schedules(self, schedules: Sequence[str]) -> frozenset[str]:
        """See :meth:`ScheduleVerbs.busy_schedules` (one statement)."""
        if not schedules:
            return frozenset()
        return self.run(
            self._schedule_plans.busy_schedules(schedules), "reading the schedules' jobs"
        )

    def active_schedule_jobs(self, schedule: str) -> list[int]:
        """See :meth:`ScheduleVerbs.active_schedule_jobs`."""
        return self.run(
            self._schedule_plans.active_schedule_jobs(schedule), "reading a schedule's jobs"
        )

    def schedule_ledger(
        self, schedule: str, limit: int = 50, before: float | None = None
    ) -> list[LedgerEntry]:
        """See :meth:`ScheduleVerbs.schedule_ledger`."""
        return self.run(
            self._schedule_plans.schedule_ledger(schedule, limit, before),
            "reading a schedule's ledger",
        )

    def slots_to_judge(
        self, limit: int = 500, *, now: float | None = None
    ) -> list[LedgerEntry]:
        """See :meth:`ScheduleVerbs.slots_to_judge`."""
        return self.run(self._schedule_plans.slots_to_judge(limit, now), "reading slots to judge")

    def set_verdicts(
        self,
        verdicts: Sequence[tuple[str, float, Verdict, str | None]],
        *,
        now: float | None = None,
    ) -> None:
        """See :meth:`ScheduleVerbs.set_verdicts`."""
        self.run(self._schedule_plans.set_verdicts(verdicts, now), "recording verdicts")
