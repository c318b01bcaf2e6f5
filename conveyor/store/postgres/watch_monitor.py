"""The Postgres store's monitor verbs (see :class:`conveyor.store.contract.monitor.MonitorVerbs`).

Each verb runs one plan of :mod:`conveyor.store.postgres.monitor_plans` through the store's
``run``, which turns driver errors into :class:`~conveyor.errors.StoreError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from conveyor.store.postgres.monitor_plans import MonitorPlans, monitor_plans
from conveyor.store.watch_types import (
    CheckinRow,
    IncidentChange,
    IncidentRow,
    OpenTransaction,
    OverdueRun,
    QueueLoad,
    WindowCounts,
)

if TYPE_CHECKING:
    from conveyor.store.postgres.plans import Plan

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

    def put_checkin(self, name: str, row: CheckinRow | None, *, now: float | None = None) -> bool:
        """See :meth:`MonitorVerbs.put_checkin`; a new check-in's ``created_at`` is ``now``."""
        what = "removing a check-in" if row is None else "saving a check-in"
        return self.run(self._monitor.put_checkin(name, row, now), what)

    def record_checkin(self, name: str, *, now: float | None = None) -> float | None:
        """See :meth:`MonitorVerbs.record_checkin`."""
        return self.run(self._monitor.record_checkin(name, now), "recording a check-in ping")

    def list_checkins(self) -> list[CheckinRow]:
        """See :meth:`MonitorVerbs.list_checkins`."""
        return self.run(self._monitor.list_checkins(), "listing check-ins")

    def checkin_pings(self, name: str, since: float) -> list[float]:
        """See :meth:`MonitorVerbs.checkin_pings`."""
        return self.run(self._monitor.checkin_pings(name, since), "reading check-in pings")

    # -- incidents ----------------------------------------------------------------------------

    def upsert_incident(
        self,
        rule: str,
        subject: str,
        *,
        firing: bool,
        summary: str = "",
        details_json: str = "{}",
        now: float | None = None,
    ) -> IncidentChange | None:
        """See :meth:`MonitorVerbs.upsert_incident`."""
        return self.run(
            self._monitor.upsert_incident(rule, subject, firing, summary, details_json, now),
            "writing an incident" if firing else "resolving an incident",
        )

    def mark_notified(self, incident_id: int, *, now: float | None = None) -> None:
        """See :meth:`MonitorVerbs.mark_notified`."""
        self.run(self._monitor.mark_notified(incident_id, now), "marking an incident notified")

    def list_incidents(
        self, include_resolved: bool = False, limit: int | None = 100
    ) -> list[IncidentRow]:
        """See :meth:`MonitorVerbs.list_incidents`."""
        return self.run(
            self._monitor.list_incidents(include_resolved, limit), "listing incidents"
        )

    # -- leases -------------------------------------------------------------------------------

    def set_lease(
        self, name: str, holder: str, seconds: float | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`MonitorVerbs.set_lease`."""
        what = "releasing a lease" if seconds is None else "taking a lease"
        return self.run(self._monitor.set_lease(name, holder, seconds, now), what)

    # -- counts and pruning --------------------------------------------------------------------

    def window_counts(self, since: float) -> list[WindowCounts]:
        """See :meth:`MonitorVerbs.window_counts`; queues by name, only those with a count."""
        return self.run(self._monitor.window_counts(since), "counting finished work")

    def queue_load(self, since: float) -> list[QueueLoad]:
        """See :meth:`MonitorVerbs.queue_load`."""
        return self.run(self._monitor.queue_load(since), "reading the queues' load")

    def put_metrics_snapshot(self, name: str, body: str, *, now: float | None = None) -> None:
        """See :meth:`MonitorVerbs.put_metrics_snapshot`."""
        self.run(self._monitor.put_metrics_snapshot(name, body, now), "writing the metrics")

    def metrics_snapshot(self, name: str) -> tuple[float, str] | None:
        """See :meth:`MonitorVerbs.metrics_snapshot`."""
        return self.run(self._monitor.metrics_snapshot(name), "reading the metrics")

    def lease_holder(self, name: str, *, now: float | None = None) -> str | None:
        """See :meth:`MonitorVerbs.lease_holder`."""
        return self.run(self._monitor.lease_holder(name, now), "reading a lease")

    def open_transactions(self, older_than: float, limit: int = 5) -> list[OpenTransaction]:
        """See :meth:`MonitorVerbs.open_transactions`."""
        return self.run(
            self._monitor.open_transactions(older_than, limit), "reading open transactions"
        )

    def overdue_runs(self, limit: int = 1000, *, now: float | None = None) -> list[OverdueRun]:
        """See :meth:`MonitorVerbs.overdue_runs`."""
        return self.run(self._monitor.overdue_runs(limit, now), "reading overdue runs")

