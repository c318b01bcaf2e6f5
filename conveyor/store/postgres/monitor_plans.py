"""The monitor's verbs as plans (see :mod:`conveyor.store.postgres.plans` for how plans run).

Times are the server's: ``now()`` in the SQL, epoch seconds in and out.
"""

from __future__ import annotations

from functools import cache

from conveyor.store.postgres.plans import Plan, Statement, register_single
from conveyor.store.postgres.plans_base import at
from conveyor.store.postgres.sql import query
from conveyor.store.protocol import Retention
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

MONITOR_SINGLE = frozenset(
    {
        "record_checkin",
        "list_checkins",
        "checkin_pings",
        "mark_notified",
        "list_incidents",
        "set_lease",
        "window_counts",
        "queue_load",
        "lease_holder",
        "overdue_runs",
        "put_metrics_snapshot",
        "metrics_snapshot",
        "open_transactions",
    }
)
"""The plans below that are one statement: autocommit (``put_checkin``, ``upsert_incident``
and ``prune_watch`` may run several, in a transaction)."""
register_single(MONITOR_SINGLE)


@cache
def monitor_plans(schema: str) -> MonitorPlans:
    """The monitor's plans for ``schema`` (one instance per schema)."""
    return MonitorPlans(schema)


class MonitorPlans:
    """Check-ins, incidents, the outbox, leases and counts, bound to a schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    def q(self, name: str) -> str:
        """A query of this dialect, qualified with the schema."""
        return query(name, self.schema)

    # -- check-ins ----------------------------------------------------------------------------

    def put_checkin(
        self, name: str, row: CheckinRow | None, now: float | None = None
    ) -> Plan[bool]:
        """Create or update a check-in's definition, or delete it with its pings."""
        if row is None:
            result = yield Statement(self.q("checkin_delete"), {"name": name})
            return bool(result.rows)
        yield at(
            self.q("checkin_upsert"),
            {
                "name": name,
                "timing": row.timing,
                "tz": row.tz,
                "grace": float(row.grace),
                "paused": row.paused,
            },
            now,
        )
        return True

    def record_checkin(self, name: str, now: float | None = None) -> Plan[float | None]:
        """Record a ping at ``now`` (or the server's clock); its time, or None for an unknown
        check-in."""
        result = yield at(self.q("checkin_record"), {"name": name}, now)
        return float(result.rows[0][0]) if result.rows else None

    def list_checkins(self) -> Plan[list[CheckinRow]]:
        """Every check-in, by name."""
        result = yield Statement(self.q("checkin_list"))
        return [checkin_from_row(r) for r in result.rows]

    def checkin_pings(self, name: str, since: float) -> Plan[list[float]]:
        """A check-in's ping times after ``since``, ascending."""
        result = yield Statement(self.q("checkin_pings"), {"name": name, "since": float(since)})
        return [float(r[0]) for r in result.rows]

    # -- incidents ----------------------------------------------------------------------------

    def upsert_incident(
        self,
        rule: str,
        subject: str,
        firing: bool,
        summary: str,
        details_json: str,
        now: float | None = None,
    ) -> Plan[IncidentChange | None]:
        """Refresh the firing incident of (rule, subject), else open one; or resolve it.

        Runs in a transaction. An opener that loses the race on the unique index waits for the
        winner's commit and finds no row; the second refresh then sees the winner's incident.
        """
        key = {"rule": rule, "subject": subject}
        if not firing:
            result = yield at(self.q("incident_resolve"), key, now)
            return IncidentChange(incident_from_row(result.rows[0])) if result.rows else None
        key |= {"summary": summary, "details_json": details_json}
        for statement, opens in (("incident_refresh", False), ("incident_open", True)):
            result = yield at(self.q(statement), key, now)
            if result.rows:
                return IncidentChange(incident_from_row(result.rows[0]), opened=opens)
        result = yield at(self.q("incident_refresh"), key, now)
        return IncidentChange(incident_from_row(result.rows[0]))

    def mark_notified(self, incident_id: int, now: float | None = None) -> Plan[None]:
        """Count one more notification of an incident."""
        yield at(self.q("incident_mark_notified"), {"id": incident_id}, now)

    def list_incidents(
        self, include_resolved: bool, limit: int | None
    ) -> Plan[list[IncidentRow]]:
        """Incidents newest first."""
        result = yield Statement(
            self.q("incident_list"), {"include_resolved": include_resolved, "limit": limit}
        )
        return [incident_from_row(r) for r in result.rows]

    # -- leases -------------------------------------------------------------------------------

    def set_lease(
        self, name: str, holder: str, seconds: float | None, now: float | None = None
    ) -> Plan[bool]:
        """Take or extend a lease at ``now`` (or the server's clock), False while another
        holder's runs; or (``seconds=None``) give it up if ``holder`` holds it."""
        if seconds is None:
            yield Statement(self.q("lease_release"), {"name": name, "holder": holder})
            return False
        result = yield at(
            self.q("lease_acquire"),
            {"name": name, "holder": holder, "seconds": float(seconds)},
            now,
        )
        return bool(result.rows)

    # -- counts and pruning --------------------------------------------------------------------

    def window_counts(self, since: float) -> Plan[list[WindowCounts]]:
        """Per queue: succeeded jobs, failed attempts and dead jobs since ``since``."""
        result = yield Statement(self.q("window_counts"), {"since": float(since)})
        return [
            WindowCounts(
                queue=r[0], succeeded=r[1], failed_attempts=r[2], dead=r[3], expired=r[4]
            )
            for r in result.rows
        ]

    def queue_load(self, since: float) -> Plan[list[QueueLoad]]:
        """Per queue: attempts finished since ``since`` and their run time."""
        result = yield Statement(self.q("queue_load"), {"since": float(since)})
        return [
            QueueLoad(queue=r[0], attempts=r[1], busy_seconds=r[2]) for r in result.rows
        ]

    def lease_holder(self, name: str, now: float | None = None) -> Plan[str | None]:
        """Who holds lease ``name`` at ``now``, if anyone."""
        result = yield at(self.q("lease_holder"), {"name": name}, now)
        return str(result.rows[0][0]) if result.rows else None

    def put_metrics_snapshot(self, name: str, body: str, now: float | None = None) -> Plan[None]:
        """Replace snapshot ``name`` with ``body``, taken at ``now`` (or the server's clock)."""
        yield at(self.q("metrics_snapshot_put"), {"name": name, "body": body}, now)

    def metrics_snapshot(self, name: str) -> Plan[tuple[float, str] | None]:
        """Snapshot ``name`` as ``(taken_at, body)``, if written."""
        result = yield Statement(self.q("metrics_snapshot_get"), {"name": name})
        if not result.rows:
            return None
        taken_at, body = result.rows[0]
        return float(taken_at), str(body)

    def open_transactions(self, older_than: float, limit: int) -> Plan[list[OpenTransaction]]:
        """Other sessions' transactions in this database older than ``older_than`` seconds."""
        result = yield Statement(
            self.q("open_transactions"), {"older_than": older_than, "limit": limit}
        )
        return [
            OpenTransaction(
                pid=int(r[0]), age=float(r[1]), state=r[2], user=r[3], application=r[4],
                query=r[5],
            )
            for r in result.rows
        ]

    def overdue_runs(self, limit: int, now: float | None = None) -> Plan[list[OverdueRun]]:
        """Running runs past their deadline or stalled at ``now``, by id."""
        result = yield at(self.q("watch_runs"), {"limit": limit}, now)
        return [overdue_from_row(r) for r in result.rows]

    def prune_watch(
        self, retention: Retention, limit: int, now: float | None = None
    ) -> Plan[int]:
        """Delete old judged slots, resolved incidents with their notifications, finished
        notifications and pings (each check-in keeps its newest); at most ``limit`` per table.
        """
        keep = float(retention.watch)
        slots = yield from self._prune("watch_prune_slots", keep, limit, now)
        # An incident goes only once its notifications are gone, and both notification
        # deletes share the table's budget.
        notifications = yield from self._prune(
            "watch_prune_incident_notifications", keep, limit, now
        )
        notifications += yield from self._prune(
            "watch_prune_notifications", keep, limit - notifications, now
        )
        incidents = yield from self._prune("watch_prune_incidents", keep, limit, now)
        pings = yield from self._prune("watch_prune_pings", keep, limit, now)
        return slots + notifications + incidents + pings

    def _prune(self, step: str, keep: float, limit: int, now: float | None) -> Plan[int]:
        if limit <= 0:
            return 0
        result = yield at(self.q(step), {"keep": keep, "limit": limit}, now)
        return result.rowcount
