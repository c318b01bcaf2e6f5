"""What the job lifecycle log and the Prometheus metrics cost per job (issue 15).

Two measurements, each as interleaved rounds whose medians are reported:

* ``chain``: the middleware chain around one attempt whose body does nothing, timed over many
  attempts in one event loop: no middleware; the lifecycle log with INFO off (the default
  cost when logs are turned down); the log as text; the log as JSON lines; JSON lines plus
  the metrics (prometheus-client in multi-process mode, as ``--metrics-port`` runs it). Log
  lines go to ``/dev/null`` through the real formatters.
* ``drain``: no-op ``async def`` jobs on a fresh SQLite file, run by a real worker loop in burst
  mode (``conveyor.testing.drain``, one process); jobs/s with logs at WARNING and no metrics
  ("off") and with JSON lines at INFO plus metrics ("on"), pairs interleaved.

    .venv/bin/python benchmarks/observe_overhead.py [--attempts 50000] [--jobs 5000]
        [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# prometheus-client reads its multi-process folder when first imported: set it before.
METRICS_DIR = tempfile.mkdtemp(prefix="conveyor-bench-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR

from chain_timing import bench_context, noop_drain_rate, seconds_per_attempt  # noqa: E402

from conveyor import Conveyor  # noqa: E402
from conveyor._logformat import JsonFormatter, TextFormatter  # noqa: E402
from conveyor.middleware import (  # noqa: E402
    Middleware,
)
from conveyor.worker.joblog import JobLog  # noqa: E402
from conveyor.worker.metrics import AttemptMetrics  # noqa: E402

METRICS = AttemptMetrics()


def log_to_devnull(formatter: logging.Formatter | None, level: int) -> None:
    """Route every record to /dev/null through ``formatter`` at ``level``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (kept for the run)
    if formatter is not None:
        handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)


CONFIGS: dict[str, tuple[list[Middleware], logging.Formatter | None, int]] = {
    "none": ([], None, logging.WARNING),
    "log, INFO off": ([JobLog()], None, logging.WARNING),
    "log text": ([JobLog()], TextFormatter("bench"), logging.INFO),
    "log json": ([JobLog()], JsonFormatter("bench"), logging.INFO),
    "metrics, log off": ([JobLog(), METRICS], None, logging.WARNING),
    "log json + metrics": ([JobLog(), METRICS], JsonFormatter("bench"), logging.INFO),
}


async def chain_seconds(items: list[Middleware], attempts: int) -> float:
    """Seconds per attempt of the chain around a body that does nothing."""
    return await seconds_per_attempt(items, bench_context(), attempts)


def drain_rate(jobs: int, on: bool, folder: Path, index: int) -> float:
    """Jobs per second of a burst drain of ``jobs`` no-op async jobs."""
    if on:
        log_to_devnull(JsonFormatter("bench"), logging.INFO)
    else:
        log_to_devnull(None, logging.WARNING)
    app = Conveyor(f"sqlite:///{folder / f'drain{index}.db'}")
    if on:
        app.middleware = app.middleware.with_first(METRICS)
    return noop_drain_rate(app, jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--attempts", type=int, default=50_000)
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}")

    per: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, (items, formatter, level) in CONFIGS.items():
            log_to_devnull(formatter, level)
            began = time.process_time()
            per[name].append(asyncio.run(chain_seconds(items, args.attempts)))
            cpu[name].append((time.process_time() - began) / args.attempts)
    base = statistics.median(per["none"])
    cpu_base = statistics.median(cpu["none"])
    print(f"\nchain, {args.attempts} attempts x {args.rounds} interleaved rounds (median µs "
          "per attempt; extra = over no middleware)")
    for name, values in per.items():
        median = statistics.median(values)
        print(f"  {name:20s} {median * 1e6:7.2f} µs   extra {(median - base) * 1e6:6.2f} µs   "
              f"(min {min(values) * 1e6:.2f}, max {max(values) * 1e6:.2f}); CPU extra "
              f"{(statistics.median(cpu[name]) - cpu_base) * 1e6:6.2f} µs")

    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as folder:
        for index in range(args.rounds):
            for on in (False, True) if index % 2 == 0 else (True, False):
                rates[on].append(drain_rate(args.jobs, on, Path(folder), index * 2 + on))
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"\ndrain, {args.jobs} no-op async jobs, SQLite, 1 process, {args.rounds} "
          "interleaved pairs (median jobs/s)")
    print(f"  off (WARNING, no metrics)   {off:8.0f}   {[round(r) for r in rates[False]]}")
    print(f"  on  (JSON INFO + metrics)   {on:8.0f}   {[round(r) for r in rates[True]]}")
    print(f"  on/off {on / off:.3f}; per job {(1 / on - 1 / off) * 1e6:+.1f} µs")


if __name__ == "__main__":
    main()
