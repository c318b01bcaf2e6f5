"""The monitor: check-ins, incidents, named leases, and counts over a window.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.store.watch_types import (
    CheckinRow,
    IncidentChange,
    IncidentRow,
    OpenTransaction,
    OverdueRun,
    QueueLoad,
    WindowCounts,
)


class MonitorVerbs(Protocol):
    """Check-ins, incidents, the monitor's lease and its counts (its notifications are
    rows of the outbox: :class:`~conveyor.store.contract.outbox.OutboxVerbs`)."""

    def put_checkin(self, name: str, row: CheckinRow | None, *, now: float | None = None) -> bool:
        """Create or update check-in ``name`` with ``row``'s definition, or (``row=None``)
        delete it with its pings. True when something was written: always for a ``row``;
        for a delete, whether there was such a check-in.

        An update keeps the check-in's ``created_at`` and ``last_ping_at``; a new one is
        created at ``now``. ``row.name`` is not read: the check-in is ``name``.

        Guarantees: one transaction (an upsert, or a delete of the check-in and its pings, by
        name). Idempotent: a repeated write changes nothing more; a repeated delete returns
        False.
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

    def checkin_pings(self, name: str, since: float) -> list[float]:
        """The check-in's ping times after ``since``, ascending.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

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
        """Say whether ``rule`` fires for ``subject`` now, and write the incident that follows.

        ``firing=True``: when no incident of (rule, subject) is firing, open one with this
        summary and details (``opened=True``); otherwise refresh the firing one's summary and
        details (``opened=False``). ``firing=False``: resolve the firing incident of (rule,
        subject) and return it; None when none was firing (``summary`` and ``details_json``
        are not read). Opening, refreshing and resolving are stamped at ``now``.

        Guarantees: one transaction. Fenced by a unique index: at most one incident of (rule,
        subject) is firing, so of concurrent callers with ``firing=True`` exactly one opens it
        and the others refresh it; of concurrent resolvers one gets the row and the others
        None. Idempotent: a repeat refreshes the same values (only ``updated_at`` moves), or
        finds nothing left to resolve.
        """
        ...

    def mark_notified(self, incident_id: int, *, now: float | None = None) -> None:
        """``last_notified_at = now`` and one more ``notify_count`` (``now``: the caller's
        clock, defaulting to the store's).

        Guarantees: one transaction. Not idempotent: each call counts one more notification.
        """
        ...

    def firing_incidents(self) -> list[IncidentRow]:
        """Incidents firing now, oldest (first opened) first. Derived: written once over
        :meth:`list_incidents` (:class:`~conveyor.store.contract.defaults.DerivedVerbs`).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def list_incidents(
        self, include_resolved: bool = False, limit: int | None = 100
    ) -> list[IncidentRow]:
        """Incidents, newest (last opened) first: the firing ones, and resolved ones too when
        asked; at most ``limit`` (None: all).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def set_lease(
        self, name: str, holder: str, seconds: float | None, *, now: float | None = None
    ) -> bool:
        """Take or extend the named lease for ``holder`` until ``seconds`` after ``now``, or
        (``seconds=None``) give it up. True when ``holder`` holds the lease afterwards: False
        while someone else's lease runs, and always after giving it up.

        A lease that ended at or before ``now`` changes hands; giving it up frees it at once
        (someone else's lease is left alone). ``now``: the caller's clock, defaulting to the
        store's.

        Guarantees: one transaction, fenced by holder and the lease's end: two holders never
        hold it at once. Idempotent for the holder (taking it again extends it; giving it up
        again changes nothing).
        """
        ...

    def window_counts(self, since: float) -> list[WindowCounts]:
        """Per queue: jobs succeeded, attempts failed, jobs dead and jobs expired (cancelled,
        not started by their start deadline) since ``since``.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def queue_load(self, since: float) -> list[QueueLoad]:
        """Per queue: attempts finished since ``since`` (any outcome) and their run time
        added up, by queue name; queues with no finished attempt are left out.

        Guarantees: reads only: writes nothing, so it is safe to repeat. Cheap: reads the
        attempts along their finish-time index, so older history costs nothing.
        """
        ...

    def lease_holder(self, name: str, *, now: float | None = None) -> str | None:
        """Who holds the named lease at ``now`` (the caller's clock, defaulting to the
        store's), or None when nobody does (never taken, given up or expired).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def put_metrics_snapshot(self, name: str, body: str, *, now: float | None = None) -> None:
        """Store ``body`` (the cluster gauges, rendered) as snapshot ``name``, taken at ``now``
        (the caller's clock, defaulting to the store's), replacing the previous one.

        The monitor's lease holder writes it each round, so ``/metrics`` scrapes read one row
        instead of counting the jobs table (see docs/observability.md).

        Guarantees: one transaction (an upsert by name). Idempotent.
        """
        ...

    def metrics_snapshot(self, name: str) -> tuple[float, str] | None:
        """The snapshot ``name`` as ``(taken_at, body)``, or None when none was written.

        Guarantees: reads only: writes nothing, so it is safe to repeat. Cheap: one row by key.
        """
        ...

    def open_transactions(self, older_than: float, limit: int = 5) -> list[OpenTransaction]:
        """Transactions of other sessions in the store's database open for more than
        ``older_than`` seconds, oldest first, at most ``limit``.

        On PostgreSQL, such a transaction keeps vacuum from removing the rows that finished or
        were claimed since it began, so claims slow down as they pile up (docs/postgres.md).
        A role that is neither the session's nor a member of ``pg_read_all_stats`` sees only
        the pid and age (the other fields are None). SQLite keeps no such horizon: always
        empty.

        Guarantees: reads only: writes nothing, so it is safe to repeat. Cheap: reads the
        server's activity view, not Conveyor's tables.
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

