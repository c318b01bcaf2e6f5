"""The benchmark's Conveyor app: two no-op jobs (``async def`` and ``def``) and a timed one.

Worker processes load it as ``benchapp:app`` (``benchmarks/`` on ``PYTHONPATH``) and read the
store URL from ``CONVEYOR_URL``; the benchmark driver builds its own copy with :func:`build`
for an explicit URL. Job names are fixed, so both sides agree on them.
"""

from __future__ import annotations

import asyncio

from conveyor import Conveyor, JobContext

ASYNC_JOB = "bench.noop_async"
SYNC_JOB = "bench.noop_sync"
WORK_JOB = "bench.work_async"
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

    @conveyor.job(name=WORK_JOB, queue=QUEUE)
    async def work_async(ctx: JobContext, ms: float) -> None:
        """Wait ``ms`` milliseconds on the event loop: a job with a known length."""
        await asyncio.sleep(ms / 1000.0)

    return conveyor


app = build()
"""The app worker processes run (the store is opened lazily, on first use)."""
