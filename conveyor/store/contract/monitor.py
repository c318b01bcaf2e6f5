"""The monitor: check-ins, incidents, named leases, and counts over a window.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.store.contract.records import Retention
from conveyor.store.watch_types import CheckinRow, IncidentRow, OverdueRun, WindowCounts


class MonitorVerbs(Protocol):
    """Check-ins, incidents, the monitor's lease and its counts (its notifications are
    rows of the outbox: :class:`~conveyor.store.contract.outbox.OutboxVerbs`)."""

    def upsert_checkin(self, row: CheckinRow) -> None:
        """Create or update a check-in's definition (keeps created_at and last_ping_at).

        Guarantees: one transaction (an upsert by name). Idempotent.
        """
        ...

    def record_checkin(self, name: str, *, now: float | None = None) -> float | None:
        """Record a ping now; the ping's time, or None when no such check-in exists.

        ``now``: the caller's clock, defaulting to the store's.

        Guarantees: one transaction. Not idempotent: each call records one more ping.
        """
        ...

    def list_checkins(self) -> list[CheckinRow]:
        """Every check-in, by name.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def remove_checkin(self, name: str) -> bool:
        """Delete a check-in and its pings; False if there was none.

        Guarantees: one transaction. Idempotent: the second call returns False.
        """
        ...

    def checkin_pings(self, name: str, since: float) -> list[float]:
        """The check-in's ping times after ``since``, ascending.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def open_incident(
        self, rule: str, subject: str, summary: str, details_json: str
    ) -> IncidentRow | None:
        """Open an incident; None when one is already firing for (rule, subject).

        Guarantees: one transaction, fenced by a unique index: at most one firing incident per
        (rule, subject), so of concurrent openers one gets the row and the others None. Idempotent
        in effect.
        """
        ...

    def update_incident(self, incident_id: int, summary: str, details_json: str) -> None:
        """Refresh a firing incident's summary and details.

        Guarantees: one transaction, fenced by state: a resolved incident is left as it is.
        Idempotent.
        """
        ...

    def resolve_incident(self, incident_id: int) -> IncidentRow | None:
        """Mark it resolved now; the updated row, or None if it was not firing.

        Guarantees: one transaction, fenced by state (firing). Safe to repeat: the second call
        returns None.
        """
        ...

    def mark_notified(self, incident_id: int) -> None:
        """``last_notified_at = now`` and one more ``notify_count``.

        Guarantees: one transaction. Not idempotent: each call counts one more notification.
        """
        ...

    def firing_incidents(self) -> list[IncidentRow]:
        """Incidents firing now, oldest first.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def list_incidents(self, include_resolved: bool = False, limit: int = 100) -> list[IncidentRow]:
        """Incidents newest first; resolved ones too when asked.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def acquire_lease(
        self, name: str, holder: str, seconds: float, *, now: float | None = None
    ) -> bool:
        """Take or extend the named lease for ``seconds``; False while someone else holds it.

        ``now``: the caller's clock, defaulting to the store's; the lease ends ``seconds``
        after it, and a lease that ended at or before it changes hands.

        Guarantees: one transaction, fenced by holder and the lease's end: two holders never hold it
        at once. Idempotent for the holder (it extends).
        """
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up if ``holder`` holds it.

        Guarantees: one transaction, fenced by holder: someone else's lease is left alone.
        Idempotent.
        """
        ...

    def window_counts(self, since: float) -> list[WindowCounts]:
        """Per queue: jobs succeeded, attempts failed and jobs dead since ``since``.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def overdue_runs(self, limit: int = 1000, *, now: float | None = None) -> list[OverdueRun]:
        """Running pipeline runs past their deadline, and running runs in which no stage has
        finished for their ``stall_after`` seconds, at ``now`` (the caller's clock, defaulting
        to the store's); by id, at most ``limit`` of each kind.

        Guarantees: reads only: writes nothing, so it is safe to repeat. Cheap: both halves read
        partial indexes of running runs, so finished runs cost nothing.
        """
        ...

    def prune_watch(
        self, retention: Retention, limit: int = 10_000, *, now: float | None = None
    ) -> int:
        """Delete judged ledger rows, resolved incidents (with their alert deliveries), delivered
        or given-up alert deliveries, and pings older than ``retention.watch`` at ``now`` (the
        caller's clock, defaulting to the store's); return how many rows went.

        Guarantees: may run as several transactions, one per table; idempotent.
        """
        ...
