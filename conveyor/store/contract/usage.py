"""Usage accounting: what each attempt cost (wall time, CPU, memory, units the handler
reported with ``ctx.usage``), written by workers in batches and summed per job name, queue or
tenant. When a job is deleted (retention, discard), its usage rows are folded into an hourly
roll-up (one row per hour, name, queue and tenant, and one per unit) in the same transaction,
and totals add the roll-up in: usage outlives its jobs, kept ``Retention.usage``.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

UsageBy = Literal["name", "queue", "tenant"]
"""What :meth:`UsageVerbs.usage_totals` can group by."""

USAGE_BY: tuple[str, ...] = ("name", "queue", "tenant")


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One ended attempt's usage."""

    job_id: int
    attempt: int
    name: str
    queue: str
    tenant: str | None
    finished_at: float
    """When the attempt ended (epoch seconds, the worker's clock)."""
    wall: float
    """Seconds the attempt ran, middleware included."""
    cpu: float
    """CPU seconds: the handler's thread for sync jobs, the process over the attempt for
    async jobs (shared with whatever else ran on the event loop meanwhile)."""
    memory_mb: float
    """The worker process's resident memory at the attempt's end, in MiB."""
    units: Mapping[str, float] = field(default_factory=dict)
    """What the handler reported with ``ctx.usage(...)``, summed over the attempt."""


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """The sums over one group's attempts."""

    key: str | None
    """The job name, queue or tenant (None: jobs without a tenant, or no grouping)."""
    attempts: int
    jobs: int
    wall: float
    cpu: float
    memory_mb: float
    """The largest ``memory_mb`` of the group's attempts."""
    units: dict[str, float]
    """Each reported unit's sum (units no attempt reported are absent)."""


class UsageVerbs(Protocol):
    """Recording and summing attempts' usage."""

    def record_usage(self, rows: Sequence[UsageRow]) -> None:
        """Store ``rows``; a row whose job no longer exists is dropped (it would outlive the
        job it describes).

        Guarantees: one transaction; not fenced (usage is an observation, written once by the
        worker that ran the attempt); not idempotent: a repeat records the attempts again.
        """
        ...

    def usage_totals(
        self, by: UsageBy | None = None, *, since: float | None = None,
        until: float | None = None,
    ) -> list[UsageTotal]:
        """Sums of the attempts that ended in ``[since, until)`` (either end open when None),
        plus the roll-up of deleted jobs' usage for the hours that start in that window (a
        rolled-up job counts once, in the hour of its last attempt),
        one :class:`UsageTotal` per job name, queue or tenant (``by``), or a single one over
        everything when ``by`` is None (with no attempts: an empty list). Ordered by key, the
        None key last. Raises :class:`~conveyor.errors.ConfigurationError` for another ``by``.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...
