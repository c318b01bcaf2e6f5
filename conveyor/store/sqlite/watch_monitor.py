"""The SQLite store's monitor verbs (see :class:`conveyor.store.contract.monitor.MonitorVerbs`).

Every verb is one transaction on the store's connection: writes in ``BEGIN IMMEDIATE``, so
SQLite's single writer serialises two monitors (or a monitor and ``conveyor checkin``) racing
for the same rows.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from conveyor.store.sqlite.connection import query
from conveyor.store.watch_rows import checkin_from_row, incident_from_row, overdue_from_row
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
    from conveyor.store.protocol import Retention
    from conveyor.store.sqlite.connection import Database

class SQLiteMonitorVerbs:
    """Mixed into the SQLite store: check-ins, incidents, leases and counts."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: Database

        def now(self) -> float: ...

    # -- check-ins ----------------------------------------------------------------------------

    def put_checkin(self, name: str, row: CheckinRow | None, *, now: float | None = None) -> bool:
        """See :meth:`MonitorVerbs.put_checkin`; a new check-in's ``created_at`` is ``now``."""
        with self.db.write() as conn:
            if row is None:
                conn.execute(query("checkin_delete_pings"), {"name": name})
                return conn.execute(query("checkin_delete"), {"name": name}).rowcount == 1
            conn.execute(
                query("checkin_upsert"),
                {
                    "name": name,
                    "timing": row.timing,
                    "tz": row.tz,
                    "grace": float(row.grace),
                    "now": self.now() if now is None else now,
                    "paused": int(row.paused),
                },
            )
        return True

    def record_checkin(self, name: str, *, now: float | None = None) -> float | None:
        """See :meth:`MonitorVerbs.record_checkin`."""
        with self.db.write() as conn:
            now = self.now() if now is None else now  # the store's, read under the write lock
            touched = conn.execute(query("checkin_touch"), {"name": name, "now": now})
            if touched.rowcount == 0:
                return None
            conn.execute(query("checkin_add_ping"), {"name": name, "now": now})
        return now

    def list_checkins(self) -> list[CheckinRow]:
        """See :meth:`MonitorVerbs.list_checkins`."""
        with self.db.read() as conn:
            found = conn.execute(query("checkin_list")).fetchall()
        return [checkin_from_row(r) for r in found]

    def checkin_pings(self, name: str, since: float) -> list[float]:
        """See :meth:`MonitorVerbs.checkin_pings`."""
        with self.db.read() as conn:
            found = conn.execute(query("checkin_pings"), {"name": name, "since": since})
            return [float(r[0]) for r in found.fetchall()]

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
        """See :meth:`MonitorVerbs.upsert_incident`: under the write lock, refresh the firing
        incident, else open one."""
        with self.db.write() as conn:
            key = {"rule": rule, "subject": subject, "now": self.now() if now is None else now}
            if not firing:
                row = conn.execute(query("incident_resolve"), key).fetchone()
                return None if row is None else IncidentChange(incident_from_row(row))
            texts = {"summary": summary, "details_json": details_json}
            row = conn.execute(query("incident_refresh"), key | texts).fetchone()
            if row is not None:
                return IncidentChange(incident_from_row(row))
            # Nothing firing, and the write lock keeps it so: this insert opens it.
            row = conn.execute(query("incident_open"), key | texts).fetchone()
        return IncidentChange(incident_from_row(row), opened=True)

    def mark_notified(self, incident_id: int, *, now: float | None = None) -> None:
        """See :meth:`MonitorVerbs.mark_notified`."""
        with self.db.write() as conn:
            conn.execute(
                query("incident_mark_notified"),
                {"id": incident_id, "now": self.now() if now is None else now},
            )

    def list_incidents(
        self, include_resolved: bool = False, limit: int | None = 100
    ) -> list[IncidentRow]:
        """See :meth:`MonitorVerbs.list_incidents`."""
        with self.db.read() as conn:
            found = conn.execute(
                query("incident_list"),
                {"include_resolved": int(include_resolved), "limit": limit},
            ).fetchall()
        return [incident_from_row(r) for r in found]

    # -- leases -------------------------------------------------------------------------------

    def set_lease(
        self, name: str, holder: str, seconds: float | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`MonitorVerbs.set_lease`."""
        with self.db.write() as conn:
            if seconds is None:
                conn.execute(query("lease_release"), {"name": name, "holder": holder})
                return False
            # The caller's clock, else the store's read under the write lock.
            at = self.now() if now is None else now
            row = conn.execute(
                query("lease_acquire"),
                {"name": name, "holder": holder, "seconds": float(seconds), "now": at},
            ).fetchone()
        return row is not None

    # -- counts and pruning --------------------------------------------------------------------

    def window_counts(self, since: float) -> list[WindowCounts]:
        """See :meth:`MonitorVerbs.window_counts`; queues by name, only those with a count."""
        with self.db.read() as conn:
            found = conn.execute(query("window_counts"), {"since": since}).fetchall()
        return [
            WindowCounts(
                queue=r[0], succeeded=r[1], failed_attempts=r[2], dead=r[3], expired=r[4]
            )
            for r in found
        ]

    def queue_load(self, since: float) -> list[QueueLoad]:
        """See :meth:`MonitorVerbs.queue_load`."""
        with self.db.read() as conn:
            found = conn.execute(query("queue_load"), {"since": since}).fetchall()
        return [QueueLoad(queue=r[0], attempts=r[1], busy_seconds=float(r[2])) for r in found]

    def lease_holder(self, name: str, *, now: float | None = None) -> str | None:
        """See :meth:`MonitorVerbs.lease_holder`."""
        at = self.now() if now is None else now
        with self.db.read() as conn:
            row = conn.execute(query("lease_holder"), {"name": name, "now": at}).fetchone()
        return None if row is None else str(row[0])

    def put_metrics_snapshot(self, name: str, body: str, *, now: float | None = None) -> None:
        """See :meth:`MonitorVerbs.put_metrics_snapshot`."""
        with self.db.write() as conn:
            at = self.now() if now is None else now
            conn.execute(query("metrics_snapshot_put"), {"name": name, "body": body, "now": at})

    def metrics_snapshot(self, name: str) -> tuple[float, str] | None:
        """See :meth:`MonitorVerbs.metrics_snapshot`."""
        with self.db.read() as conn:
            row = conn.execute(query("metrics_snapshot_get"), {"name": name}).fetchone()
        return None if row is None else (float(row[0]), str(row[1]))

    def open_transactions(self, older_than: float, limit: int = 5) -> list[OpenTransaction]:
        """See :meth:`MonitorVerbs.open_transactions`: SQLite keeps no vacuum horizon that
        another connection's transaction could hold back, so none."""
        return []

    def overdue_runs(self, limit: int = 1000, *, now: float | None = None) -> list[OverdueRun]:
        """See :meth:`MonitorVerbs.overdue_runs`."""
        at = self.now() if now is None else now
        with self.db.read() as conn:
            found = conn.execute(query("watch_runs"), {"limit": limit, "now": at}).fetchall()
        return [overdue_from_row(r) for r in found]

    def prune_watch(self, retention: Retention, limit: int, now: float | None) -> int:
        """The monitor's part of :meth:`JobVerbs.prune`: at most ``limit`` rows per table, in
        one transaction.

        Delivered or given-up alert deliveries older than the retention go too, and each
        check-in keeps its newest ping however old.
        """
        with self.db.write() as conn:
            cutoff = (self.now() if now is None else now) - retention.watch
            slots = _prune(conn, "watch_prune_slots", cutoff, limit)
            # An incident goes only once its notifications are gone, and both notification
            # deletes share the table's budget.
            notifications = _prune(conn, "watch_prune_incident_notifications", cutoff, limit)
            notifications += _prune(
                conn, "watch_prune_notifications", cutoff, limit - notifications
            )
            incidents = _prune(conn, "watch_prune_incidents", cutoff, limit)
            pings = _prune(conn, "watch_prune_pings", cutoff, limit)
        return slots + notifications + incidents + pings


def _prune(conn: sqlite3.Connection, step: str, cutoff: float, limit: int) -> int:
    """Run one of pruning's deletes for at most ``limit`` rows; how many went."""
    if limit <= 0:
        return 0
    return conn.execute(query(step), {"cutoff": cutoff, "limit": limit}).rowcount
