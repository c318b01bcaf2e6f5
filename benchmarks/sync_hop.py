"""The thread hop of a sync handler alone: ``loop.run_in_executor`` against Conveyor's
``JobThreads``, without and with a timeout, in CPU and wall microseconds per call.

Run from the repository root::

    .venv/bin/python benchmarks/sync_hop.py [--calls 20000] [--lanes 50] [--runs 5]

``--lanes`` tasks (a worker's slots) each hand ``--calls / --lanes`` no-op calls to threads one
after another, as a worker's slots do with sync no-op jobs. ``executor`` is what the worker did
before decision 122: ``run_in_executor`` on a ``ThreadPoolExecutor`` of ``--lanes`` threads
with the caller's context copied, and for a timeout ``wait_for(shield(...))``. ``threads`` is
``conveyor.worker.job_threads.JobThreads`` with ``asyncio.timeout``. The variants alternate
within every run; printed are the medians over ``--runs`` of process CPU (every thread) and
wall time per call, and threads / executor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conveyor.worker.job_threads import JobThreads

Hop = Callable[[], Awaitable[int]]


def noop() -> int:
    """The handler: nothing, so the hop is all that is timed."""
    return 1


def executor_hop(pool: ThreadPoolExecutor, timeout: float | None) -> Hop:
    """The worker's hop before decision 122."""
    loop = asyncio.get_running_loop()

    async def hop() -> int:
        future = loop.run_in_executor(pool, contextvars.copy_context().run, noop)
        if timeout is None:
            return await future
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    return hop


def threads_hop(threads: JobThreads, timeout: float | None) -> Hop:
    """The worker's hop since decision 122."""

    async def hop() -> int:
        future = threads.submit(noop)
        if timeout is None:
            return await future
        async with asyncio.timeout(timeout):
            return await future

    return hop


async def measure(
    variant: str, timeout: float | None, calls: int, lanes: int
) -> tuple[float, float]:
    """CPU and wall microseconds per call of one variant."""
    pool = ThreadPoolExecutor(lanes)
    threads = JobThreads(asyncio.get_running_loop(), lanes, "bench")
    hop = executor_hop(pool, timeout) if variant == "executor" else threads_hop(threads, timeout)
    per_lane = calls // lanes

    async def lane() -> None:
        for _ in range(per_lane):
            await hop()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(lanes)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    pool.shutdown()
    threads.shutdown()
    done = per_lane * lanes
    return 1e6 * cpu / done, 1e6 * wall / done


def main() -> None:
    """Alternate the variants, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--lanes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: dict[tuple[str, float | None], list[tuple[float, float]]] = {}
    for _ in range(args.runs):
        for timeout in (None, 60.0):
            for variant in ("executor", "threads"):
                figure = asyncio.run(measure(variant, timeout, args.calls, args.lanes))
                results.setdefault((variant, timeout), []).append(figure)
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'variant':<10} {'timeout':>8} {'cpu µs':>8} {'wall µs':>8}")
    medians: dict[tuple[str, float | None], tuple[float, float]] = {}
    for (variant, timeout), figures in results.items():
        cpu = statistics.median(f[0] for f in figures)
        wall = statistics.median(f[1] for f in figures)
        medians[(variant, timeout)] = (cpu, wall)
        print(f"{variant:<10} {timeout!s:>8} {cpu:8.1f} {wall:8.1f}")
    for timeout in (None, 60.0):
        new, old = medians[("threads", timeout)], medians[("executor", timeout)]
        print(f"threads / executor, timeout {timeout}: cpu {new[0] / old[0]:.2f}, "
              f"wall {new[1] / old[1]:.2f}")


if __name__ == "__main__":
    main()
