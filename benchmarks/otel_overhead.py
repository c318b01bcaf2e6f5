"""What OpenTelemetry tracing costs per job (issue 15, item 4), as medians of interleaved rounds.

Tracing "on" is the SDK's ``TracerProvider`` with a ``BatchSpanProcessor`` (as in production)
whose exporter discards the spans, so the export's network cost is left out; "no-op" is the
API alone (no SDK provider), what an app pays with the middleware installed but tracing off.

* ``enqueue``: the middleware chain's ``on_enqueue`` and ``after_enqueue`` for one job (the
  producer span from start to end), inside a request span (µs).
* ``attempt``: the middleware chain around one attempt whose body does nothing, for a job whose
  headers carry a ``traceparent`` (µs).
* ``bare span``: the SDK alone starting and ending one span with four attributes, the floor
  under each of the two spans above.
* ``drain``: no-op ``async def`` jobs on a fresh SQLite file, run by a real worker loop in burst
  mode (``conveyor.testing.drain``, one process), jobs/s with tracing off and on, pairs
  interleaved. Only the drain is timed, not the enqueue.

    .venv/bin/python benchmarks/otel_overhead.py [--calls 20000] [--jobs 5000] [--rounds 5]
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
from collections.abc import Sequence
from pathlib import Path

from chain_timing import bench_context, noop_drain_rate, seconds_per_attempt
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from conveyor import Conveyor
from conveyor.middleware import (
    Enqueueing,
    Middleware,
    MiddlewareChain,
)
from conveyor.otel import OpenTelemetryMiddleware


class Discard(SpanExporter):
    """An exporter that drops every span: the export's own cost is not ours."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Drop ``spans``."""
        return SpanExportResult.SUCCESS


PROVIDER = TracerProvider()
PROVIDER.add_span_processor(BatchSpanProcessor(Discard()))
WEB = PROVIDER.get_tracer("bench.web")

CONFIGS: dict[str, list[Middleware]] = {
    "none": [],
    "otel, no-op API": [OpenTelemetryMiddleware(trace.NoOpTracerProvider())],
    "otel, SDK": [OpenTelemetryMiddleware(PROVIDER)],
}


def enqueue_seconds(items: list[Middleware], calls: int) -> float:
    """Seconds per ``on_enqueue`` plus ``after_enqueue`` of the chain, inside a request span."""
    chain = MiddlewareChain(items)
    with WEB.start_as_current_span("POST /bench"):
        began = time.perf_counter()
        for job_id in range(calls):
            job = Enqueueing("bench.noop", "default", None)
            chain.enqueue(job)
            chain.after_enqueue(job, job_id)
        return (time.perf_counter() - began) / calls


def bare_span_seconds(calls: int) -> float:
    """Seconds per start and end of one SDK span with four attributes: the SDK's own floor."""
    tracer = PROVIDER.get_tracer("bench.bare")
    attributes = {"a": "x", "b": "y", "c": "z", "d": "w"}
    with WEB.start_as_current_span("POST /bench"):
        began = time.perf_counter()
        for _ in range(calls):
            tracer.start_span("bare", attributes=attributes).end()
        return (time.perf_counter() - began) / calls


async def attempt_seconds(items: list[Middleware], calls: int) -> float:
    """Seconds per attempt of the chain around a body that does nothing."""
    with WEB.start_as_current_span("POST /bench"):
        job = Enqueueing("bench.noop", "default", None)
        producer = OpenTelemetryMiddleware(PROVIDER)
        producer.on_enqueue(job)
        producer.after_enqueue(job, 1)
    ctx = bench_context(tenant=None)
    ctx.headers = job.headers
    return await seconds_per_attempt(items, ctx, calls)


def drain_rate(jobs: int, on: bool, folder: Path, index: int) -> float:
    """Jobs per second of a burst drain of ``jobs`` no-op async jobs."""
    middleware: list[Middleware] = [OpenTelemetryMiddleware(PROVIDER)] if on else []
    app = Conveyor(f"sqlite:///{folder / f'drain{index}.db'}", middleware=middleware)
    return noop_drain_rate(app, jobs, WEB.start_as_current_span("POST /bench"))


def report(title: str, per: dict[str, list[float]]) -> None:
    """Print medians per config and the extra over no middleware, in µs."""
    base = statistics.median(per["none"])
    print(f"\n{title}")
    for name, values in per.items():
        median = statistics.median(values)
        print(f"  {name:18s} {median * 1e6:7.2f} µs   extra {(median - base) * 1e6:6.2f} µs   "
              f"(min {min(values) * 1e6:.2f}, max {max(values) * 1e6:.2f})")


def main() -> None:
    """Run the three measurements and print their medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)  # the job log's lines are not measured here
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}")

    bare: list[float] = []
    enqueue: dict[str, list[float]] = {name: [] for name in CONFIGS}
    attempt: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, items in CONFIGS.items():
            enqueue[name].append(enqueue_seconds(items, args.calls))
            attempt[name].append(asyncio.run(attempt_seconds(items, args.calls)))
        bare.append(bare_span_seconds(args.calls))
    report(f"enqueue hook, {args.calls} calls x {args.rounds} interleaved rounds", enqueue)
    print(f"  (the SDK alone: one span started and ended, 4 attributes: "
          f"{statistics.median(bare) * 1e6:.2f} µs)")
    report(f"attempt chain, {args.calls} attempts x {args.rounds} interleaved rounds", attempt)

    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as folder:
        for index in range(args.rounds):
            for on in (False, True) if index % 2 == 0 else (True, False):
                rates[on].append(drain_rate(args.jobs, on, Path(folder), index * 2 + on))
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"\ndrain, {args.jobs} no-op async jobs, SQLite, 1 process, {args.rounds} "
          "interleaved pairs (median jobs/s)")
    print(f"  off          {off:8.0f}   {[round(r) for r in rates[False]]}")
    print(f"  on (SDK)     {on:8.0f}   {[round(r) for r in rates[True]]}")
    print(f"  on/off {on / off:.3f}; per job {(1 / on - 1 / off) * 1e6:+.1f} µs")
    PROVIDER.shutdown()


if __name__ == "__main__":
    main()
