"""Where observability's cost per job goes, part by part, beside the OpenTelemetry SDK's own
floor, with an A/B against another revision in the same run (issue 15, decision 115).

Per round, in a fresh process per side (this checkout, and ``--base REV`` exported with ``git
archive`` and put first on ``PYTHONPATH``), sides alternating:

* ``chain``: process CPU µs per attempt of the middleware chain around a body that does
  nothing, the worker's job log always installed (as in every worker): ``none`` (logs at
  WARNING), ``logs`` (the lifecycle lines as JSON at INFO, to ``/dev/null`` through the real
  formatter), ``metrics`` (prometheus-client in multi-process mode), ``otel``
  (``OpenTelemetryMiddleware`` on the SDK, a ``BatchSpanProcessor`` whose exporter drops the
  spans, the job's headers carrying a ``traceparent``), ``all`` (the three). Configs rotate.
* ``floor``: the SDK alone (same provider): start and end one consumer span with the
  attributes and the link the middleware gives it (the parent context extracted beforehand),
  and one producer span with its attributes; µs per span, the same code on both sides.
* ``--pairs``: also the chain with two parts on (``logs+otel``, ``logs+metrics``,
  ``metrics+otel``), and with ``filler`` (a middleware that runs unrelated library code, about
  10 µs of JSON, decimal and fraction arithmetic) alone and beside the logs: whether a part
  costs more beside another is Conveyor's doing or the interpreter's (decision 121).
* ``drain`` (``--drain N``, 0 to skip): no-op burst drains of N jobs on SQLite with each part
  alone and all of them (``everything_overhead.py``'s set-ups), CPU µs per job added over off.

Printed: per side, medians over the rounds of each figure and of the µs added over ``none``
(or ``off``), the median per-round ratio new/base of the added µs, and the load average.

    .venv/bin/python benchmarks/observe_parts.py [--rounds 5] [--attempts 10000]
        [--drain 0] [--base main]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIGS = ("none", "logs", "metrics", "otel", "all")
PAIRS = ("logs+otel", "logs+metrics", "metrics+otel", "filler", "logs+filler")
PARTS = ("off", "logs", "metrics", "otel", "all")


def filler() -> Any:
    """A middleware running unrelated library code around each attempt (see ``--pairs``)."""
    import decimal
    import fractions

    from conveyor.middleware import Middleware

    class Filler(Middleware):
        async def around_attempt(self, attempt: Any, call_next: Any) -> Any:
            json.loads(json.dumps({"a": [1, 2, 3], "b": {"c": "d"}}))
            _ = decimal.Decimal("1.5") * decimal.Decimal("2.25")
            _ = fractions.Fraction(3, 7) + fractions.Fraction(1, 9)
            return await call_next()

    return Filler()


def one_round(attempts: int, drain_jobs: int, index: int, pairs: bool) -> dict[str, float]:
    """Measure every figure once in this process; µs, keyed ``chain:<config>``,
    ``floor:<span>`` and ``drain:<part>``."""
    import asyncio
    import logging
    import time

    # observe_overhead points prometheus-client at its multi-process folder: import it first.
    from observe_overhead import METRICS, log_to_devnull  # isort: skip
    from chain_timing import bench_context, drain_rate_and_cpu, seconds_per_attempt
    from everything_overhead import observed_app
    from otel_overhead import PROVIDER, WEB

    from conveyor._logformat import JsonFormatter
    from conveyor.middleware import Enqueueing, Middleware
    from conveyor.otel import OpenTelemetryMiddleware
    from conveyor.worker.joblog import JobLog

    with WEB.start_as_current_span("POST /bench"):
        job = Enqueueing("bench.noop", "default", None)
        producer = OpenTelemetryMiddleware(PROVIDER)
        producer.on_enqueue(job)
        producer.after_enqueue(job, 1)
    otel = OpenTelemetryMiddleware(PROVIDER)
    chains: dict[str, tuple[list[Middleware], bool]] = {
        "none": ([JobLog()], False),
        "logs": ([JobLog()], True),
        "metrics": ([JobLog(), METRICS], False),
        "otel": ([JobLog(), otel], False),
        "all": ([JobLog(), METRICS, otel], True),
        "logs+otel": ([JobLog(), otel], True),
        "logs+metrics": ([JobLog(), METRICS], True),
        "metrics+otel": ([JobLog(), METRICS, otel], False),
        "filler": ([JobLog(), filler()], False),
        "logs+filler": ([JobLog(), filler()], True),
    }
    found: dict[str, float] = {}
    configs = CONFIGS + PAIRS if pairs else CONFIGS
    names = list(configs[index % len(configs):] + configs[:index % len(configs)])
    for name in names:
        items, logs = chains[name]
        log_to_devnull(JsonFormatter("bench") if logs else None,
                       logging.INFO if logs else logging.WARNING)
        ctx = bench_context(tenant=None)
        ctx.headers = dict(job.headers)
        began = time.process_time()
        asyncio.run(seconds_per_attempt(items, ctx, attempts))
        found[f"chain:{name}"] = (time.process_time() - began) / attempts * 1e6
    log_to_devnull(None, logging.WARNING)

    found.update(sdk_floor(PROVIDER, WEB, job.headers, attempts))

    if drain_jobs:
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as folder:
            for part in (PARTS if index % 2 == 0 else PARTS[::-1]):
                on: bool | str = {"off": False, "all": True}.get(part, part)
                app = observed_app(f"sqlite:///{Path(folder) / f'{part}.db'}", on)
                _, cpu = drain_rate_and_cpu(
                    app, drain_jobs, WEB.start_as_current_span("POST /bench")
                )
                found[f"drain:{part}"] = cpu * 1e6
        log_to_devnull(None, logging.WARNING)
    PROVIDER.shutdown()
    return found


def sdk_floor(
    provider: Any, web: Any, headers: dict[str, str], spans: int
) -> dict[str, float]:
    """µs per span of the SDK alone starting and ending the consumer span the middleware
    makes (its attributes and link, the parent extracted beforehand) and the producer span."""
    import time

    from opentelemetry import propagate, trace
    from opentelemetry.trace import Link, SpanKind

    tracer = provider.get_tracer("bench.floor")
    parent = propagate.extract(headers)
    sent = trace.get_current_span(parent).get_span_context()
    consumer = {
        "messaging.system": "conveyor", "messaging.destination.name": "default",
        "messaging.operation.type": "process", "messaging.operation.name": "process",
        "messaging.message.id": "1", "conveyor.job.name": "bench.noop", "conveyor.attempt": 1,
        "conveyor.max_attempts": 4, "conveyor.queue_wait": 0.001,
        "conveyor.outcome": "succeeded",
    }
    found: dict[str, float] = {}
    began = time.process_time()
    for _ in range(spans):
        tracer.start_span("process default", context=parent, kind=SpanKind.CONSUMER,
                          attributes=consumer, links=[Link(sent)]).end()
    found["floor:consumer"] = (time.process_time() - began) / spans * 1e6
    sending = {
        "messaging.system": "conveyor", "messaging.destination.name": "default",
        "messaging.operation.type": "send", "messaging.operation.name": "send",
        "conveyor.job.name": "bench.noop", "messaging.message.id": "1",
    }
    with web.start_as_current_span("POST /bench"):
        began = time.process_time()
        for _ in range(spans):
            tracer.start_span("send default", kind=SpanKind.PRODUCER, attributes=sending).end()
        found["floor:producer"] = (time.process_time() - began) / spans * 1e6
    return found


def export(rev: str, into: Path) -> Path:
    """``rev``'s tree in ``into`` (``git archive``)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_side(tree: Path, args: argparse.Namespace, index: int) -> dict[str, float]:
    """One round in a fresh process importing ``tree``'s Conveyor."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), str(HERE)]))
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--one", str(index),
         "--attempts", str(args.attempts), "--drain", str(args.drain)]
        + (["--pairs"] if args.pairs else []),
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def summary(name: str, runs: list[dict[str, float]], base: str) -> dict[str, list[float]]:
    """Print one side's medians; return the µs each part added per round, keyed by figure."""
    added: dict[str, list[float]] = {}
    print(f"\n{name}")
    for kind, zero, parts in (("chain", "none", CONFIGS + PAIRS), ("drain", "off", PARTS)):
        if f"{kind}:{zero}" not in runs[0]:
            continue
        cells = []
        for part in parts:
            key = f"{kind}:{part}"
            if key not in runs[0]:
                continue
            median = statistics.median(r[key] for r in runs)
            if part == zero:
                cells.append(f"{part} {median:.1f}")
                continue
            added[key] = [r[key] - r[f"{kind}:{zero}"] for r in runs]
            cells.append(f"{part} {median:.1f} (+{statistics.median(added[key]):.1f})")
        unit = "µs per attempt" if kind == "chain" else "µs per job"
        print(f"  {kind:6s} CPU {unit}: " + ";  ".join(cells))
    floors = [f"{span} {statistics.median(r[f'floor:{span}'] for r in runs):.1f}"
              for span in ("consumer", "producer")]
    print(f"  SDK floor, µs per span started and ended: {', '.join(floors)}")
    return added


def main() -> None:
    """Run the rounds (or, with ``--one``, a single round in this process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--drain", type=int, default=0, help="jobs per drain (0: no drains)")
    parser.add_argument("--base", default="main", help="revision of the base side ('' for none)")
    parser.add_argument("--pairs", action="store_true",
                        help="also two parts at once, and a filler middleware (see the doc)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_round(args.attempts, args.drain, args.one, args.pairs)))
        return
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"load at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        sides = [("new", ROOT)]
        if args.base:
            sides.append(("base", export(args.base, Path(tmp) / "base")))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
        for index in range(args.rounds):
            for name, tree in sides if index % 2 == 0 else sides[::-1]:
                runs[name].append(run_side(tree, args, index))
    added = {name: summary(f"{name} ({args.base if name == 'base' else 'this checkout'}), "
                           f"medians of {args.rounds} rounds", found, args.base)
             for name, found in runs.items()}
    if "base" in added:
        print("\nadded µs, new / base (median of per-round ratios)")
        for key in added["new"]:
            pairs = zip(added["new"][key], added["base"][key], strict=True)
            ratios = [n / b for n, b in pairs if b > 0]
            if ratios:
                print(f"  {key:14s} {statistics.median(ratios):.2f}  "
                      f"({', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"# load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
