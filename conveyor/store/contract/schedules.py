"""Schedules: their definitions, their ledger of slots, and firing a slot exactly once.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.store.watch_types import LedgerEntry, ScheduleRow, SlotFire, SlotWritten, Verdict


class ScheduleVerbs(Protocol):
    """Schedules, their ledger of slots, and firing a slot exactly once."""

    def put_schedules(self, rows: Sequence[ScheduleRow]) -> list[bool]:
        """Write schedule definitions, each as its ``source`` says; per row, in input order,
        whether its definition is now the stored one.

        - ``source = code`` (the app's declarations, synced by every scheduler at start):
          insert or update by name. A new schedule gets ``created_at = now``; an existing one
          keeps ``created_at``, ``paused`` and ``last_slot`` and takes every definition field
          (and ``source = code``, even over a run-time schedule of that name). A row whose
          definition did not change is not written. Always True; of several rows of one
          name, the last wins.
        - ``source = store`` (``conveyor schedules add``): insert unless the name is taken;
          False for a taken name, whose schedule is left as it is.

        Guarantees: one transaction. Code rows are an upsert by name (idempotent; rows are
        written in name order, so concurrent syncs do not deadlock); store rows are fenced by
        name (never overwrite): a repeat, or a concurrent adder, gets False.
        """
        ...

    def remove_schedule(self, name: str) -> bool:
        """Delete a schedule's definition (its ledger stays); False if there was none.

        Guarantees: one transaction. Idempotent: the second call returns False.
        """
        ...

    def list_schedules(self, names: Sequence[str] | None = None) -> list[ScheduleRow]:
        """Every schedule (or those of ``names``; unknown names are skipped), by name in byte
        order.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def get_schedule(self, name: str) -> ScheduleRow | None:
        """One schedule, or None. Derived: written once over :meth:`list_schedules`
        (:class:`~conveyor.store.contract.defaults.DerivedVerbs`).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def set_schedule_paused(self, name: str, paused: bool, by: str | None) -> bool:
        """Pause or resume a schedule; False if there is no such schedule.

        Guarantees: one transaction. Idempotent (the pause state is set, not toggled).
        """
        ...

    def fire_slots(
        self, schedule: str, fires: Sequence[SlotFire], *, now: float | None = None
    ) -> list[SlotWritten]:
        """Write ledger rows, and each one's job, in one transaction; in input order.

        Ledger rows are fired at ``now``, and the jobs are inserted at ``now`` (the caller's
        clock, defaulting to the store's), as :meth:`~conveyor.store.contract.jobs.JobVerbs.
        insert_jobs` would.

        A (schedule, slot) row that exists already is left alone and its job is not inserted
        (``written=False``): this is what makes a slot fire once across any number of
        schedulers. Non-manual slots advance the schedule's ``last_slot``.

        Guarantees: one transaction. Fenced by the (schedule, slot) key. Idempotent: a repeat, or a
        concurrent scheduler, writes nothing.
        """
        ...

    def fire_schedules(
        self, batches: Sequence[tuple[str, Sequence[SlotFire]]], *, now: float | None = None
    ) -> list[list[SlotWritten]]:
        """:meth:`fire_slots` for several schedules at once: per batch (schedule, fires), in
        input order, what :meth:`fire_slots` would answer for it.

        A scheduler round fires every due schedule with one call, so its cost does not grow
        with the number of schedules (one transaction, a fixed number of statements).

        Guarantees: one transaction for all of them (one failure writes nothing). Fenced and
        idempotent as :meth:`fire_slots`.
        """
        ...

    def busy_schedules(self, schedules: Sequence[str]) -> frozenset[str]:
        """Those of ``schedules`` that have a job :meth:`active_schedule_jobs` would list (the
        overlap check of a whole scheduler round, in one read).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
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
