"""What the middleware benchmarks share: timing a chain around a body that does nothing, and
the rate (and CPU per job) of a burst drain of no-op or 1 ms jobs (``observe_overhead.py``,
``otel_overhead.py``, ``usage_overhead.py``, ``everything_overhead.py``)."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from conveyor import Conveyor, JobDefinition
from conveyor._context import JobContext
from conveyor.middleware import AttemptEnd, AttemptStart, AttemptStatus, Middleware, MiddlewareChain
from conveyor.testing import drain


def bench_context(**fields: Any) -> JobContext:
    """The context of a no-op attempt (``fields`` override, e.g. ``tenant=None``)."""
    values: dict[str, Any] = {
        "job_id": 1, "name": "bench.noop", "queue": "default", "attempt": 1,
        "max_attempts": 4, "deadline": None, "worker_id": "bench", "tenant": "acme",
    }
    values.update(fields)
    return JobContext(**values)


async def seconds_per_attempt(items: list[Middleware], ctx: JobContext, attempts: int) -> float:
    """Seconds per attempt of the chain of ``items`` around a body that does nothing."""
    chain = MiddlewareChain(items)
    now = time.time()
    start = AttemptStart(ctx, run_at=now, started_at=now)
    end = AttemptEnd(AttemptStatus.SUCCEEDED, 0.0001)

    async def run() -> AttemptEnd:
        return end

    async def fail(error: Exception) -> AttemptEnd:
        return end

    began = time.perf_counter()
    for _ in range(attempts):
        await chain.attempt(start, run, fail)
    return (time.perf_counter() - began) / attempts


def noop_drain_rate(
    app: Conveyor, jobs: int, enqueuing: AbstractContextManager[Any] | None = None
) -> float:
    """Jobs per second of a burst drain of ``jobs`` no-op async jobs on ``app`` (enqueued
    inside ``enqueuing``, e.g. a request's span); closes the app."""
    return drain_rate_and_cpu(app, jobs, enqueuing)[0]


def declare_bench_job(app: Conveyor, body: str = "noop") -> JobDefinition[Any, Any]:
    """Declare ``bench.<body>`` on ``app``: ``noop`` (``async def``, does nothing) or
    ``sleep1ms`` (``def``, sleeps 1 ms in the worker's thread pool)."""
    if body == "noop":
        @app.job(name="bench.noop")
        async def noop(ctx: object, i: int) -> None:
            return None

        return noop
    if body == "sleep1ms":
        @app.job(name="bench.sleep1ms")
        def sleep1ms(ctx: object, i: int) -> None:
            time.sleep(0.001)

        return sleep1ms
    raise ValueError(f"unknown body {body!r}: noop or sleep1ms")


def drain_rate_and_cpu(
    app: Conveyor,
    jobs: int,
    enqueuing: AbstractContextManager[Any] | None = None,
    body: str = "noop",
) -> tuple[float, float]:
    """Jobs per second and CPU seconds per job (this process, every thread) of a burst drain
    of ``jobs`` jobs of ``body`` (see :func:`declare_bench_job`) on ``app``, enqueued first
    (untimed) inside ``enqueuing``; closes the app."""
    job = declare_bench_job(app, body)
    app.store.migrate()
    with enqueuing or nullcontext():
        for offset in range(0, jobs, 1000):
            job.enqueue_many([{"i": i} for i in range(offset, min(jobs, offset + 1000))])
    cpu = time.process_time()
    began = time.perf_counter()
    result = drain(app, concurrency=50, timeout=600)
    took = time.perf_counter() - began
    cpu = time.process_time() - cpu
    assert result.succeeded == jobs, result
    app.close()
    return jobs / took, cpu / jobs
