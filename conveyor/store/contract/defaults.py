"""Default implementations of the derived verbs, written once over other verbs.

A store inherits :class:`DerivedVerbs` and implements the verbs these are derived from
(:meth:`~conveyor.store.contract.jobs.JobVerbs.list_jobs`); it may still override a default
with a faster equivalent, as long as the conformance suite cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.models import Job
from conveyor.store.contract.records import JobFilter


class _ListsJobs(Protocol):
    """What the defaults below need of the store that inherits them."""

    def list_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[Job]:
        """See :meth:`conveyor.store.contract.jobs.JobVerbs.list_jobs`."""
        ...

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """See :meth:`conveyor.store.contract.jobs.JobVerbs.get_jobs`."""
        ...


class DerivedVerbs:
    """The verbs of the contract that are exact compositions of others (a mixin)."""

    def get_jobs(self: _ListsJobs, job_ids: Sequence[int]) -> list[Job]:
        """See :meth:`~conveyor.store.contract.jobs.JobVerbs.get_jobs`: ``list_jobs`` by ids."""
        if not job_ids:
            return []
        return self.list_jobs(JobFilter(ids=tuple(job_ids)))

    def get_job(self: _ListsJobs, job_id: int) -> Job | None:
        """See :meth:`~conveyor.store.contract.jobs.JobVerbs.get_job`: the first of
        ``get_jobs([job_id])``."""
        found = self.get_jobs([job_id])
        return found[0] if found else None
