"""The Postgres store's monitor verbs (see :class:`conveyor.store.contract.monitor.MonitorVerbs`).

Each verb runs one plan of :mod:`conveyor.store.postgres.monitor_plans` through the store's
``run``, which turns driver errors into :class:`~conveyor.errors.StoreError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from conveyor.store.postgres.monitor_plans import MonitorPlans, monitor_plans
from conveyor.store.watch_types import (
    CheckinRow,
    IncidentRow,
    OverdueRun,
    WindowCounts,
)

if TYPE_CHECKING:
    from conveyor.store.postgres.plans import Plan
    from conveyor.store.protocol import Retention

T = TypeVar("T")


class PostgresMonitorVerbs:
    """Mixed into the Postgres store: check-ins, incidents, leases and counts."""

    if TYPE_CHECKING:  # provided by PostgresStore
        schema: str

        def run(self, plan: Plan[T], where: str) -> T: ...

    @property
    def _monitor(self) -> MonitorPlans:
        return monitor_plans(self.schema)

    # -- check-ins ----------------------------------------------------------------------------

    def upsert_checkin(self, row: CheckinRow) -> None:
        """See :meth:`MonitorVerbs.upsert_checkin`; a new check-in's ``created_at`` is now."""
        self.run(self._monitor.upsert_checkin(row), "saving a check-in")

    def record_checkin(self, name: str, *, now: float | None = None) -> float | None:
        """See :meth:`MonitorVerbs.record_checkin`."""
        return self.run(self._monitor.record_checkin(name, now), "recording a check-in ping")

    def list_checkins(self) -> list[CheckinRow]:
        """See :meth:`MonitorVerbs.list_checkins`."""
        return self.run(self._monitor.list_checkins(), "listing check-ins")

    def remove_checkin(self, name: str) -> bool:
        """See :meth:`MonitorVerbs.remove_checkin`."""
        return self.run(self._monitor.remove_checkin(name), "removing a check-in")

    def checkin_pings(self, name: str, since: float) -> list[float]:
        """See :meth:`MonitorVerbs.checkin_pings`."""
        return self.run(self._monitor.checkin_pings(name, since), "reading check-in pings")

    # -- incidents ----------------------------------------------------------------------------

    def open_incident(
        self, rule: str, subject: str, summary: str, details_json: str
    ) -> IncidentRow | None:
        """See :meth:`MonitorVerbs.open_incident`."""
        return self.run(
            self._monitor.open_incident(rule, subject, summary, details_json),
            "opening an incident",
        )

    def update_incident(self, incident_id: int, summary: str, details_json: str) -> None:
        """See :meth:`MonitorVerbs.update_incident`; a resolved incident is left as it is."""
        self.run(
            self._monitor.update_incident(incident_id, summary, details_json),
            "updating an incident",
        )

    def resolve_incident(self, incident_id: int) -> IncidentRow | None:
        """See :meth:`MonitorVerbs.resolve_incident`."""
        return self.run(self._monitor.resolve_incident(incident_id), "resolving an incident")

    def mark_notified(self, incident_id: int) -> None:
        """See :meth:`MonitorVerbs.mark_notified`."""
        self.run(self._monitor.mark_notified(incident_id), "marking an incident notified")

    def firing_incidents(self) -> list[IncidentRow]:
        """See :meth:`MonitorVerbs.firing_incidents`."""
        return self.run(self._monitor.firing_incidents(), "listing firing incidents")

    def list_incidents(self, include_resolved: bool = False, limit: int = 100) -> list[IncidentRow]:
        """See :meth:`MonitorVerbs.list_incidents`."""
        return self.run(
            self._monitor.list_incidents(include_resolved, limit), "listing incidents"
        )

    # -- leases -------------------------------------------------------------------------------

    def acquire_lease(
        self, name: str, holder: str, seconds: float, *, now: float | None = None
    ) -> bool:
        """See :meth:`MonitorVerbs.acquire_lease`."""
        return self.run(
            self._monitor.acquire_lease(name, holder, seconds, now), "taking a lease"
        )

    def release_lease(self, name: str, holder: str) -> None:
        """See :meth:`MonitorVerbs.release_lease`."""
        self.run(self._monitor.release_lease(name, holder), "releasing a lease")

    # -- counts and pruning --------------------------------------------------------------------

    def window_counts(self, since: float) -> list[WindowCounts]:
        """See :meth:`MonitorVerbs.window_counts`; queues by name, only those with a count."""
        return self.run(self._monitor.window_counts(since), "counting finished work")

    def overdue_runs(self, limit: int = 1000, *, now: float | None = None) -> list[OverdueRun]:
        """See :meth:`MonitorVerbs.overdue_runs`."""
        return self.run(self._monitor.overdue_runs(limit, now), "reading overdue runs")

    def prune_watch(
        self, retention: Retention, limit: int = 10_000, *, now: float | None = None
    ) -> int:
        """See :meth:`MonitorVerbs.prune_watch`: at most ``limit`` rows per table.

        Delivered or given-up alert deliveries older than the retention go too, and each
        check-in keeps its newest ping however old.
        """
        return self.run(self._monitor.prune_watch(retention, limit, now), "pruning monitor records")
