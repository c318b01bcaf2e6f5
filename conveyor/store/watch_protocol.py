"""The store verbs of the scheduler and the monitor (part of every :class:`Store`).

Times are epoch seconds by the store's clock (:meth:`Store.now`). Each verb is one transaction.
A verb with a ``now`` argument runs at the caller's clock when given one (see
:mod:`conveyor.store.protocol`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from conveyor.store.watch_types import (
    CheckinRow,
    IncidentRow,
    LedgerEntry,
    ScheduleRow,
    SlotFire,
    SlotWritten,
    Verdict,
    WindowCounts,
)

if TYPE_CHECKING:  # protocol.py builds Store on these verbs
    from conveyor.store.protocol import Retention


class ScheduleVerbs(Protocol):
    """Schedules, their ledger of slots, and firing a slot exactly once."""

    def sync_schedules(self, rows: Sequence[ScheduleRow]) -> None:
        """Insert or update code-declared schedules' definitions.

        A new row gets ``created_at = now``; an existing one keeps ``created_at``, ``paused``
        and ``last_slot`` and takes every definition field (and ``source = code``).
        """
        ...

    def add_schedule(self, row: ScheduleRow) -> bool:
        """Add a run-time schedule (``source = store``); False if the name is taken."""
        ...

    def remove_schedule(self, name: str) -> bool:
        """Delete a schedule's definition (its ledger stays); False if there was none."""
        ...

    def list_schedules(self) -> list[ScheduleRow]:
        """Every schedule, by name."""
        ...

    def get_schedule(self, name: str) -> ScheduleRow | None:
        """One schedule, or None."""
        ...

    def set_schedule_paused(self, name: str, paused: bool, by: str | None) -> bool:
        """Pause or resume a schedule; False if there is no such schedule."""
        ...

    def fire_slots(self, schedule: str, fires: Sequence[SlotFire]) -> list[SlotWritten]:
        """Write ledger rows, and each one's job, in one transaction; in input order.

        A (schedule, slot) row that exists already is left alone and its job is not inserted
        (``written=False``): this is what makes a slot fire once across any number of
        schedulers. Non-manual slots advance the schedule's ``last_slot``.
        """
        ...

    def active_schedule_jobs(self, schedule: str) -> list[int]:
        """Ids of the schedule's jobs that are not final (scheduled, queued, running,
        retrying), oldest first."""
        ...

    def schedule_ledger(
        self, schedule: str, limit: int = 50, before: float | None = None
    ) -> list[LedgerEntry]:
        """The schedule's newest slots (slot descending), with their jobs' fields."""
        ...

    def slots_to_judge(
        self, limit: int = 500, *, now: float | None = None
    ) -> list[LedgerEntry]:
        """Slots without a verdict that can be judged now, oldest first: missed or skipped ones,
        ones whose job is final or gone, and ones whose grace ran out (now >= slot + grace of
        their schedule). Slots of removed schedules are not returned. ``now``: the caller's
        clock, defaulting to the store's."""
        ...

    def set_verdicts(
        self,
        verdicts: Sequence[tuple[str, float, Verdict, str | None]],
        *,
        now: float | None = None,
    ) -> None:
        """Record (schedule, slot, verdict, detail) judgements with ``judged_at = now`` (the
        caller's clock, defaulting to the store's)."""
        ...


class MonitorVerbs(Protocol):
    """Check-ins, incidents, the monitor's lease and its counts (its notifications are
    rows of the outbox: :class:`~conveyor.store.outbox_protocol.OutboxVerbs`)."""

    def upsert_checkin(self, row: CheckinRow) -> None:
        """Create or update a check-in's definition (keeps created_at and last_ping_at)."""
        ...

    def record_checkin(self, name: str, *, now: float | None = None) -> float | None:
        """Record a ping now; the ping's time, or None when no such check-in exists.

        ``now``: the caller's clock, defaulting to the store's."""
        ...

    def list_checkins(self) -> list[CheckinRow]:
        """Every check-in, by name."""
        ...

    def remove_checkin(self, name: str) -> bool:
        """Delete a check-in and its pings; False if there was none."""
        ...

    def checkin_pings(self, name: str, since: float) -> list[float]:
        """The check-in's ping times after ``since``, ascending."""
        ...

    def open_incident(
        self, rule: str, subject: str, summary: str, details_json: str
    ) -> IncidentRow | None:
        """Open an incident; None when one is already firing for (rule, subject)."""
        ...

    def update_incident(self, incident_id: int, summary: str, details_json: str) -> None:
        """Refresh a firing incident's summary and details."""
        ...

    def resolve_incident(self, incident_id: int) -> IncidentRow | None:
        """Mark it resolved now; the updated row, or None if it was not firing."""
        ...

    def mark_notified(self, incident_id: int) -> None:
        """``last_notified_at = now`` and one more ``notify_count``."""
        ...

    def firing_incidents(self) -> list[IncidentRow]:
        """Incidents firing now, oldest first."""
        ...

    def list_incidents(self, include_resolved: bool = False, limit: int = 100) -> list[IncidentRow]:
        """Incidents newest first; resolved ones too when asked."""
        ...

    def acquire_lease(
        self, name: str, holder: str, seconds: float, *, now: float | None = None
    ) -> bool:
        """Take or extend the named lease for ``seconds``; False while someone else holds it.

        ``now``: the caller's clock, defaulting to the store's; the lease ends ``seconds``
        after it, and a lease that ended at or before it changes hands."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up if ``holder`` holds it."""
        ...

    def window_counts(self, since: float) -> list[WindowCounts]:
        """Per queue: jobs succeeded, attempts failed and jobs dead since ``since``."""
        ...

    def prune_watch(
        self, retention: Retention, limit: int = 10_000, *, now: float | None = None
    ) -> int:
        """Delete judged ledger rows, resolved incidents (with their alert deliveries), delivered
        or given-up alert deliveries, and pings older than ``retention.watch`` at ``now`` (the
        caller's clock, defaulting to the store's); return how many rows went."""
        ...


class WatchVerbs(ScheduleVerbs, MonitorVerbs, Protocol):
    """Everything the scheduler and the monitor ask of a store."""
