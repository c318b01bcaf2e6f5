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
    IncidentRow,
    OverdueRun,
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

    def upsert_checkin(self, row: CheckinRow) -> None:
        """See :meth:`MonitorVerbs.upsert_checkin`; a new check-in's ``created_at`` is now."""
        with self.db.write() as conn:
            conn.execute(
                query("checkin_upsert"),
                {
                    "name": row.name,
                    "timing": row.timing,
                    "tz": row.tz,
                    "grace": float(row.grace),
                    "now": self.now(),
                    "paused": int(row.paused),
                },
            )

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

    def remove_checkin(self, name: str) -> bool:
        """See :meth:`MonitorVerbs.remove_checkin`."""
        with self.db.write() as conn:
            conn.execute(query("checkin_delete_pings"), {"name": name})
            gone = conn.execute(query("checkin_delete"), {"name": name})
        return gone.rowcount == 1

    def checkin_pings(self, name: str, since: float) -> list[float]:
        """See :meth:`MonitorVerbs.checkin_pings`."""
        with self.db.read() as conn:
            found = conn.execute(query("checkin_pings"), {"name": name, "since": since})
            return [float(r[0]) for r in found.fetchall()]

    # -- incidents ----------------------------------------------------------------------------

    def open_incident(
        self, rule: str, subject: str, summary: str, details_json: str
    ) -> IncidentRow | None:
        """See :meth:`MonitorVerbs.open_incident`."""
        with self.db.write() as conn:
            row = conn.execute(
                query("incident_open"),
                {
                    "rule": rule,
                    "subject": subject,
                    "summary": summary,
                    "details_json": details_json,
                    "now": self.now(),
                },
            ).fetchone()
        return None if row is None else incident_from_row(row)

    def update_incident(self, incident_id: int, summary: str, details_json: str) -> None:
        """See :meth:`MonitorVerbs.update_incident`; a resolved incident is left as it is."""
        with self.db.write() as conn:
            conn.execute(
                query("incident_update"),
                {
                    "id": incident_id,
                    "summary": summary,
                    "details_json": details_json,
                    "now": self.now(),
                },
            )

    def resolve_incident(self, incident_id: int) -> IncidentRow | None:
        """See :meth:`MonitorVerbs.resolve_incident`."""
        with self.db.write() as conn:
            row = conn.execute(
                query("incident_resolve"), {"id": incident_id, "now": self.now()}
            ).fetchone()
        return None if row is None else incident_from_row(row)

    def mark_notified(self, incident_id: int) -> None:
        """See :meth:`MonitorVerbs.mark_notified`."""
        with self.db.write() as conn:
            conn.execute(query("incident_mark_notified"), {"id": incident_id, "now": self.now()})

    def firing_incidents(self) -> list[IncidentRow]:
        """See :meth:`MonitorVerbs.firing_incidents`."""
        with self.db.read() as conn:
            found = conn.execute(query("incident_firing")).fetchall()
        return [incident_from_row(r) for r in found]

    def list_incidents(self, include_resolved: bool = False, limit: int = 100) -> list[IncidentRow]:
        """See :meth:`MonitorVerbs.list_incidents`."""
        with self.db.read() as conn:
            found = conn.execute(
                query("incident_list"),
                {"include_resolved": int(include_resolved), "limit": limit},
            ).fetchall()
        return [incident_from_row(r) for r in found]

    # -- leases -------------------------------------------------------------------------------

    def acquire_lease(
        self, name: str, holder: str, seconds: float, *, now: float | None = None
    ) -> bool:
        """See :meth:`MonitorVerbs.acquire_lease`."""
        with self.db.write() as conn:
            # The caller's clock, else the store's read under the write lock.
            at = self.now() if now is None else now
            row = conn.execute(
                query("lease_acquire"),
                {"name": name, "holder": holder, "seconds": float(seconds), "now": at},
            ).fetchone()
        return row is not None

    def release_lease(self, name: str, holder: str) -> None:
        """See :meth:`MonitorVerbs.release_lease`."""
        with self.db.write() as conn:
            conn.execute(query("lease_release"), {"name": name, "holder": holder})

    # -- counts and pruning --------------------------------------------------------------------

    def window_counts(self, since: float) -> list[WindowCounts]:
        """See :meth:`MonitorVerbs.window_counts`; queues by name, only those with a count."""
        with self.db.read() as conn:
            found = conn.execute(query("window_counts"), {"since": since}).fetchall()
        return [
            WindowCounts(queue=r[0], succeeded=r[1], failed_attempts=r[2], dead=r[3])
            for r in found
        ]

    def overdue_runs(self, limit: int = 1000, *, now: float | None = None) -> list[OverdueRun]:
        """See :meth:`MonitorVerbs.overdue_runs`."""
        at = self.now() if now is None else now
        with self.db.read() as conn:
            found = conn.execute(query("watch_runs"), {"limit": limit, "now": at}).fetchall()
        return [overdue_from_row(r) for r in found]

    def prune_watch(
        self, retention: Retention, limit: int = 10_000, *, now: float | None = None
    ) -> int:
        """See :meth:`MonitorVerbs.prune_watch`: at most ``limit`` rows per table.

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
