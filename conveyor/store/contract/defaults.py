"""Default implementations of the derived verbs, written once over other verbs.

A store inherits :class:`DerivedVerbs` and implements the verbs these are derived from; it may
still override a default with a faster equivalent, as long as the conformance suite cannot
tell the difference. Each default says which verb it is derived from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.models import Job, QueueControl
from conveyor.store.contract.records import JobFilter
from conveyor.store.watch_types import IncidentRow, ScheduleRow


class _Underlying(Protocol):
    """The verbs the defaults below are derived from (see their contracts)."""

    def list_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[Job]:
        """See :meth:`conveyor.store.contract.jobs.JobVerbs.list_jobs`."""
        ...

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """See :meth:`conveyor.store.contract.jobs.JobVerbs.get_jobs`."""
        ...

    def queue_controls(self) -> list[QueueControl]:
        """See :meth:`conveyor.store.contract.queues.QueueVerbs.queue_controls`."""
        ...

    def list_incidents(
        self, include_resolved: bool = False, limit: int | None = 100
    ) -> list[IncidentRow]:
        """See :meth:`conveyor.store.contract.monitor.MonitorVerbs.list_incidents`."""
        ...

    def list_schedules(self, names: Sequence[str] | None = None) -> list[ScheduleRow]:
        """See :meth:`conveyor.store.contract.schedules.ScheduleVerbs.list_schedules`."""
        ...

    def active_schedule_jobs(self, schedule: str) -> list[int]:
        """See :meth:`conveyor.store.contract.schedules.ScheduleVerbs.active_schedule_jobs`."""
        ...


class DerivedVerbs:
    """The verbs of the contract that are exact compositions of others (a mixin)."""

    def get_jobs(self: _Underlying, job_ids: Sequence[int]) -> list[Job]:
        """See :meth:`~conveyor.store.contract.jobs.JobVerbs.get_jobs`: ``list_jobs`` by ids."""
        if not job_ids:
            return []
        return self.list_jobs(JobFilter(ids=tuple(job_ids)))

    def get_job(self: _Underlying, job_id: int) -> Job | None:
        """See :meth:`~conveyor.store.contract.jobs.JobVerbs.get_job`: the first of
        ``get_jobs([job_id])``."""
        found = self.get_jobs([job_id])
        return found[0] if found else None

    def paused_queues(self: _Underlying) -> frozenset[str]:
        """See :meth:`~conveyor.store.contract.queues.QueueVerbs.paused_queues`: the paused
        ones of ``queue_controls()``."""
        return frozenset(c.name for c in self.queue_controls() if c.paused)

    def queue_control(self: _Underlying, name: str) -> QueueControl | None:
        """See :meth:`~conveyor.store.contract.queues.QueueVerbs.queue_control`: ``name``'s
        entry of ``queue_controls()``."""
        return next((c for c in self.queue_controls() if c.name == name), None)

    def firing_incidents(self: _Underlying) -> list[IncidentRow]:
        """See :meth:`~conveyor.store.contract.monitor.MonitorVerbs.firing_incidents`: every
        firing one of ``list_incidents()``, oldest first."""
        return self.list_incidents(include_resolved=False, limit=None)[::-1]

    def get_schedule(self: _Underlying, name: str) -> ScheduleRow | None:
        """See :meth:`~conveyor.store.contract.schedules.ScheduleVerbs.get_schedule`: the one
        row of ``list_schedules([name])``."""
        found = self.list_schedules([name])
        return found[0] if found else None

    def busy_schedules(self: _Underlying, schedules: Sequence[str]) -> frozenset[str]:
        """See :meth:`~conveyor.store.contract.schedules.ScheduleVerbs.busy_schedules`: those
        of ``schedules`` whose ``active_schedule_jobs`` is not empty."""
        return frozenset(name for name in set(schedules) if self.active_schedule_jobs(name))
