"""What the garbage collector costs a worker per job, and what ``gc.freeze()`` after start-up
saves (decision 121).

Each round runs every config in a fresh process (so no config inherits another's heap), the
order rotating: a burst drain (``conveyor.testing.drain``, concurrency 50, one process, a
fresh SQLite file) of ``--jobs`` no-op ``async def`` jobs, enqueued first (untimed), with
observability ``off`` (logs at WARNING, no metrics, no tracing) or ``on`` (JSON lifecycle lines
at INFO to ``/dev/null``, prometheus-client in multi-process mode, ``OpenTelemetryMiddleware``
on the SDK with a batch processor that drops the spans; ``everything_overhead.py``'s set-up),
and ``frozen`` or not: a collection and ``gc.freeze()`` just before the drain, what a worker
process does once it has started (``freeze_start_up``). Reported per config, medians of the
rounds: CPU µs per job (every thread of the process), jobs/s, and the collector's own CPU time
per job with its collections of each generation (from ``gc.callbacks``).

    .venv/bin/python benchmarks/gc_freeze.py [--jobs 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIGS = ("off", "off+frozen", "on", "on+frozen")


class CollectorClock:
    """CPU time spent in collections (of the thread collecting), and their count per
    generation, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.counts = [0, 0, 0]
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._began
            self.counts[info["generation"]] += 1


def one(config: str, jobs: int) -> dict[str, float]:
    """Drain ``jobs`` no-op jobs under ``config`` in this process."""
    # observe_overhead points prometheus-client at its multi-process folder: import it first.
    import observe_overhead  # noqa: F401  # isort: skip
    from chain_timing import declare_bench_job
    from everything_overhead import observed_app
    from otel_overhead import PROVIDER, WEB

    from conveyor.testing import drain

    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as folder:
        app = observed_app(f"sqlite:///{Path(folder) / 'gc.db'}", config.startswith("on"))
        job = declare_bench_job(app, "noop")
        app.store.migrate()
        with WEB.start_as_current_span("POST /bench"):
            for offset in range(0, jobs, 1000):
                job.enqueue_many([{"i": i} for i in range(offset, min(jobs, offset + 1000))])
        if config.endswith("frozen"):
            gc.collect()
            gc.freeze()
        clock = CollectorClock()
        gc.callbacks.append(clock)
        cpu = time.process_time()
        began = time.perf_counter()
        result = drain(app, concurrency=50, timeout=600)
        took = time.perf_counter() - began
        cpu = time.process_time() - cpu
        gc.callbacks.remove(clock)
        assert result.succeeded == jobs, result
        app.close()
    PROVIDER.shutdown()
    return {
        "cpu_us": cpu / jobs * 1e6, "jobs_s": jobs / took, "gc_us": clock.seconds / jobs * 1e6,
        "gen0": clock.counts[0], "gen1": clock.counts[1], "gen2": clock.counts[2],
        "frozen": gc.get_freeze_count(),
    }


def main() -> None:
    """Run the rounds (or, with ``--one``, one config in this process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.jobs)))
        return
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"load at start {os.getloadavg()[0]:.2f}")
    found: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), str(HERE)) if p
    ))
    for index in range(args.rounds):
        for config in CONFIGS[index % 4:] + CONFIGS[:index % 4]:
            out = subprocess.run(
                [sys.executable, __file__, "--one", config, "--jobs", str(args.jobs)],
                env=env, check=True, capture_output=True, text=True,
            ).stdout
            found[config].append(json.loads(out.strip().splitlines()[-1]))
    print(f"\n{args.jobs} no-op jobs per drain, medians of {args.rounds} rounds")
    for config, runs in found.items():
        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(f"  {config:11s} CPU {med('cpu_us'):6.1f} µs/job  {med('jobs_s'):6.0f} jobs/s  "
              f"collector {med('gc_us'):5.1f} µs/job (collections by generation "
              f"{med('gen0'):.0f}/{med('gen1'):.0f}/{med('gen2'):.0f}; frozen "
              f"{med('frozen'):.0f} objects)  CPU per round "
              f"{[round(r['cpu_us'], 1) for r in runs]}")
    for side in ("off", "on"):
        ratios = [f["cpu_us"] / p["cpu_us"]
                  for f, p in zip(found[f"{side}+frozen"], found[side], strict=True)]
        print(f"  {side}: frozen / not, CPU per job, median of per-round ratios "
              f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"# load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
