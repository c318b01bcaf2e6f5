"""Everything on vs everything off: JSON logs + Prometheus + OpenTelemetry per job (issue 15).

"Off" is logs at WARNING, no metrics, no tracing. "On" is what a fully observed worker runs:
the job lifecycle log as JSON lines at INFO (to ``/dev/null`` through the real formatter),
prometheus-client in multi-process mode (as ``--metrics-port`` runs it), and
``OpenTelemetryMiddleware`` on the SDK with a ``BatchSpanProcessor`` whose exporter drops the
spans (the set-ups of ``observe_overhead.py`` and ``otel_overhead.py``, imported from them).
Jobs are enqueued inside a request span, so each gets a producer span and its attempt a
consumer span.

* ``drain``: burst drains on a fresh SQLite file (``conveyor.testing.drain``, one process,
  concurrency 50) of no-op ``async def`` jobs and of ``def`` jobs that sleep 1 ms; jobs/s,
  on/off ratio, µs added per job, and CPU µs per job (``time.process_time``, every thread of
  the process) for each, off/on pairs interleaved (order alternating), medians.
* ``latency``: a running worker (not burst) in this process's event loop while a producer
  enqueues no-op jobs one at a time at a fixed rate; enqueue → start (``started_at -
  created_at``) p50 and p99 in ms, off/on interleaved, medians of the rounds' percentiles.

* ``--parts``: also no-op drains with logs, metrics and tracing each alone (CPU µs per job
  added over off), to see where the cost goes.

    .venv/bin/python benchmarks/everything_overhead.py [--jobs 5000] [--latency-jobs 600]
        [--rate 200] [--rounds 5] [--parts]
"""

from __future__ import annotations

# observe_overhead points prometheus-client at its multi-process folder: import it first.
from observe_overhead import METRICS, log_to_devnull  # isort: skip

import argparse
import asyncio
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chain_timing import declare_bench_job, drain_rate_and_cpu
from otel_overhead import PROVIDER, WEB

from conveyor import Conveyor
from conveyor._logformat import JsonFormatter
from conveyor.models import JobState
from conveyor.otel import OpenTelemetryMiddleware
from conveyor.worker.claim_loop import WorkerProcess
from conveyor.worker.config import WorkerConfig

BODIES = ("noop", "sleep1ms")


PARTS = ("logs", "metrics", "otel")
"""What "on" turns on; ``--parts`` also drains no-op jobs with each alone."""


def observed_app(url: str, on: bool | str) -> Conveyor:
    """An app on ``url`` with everything on (logs, metrics, tracing), everything off, or
    one of :data:`PARTS` alone."""
    parts = set(PARTS) if on is True else set() if on is False else {on}
    if "logs" in parts:
        log_to_devnull(JsonFormatter("bench"), logging.INFO)
    else:
        log_to_devnull(None, logging.WARNING)
    app = Conveyor(url, middleware=[OpenTelemetryMiddleware(PROVIDER)] if "otel" in parts else [])
    if "metrics" in parts:
        app.middleware = app.middleware.with_first(METRICS)
    return app


async def latencies_ms(app: Conveyor, jobs: int, rate: float) -> list[float]:
    """Enqueue → start in ms of ``jobs`` no-op jobs enqueued at ``rate`` per second while a
    worker runs on this event loop; closes the app."""
    job = declare_bench_job(app, "noop")
    app.store.migrate()
    config = WorkerConfig(concurrency=50, scheduler=False, monitor=False, duties=False)
    worker = WorkerProcess(app, config, f"bench:{os.getpid()}")
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)  # let it reach its idle wait
    ids = []
    start = time.monotonic()
    with WEB.start_as_current_span("POST /bench"):
        for i in range(jobs):
            pause = start + i / rate - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            ids.append((await job.enqueue_async(i=i)).id)
    while True:
        done = await asyncio.to_thread(app.store.get_jobs, ids)
        if all(j.state is JobState.SUCCEEDED for j in done):
            break
        await asyncio.sleep(0.05)
    worker.request_stop()
    await running
    await app.aclose()
    app.close()
    return sorted(((j.started_at or 0.0) - j.created_at) * 1000.0 for j in done)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def interleaved(rounds: int, run: Callable[[bool, int], None]) -> None:
    """Call ``run(on, index)`` for off and on in each round, the order alternating."""
    for index in range(rounds):
        for on in (False, True) if index % 2 == 0 else (True, False):
            run(on, index * 2 + on)


def main() -> None:
    """Run the drains and the latency rounds and print their medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--latency-jobs", type=int, default=600)
    parser.add_argument("--rate", type=float, default=200.0, help="latency enqueues per second")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", action="store_true",
                        help="also drain no-op jobs with each of logs, metrics, otel alone")
    args = parser.parse_args()
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"load at start {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")

    rates: dict[tuple[str, bool], list[float]] = {}
    cpus: dict[tuple[str, bool], list[float]] = {}
    p50: dict[bool, list[float]] = {False: [], True: []}
    p99: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as folder:
        for body in BODIES:
            def drain_one(on: bool, index: int, body: str = body) -> None:
                app = observed_app(f"sqlite:///{Path(folder) / f'{body}{index}.db'}", on)
                rate, cpu = drain_rate_and_cpu(
                    app, args.jobs, WEB.start_as_current_span("POST /bench"), body
                )
                rates.setdefault((body, on), []).append(rate)
                cpus.setdefault((body, on), []).append(cpu)

            interleaved(args.rounds, drain_one)

        parts: dict[str, list[float]] = {}
        if args.parts:
            for index in range(args.rounds):
                for part in (False, *PARTS, True):
                    app = observed_app(f"sqlite:///{Path(folder) / f'part{index}{part}.db'}", part)
                    _, cpu = drain_rate_and_cpu(
                        app, args.jobs, WEB.start_as_current_span("POST /bench")
                    )
                    parts.setdefault(str(part), []).append(cpu)

        def latency_one(on: bool, index: int) -> None:
            app = observed_app(f"sqlite:///{Path(folder) / f'latency{index}.db'}", on)
            found = asyncio.run(latencies_ms(app, args.latency_jobs, args.rate))
            p50[on].append(percentile(found, 0.50))
            p99[on].append(percentile(found, 0.99))

        interleaved(args.rounds, latency_one)
    log_to_devnull(None, logging.WARNING)

    print(f"\ndrain, {args.jobs} jobs, SQLite, 1 process, concurrency 50, {args.rounds} "
          "interleaved off/on pairs (medians)")
    for body in BODIES:
        off, on = (statistics.median(rates[(body, b)]) for b in (False, True))
        cpu_off, cpu_on = (statistics.median(cpus[(body, b)]) * 1e6 for b in (False, True))
        print(f"  {body:9s} off {off:7.0f} jobs/s  on {on:7.0f} jobs/s  on/off {on / off:.3f}  "
              f"+{(1 / on - 1 / off) * 1e6:.1f} µs/job wall;  CPU {cpu_off:.0f} → {cpu_on:.0f} "
              f"µs/job (+{cpu_on - cpu_off:.1f})")
        print(f"            off {[round(r) for r in rates[(body, False)]]}  "
              f"on {[round(r) for r in rates[(body, True)]]}")
    if parts:
        base = statistics.median(parts["False"])
        print(f"\nno-op drain, CPU µs per job added over off, each part alone ({args.rounds} "
              "interleaved rounds, medians)")
        for part in (*PARTS, "True"):
            name = "all three" if part == "True" else part
            print(f"  {name:9s} +{(statistics.median(parts[part]) - base) * 1e6:6.1f}")
    print(f"\nlatency, {args.latency_jobs} no-op jobs at {args.rate:.0f}/s, enqueue → start "
          f"(median of {args.rounds} rounds' percentiles)")
    for on in (False, True):
        print(f"  {'on ' if on else 'off'}  p50 {statistics.median(p50[on]):6.2f} ms   "
              f"p99 {statistics.median(p99[on]):6.2f} ms   "
              f"(p99s {[round(v, 2) for v in p99[on]]})")
    print(f"# load at end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    PROVIDER.shutdown()


if __name__ == "__main__":
    main()
