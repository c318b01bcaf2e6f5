"""The monitor: check-ins, incidents, named leases, and counts over a window.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.store.contract.records import Retention
from conveyor.store.watch_types import CheckinRow, IncidentRow, WindowCounts


class MonitorVerbs(Protocol):
    """Check-ins, incidents, the monitor's lease and its counts (its notifications are
    rows of the outbox: :class:`~conveyor.store.contract.outbox.OutboxVerbs`)."""

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
