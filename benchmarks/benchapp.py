"""The benchmark's Conveyor app: two no-op jobs, one ``async def`` and one plain ``def``.

Worker processes load it as ``benchapp:app`` (``benchmarks/`` on ``PYTHONPATH``) and read the
store URL from ``CONVEYOR_URL``; the benchmark driver builds its own copy with :func:`build`
for an explicit URL. Job names are fixed, so both sides agree on them.
"""

from __future__ import annotations

from conveyor import Conveyor, JobContext

ASYNC_JOB = "bench.noop_async"
SYNC_JOB = "bench.noop_sync"
QUEUE = "bench"


def build(url: str | None = None) -> Conveyor:
    """A fresh app on ``url`` (``None``: ``CONVEYOR_URL``) with the two no-op jobs declared."""
    conveyor = Conveyor(url)

    @conveyor.job(name=ASYNC_JOB, queue=QUEUE)
    async def noop_async(ctx: JobContext, i: int) -> None:
        """Do nothing, on the event loop."""

    @conveyor.job(name=SYNC_JOB, queue=QUEUE)
    def noop_sync(ctx: JobContext, i: int) -> None:
        """Do nothing, in the worker's thread pool."""

    return conveyor


app = build()
"""The app worker processes run (the store is opened lazily, on first use)."""
