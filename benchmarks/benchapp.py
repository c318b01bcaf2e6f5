"""The benchmark's Conveyor app: two no-op jobs (``async def`` and ``def``) and a timed one.

Worker processes load it as ``benchapp:app`` (``benchmarks/`` on ``PYTHONPATH``) and read the
store URL from ``CONVEYOR_URL``; the benchmark driver builds its own copy with :func:`build`
for an explicit URL. Job names are fixed, so both sides agree on them.
"""

from __future__ import annotations

import asyncio

from conveyor import Concurrency, Conveyor, JobContext

ASYNC_JOB = "bench.noop_async"
SYNC_JOB = "bench.noop_sync"
WORK_JOB = "bench.work_async"
QUEUE = "bench"
LIMITED_JOB = "bench.noop_limited"
"""An async no-op with a concurrency limit far above any worker's slots: it never binds, so
the job measures what the limited claim pass costs."""


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

    @conveyor.job(name=LIMITED_JOB, queue=QUEUE, limit=Concurrency(10_000))
    async def noop_limited(ctx: JobContext, i: int) -> None:
        """Do nothing, under a limit that never binds (keyed per job type)."""

    return conveyor


app = build()
"""The app worker processes run (the store is opened lazily, on first use)."""
