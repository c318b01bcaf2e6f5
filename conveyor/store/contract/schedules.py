"""Schedules: their definitions, their ledger of slots, and firing a slot exactly once.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.store.watch_types import LedgerEntry, ScheduleRow, SlotFire, SlotWritten, Verdict


class ScheduleVerbs(Protocol):
    """Schedules, their ledger of slots, and firing a slot exactly once."""

    def sync_schedules(self, rows: Sequence[ScheduleRow]) -> None:
        """Insert or update code-declared schedules' definitions.

        A new row gets ``created_at = now``; an existing one keeps ``created_at``, ``paused``
        and ``last_slot`` and takes every definition field (and ``source = code``).

        Guarantees: one transaction; an upsert by name. Idempotent.
        """
        ...

    def add_schedule(self, row: ScheduleRow) -> bool:
        """Add a run-time schedule (``source = store``); False if the name is taken.

        Guarantees: one transaction, fenced by name (never overwrites). Safe to repeat: the second
        call returns False.
        """
        ...

    def remove_schedule(self, name: str) -> bool:
        """Delete a schedule's definition (its ledger stays); False if there was none.

        Guarantees: one transaction. Idempotent: the second call returns False.
        """
        ...

    def list_schedules(self) -> list[ScheduleRow]:
        """Every schedule, by name.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def get_schedule(self, name: str) -> ScheduleRow | None:
        """One schedule, or None.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def set_schedule_paused(self, name: str, paused: bool, by: str | None) -> bool:
        """Pause or resume a schedule; False if there is no such schedule.

        Guarantees: one transaction. Idempotent (the pause state is set, not toggled).
        """
        ...

    def fire_slots(self, schedule: str, fires: Sequence[SlotFire]) -> list[SlotWritten]:
        """Write ledger rows, and each one's job, in one transaction; in input order.

        A (schedule, slot) row that exists already is left alone and its job is not inserted
        (``written=False``): this is what makes a slot fire once across any number of
        schedulers. Non-manual slots advance the schedule's ``last_slot``.

        Guarantees: one transaction. Fenced by the (schedule, slot) key. Idempotent: a repeat, or a
        concurrent scheduler, writes nothing.
        """
        ...

    def active_schedule_jobs(self, schedule: str) -> list[int]:
        """Ids of the schedule's jobs that are not final (scheduled, queued, running,
        retrying), oldest first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def schedule_ledger(
        self, schedule: str, limit: int = 50, before: float | None = None
    ) -> list[LedgerEntry]:
        """The schedule's newest slots (slot descending), with their jobs' fields.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def slots_to_judge(self, limit: int = 500, *, now: float | None = None) -> list[LedgerEntry]:
        """Slots without a verdict that can be judged now, oldest first: missed or skipped ones,
        ones whose job is final or gone, and ones whose grace ran out (now >= slot + grace of
        their schedule). Slots of removed schedules are not returned. ``now``: the caller's
        clock, defaulting to the store's.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def set_verdicts(
        self,
        verdicts: Sequence[tuple[str, float, Verdict, str | None]],
        *,
        now: float | None = None,
    ) -> None:
        """Record (schedule, slot, verdict, detail) judgements with ``judged_at = now`` (the
        caller's clock, defaulting to the store's).

        Guarantees: one transaction. A repeat writes the same verdicts again (last write wins,
        ``judged_at`` moves).
        """
        ...
