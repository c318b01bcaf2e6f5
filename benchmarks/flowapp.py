"""The flow-control benchmark's apps: one without limited job types, one with.

A worker's claim depends on the job types its app declares: an app with a limited type runs
the limited pass (or its cheap look) in every claim round, one without never does. So
``flow_control.py`` runs plain and tenant jobs with :data:`plain` (no limited type, the claim
an app without limits gets) and the non-binding limit with :data:`limited`. Both read the store
URL from ``CONVEYOR_URL``; job names match ``benchapp``'s, so rows written for one are claimed
by the other.
"""

from __future__ import annotations

from conveyor import Concurrency, Conveyor, JobContext

NOOP = "bench.noop_async"
LIMITED = "bench.noop_limited"
QUEUE = "bench"
LIMIT_MAX = 10_000
"""The limited type's ``Concurrency``: far above any worker's slots, so it never binds."""


def build_plain() -> Conveyor:
    """An app with one async no-op and no limited type."""
    conveyor = Conveyor()

    @conveyor.job(name=NOOP, queue=QUEUE)
    async def noop_async(ctx: JobContext, i: int) -> None:
        """Do nothing, on the event loop."""

    return conveyor


def build_limited() -> Conveyor:
    """An app with the async no-op and a limited no-op (``Concurrency(LIMIT_MAX)``)."""
    conveyor = build_plain()

    @conveyor.job(name=LIMITED, queue=QUEUE, limit=Concurrency(LIMIT_MAX))
    async def noop_limited(ctx: JobContext, i: int) -> None:
        """Do nothing, under a limit that never binds (keyed per job type)."""

    return conveyor


plain = build_plain()
"""Workers of the plain and tenant cases run this app."""

limited = build_limited()
"""Workers of the limited case run this app."""
