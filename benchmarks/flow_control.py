"""What flow control costs (issue 14, item 4): throughput of plain no-op jobs, of the same jobs
spread over 20 tenants, and of jobs under a ``Concurrency`` limit that never binds, in one run.

Run from the repository root::

    .venv/bin/python benchmarks/flow_control.py [--stores postgres,sqlite] [--jobs 20000]
        [--runs 3] [--tenants 20] [--base main] [--cases plain,tenants,limited,declared]

Cases (each on a fresh database, ``--jobs`` async no-ops enqueued in bulk first, then a burst
worker of 2 processes x 50 slots, ``WorkerConfig`` defaults otherwise; jobs/s from the first
``started_at`` to the last ``finished_at``, both written by the store):

- ``plain``: jobs without a tenant, worked by an app that declares no limited type
  (``flowapp:plain``).
- ``tenants``: the same jobs spread evenly over ``--tenants`` tenants (one bulk call each), the
  same app: every claim takes turns between them.
- ``limited``: jobs of a type with ``Concurrency(10_000)`` (keyed per type, so one key),
  worked by ``flowapp:limited``: every claim runs the limited pass.
- ``declared``: plain jobs worked by ``flowapp:limited``: what declaring a limited type costs
  a worker whose claims find none (the cheap look). ``bench.py``'s processing figures run
  this way, since ``benchapp`` declares a limited type.

With ``--base REV`` (default ``main``; ``''`` for none) every case runs twice per round, once
with this checkout's Conveyor (or ``--new REV``'s) and once with ``REV``'s (exported with
``git archive``; its subprocesses get it on ``PYTHONPATH``), so a change to the claim path is
an A/B in one run.
Sides alternate and cases rotate from round to round. Every run checks that each job succeeded
exactly once (one attempt each). Printed: per side and store, the median jobs/s of each case,
the median of the per-round ratios to ``plain`` (the figures the issue names), the worker's CPU
per job, and the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench import (  # noqa: E402
    DEFAULT_PG_URL,
    PostgresTarget,
    SQLiteTarget,
    Target,
    wait_for_idle,
)

CASES = ("plain", "tenants", "limited", "declared")
APP_OF = {"plain": "plain", "tenants": "plain", "limited": "limited", "declared": "limited"}
WORKER = (
    "import sys; from conveyor.worker import WorkerConfig, run_worker; "
    "sys.exit(run_worker('flowapp:' + sys.argv[1], "
    "WorkerConfig(processes=2, concurrency=50, burst=True)))"
)
LOAD = """
import sys
import flowapp
case, n, tenants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
app = flowapp.limited
app.store.migrate()
job = app.get(flowapp.LIMITED if case == "limited" else flowapp.NOOP)
groups = tenants if case == "tenants" else 1
for t in range(groups):
    calls = [{"i": i} for i in range(t, n, groups)]
    options = {"tenant": f"t{t}"} if case == "tenants" else {}
    for first in range(0, len(calls), 5000):
        job.enqueue_many(calls[first:first + 5000], **options)
app.close()
"""
READ = """
import json, sys
from conveyor.store import open_store
from conveyor.store.protocol import JobFilter
store = open_store(sys.argv[1], migrate=False)
jobs = store.list_jobs(JobFilter())
print(json.dumps([[str(j.state), j.attempt, j.started_at, j.finished_at] for j in jobs]))
store.close()
"""


def log(message: str) -> None:
    """Progress on stderr; results go to stdout."""
    print(f"[flow {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def side_env(side: Path | None, url: str) -> dict[str, str]:
    """A subprocess's environment running ``side``'s Conveyor (None: this checkout)."""
    env = dict(os.environ)
    env["CONVEYOR_URL"] = url
    env["CONVEYOR_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(side if side is not None else ROOT)])
    return env


def python(side: Path | None, url: str, code: str, *args: str) -> str:
    """Run ``code`` with ``side``'s Conveyor; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=side_env(side, url),
        cwd=HERE,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def children_cpu() -> float:
    """CPU seconds of the children this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def worker(side: Path | None, url: str, app: str) -> Iterator[subprocess.Popen[bytes]]:
    """A burst worker of ``side`` running ``flowapp:app`` in its own process group."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, app],
        env=side_env(side, url),
        cwd=HERE,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def one(side: Path | None, url: str, case: str, jobs: int, tenants: int) -> dict[str, float]:
    """Load ``jobs`` jobs for ``case``, work them off with a burst worker; jobs/s and CPU."""
    python(side, url, LOAD, case, str(jobs), str(tenants))
    cpu = children_cpu()
    with worker(side, url, APP_OF[case]) as proc:
        proc.wait(timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"the {case} worker exited with {proc.returncode}")
    worker_cpu = children_cpu() - cpu
    found = json.loads(python(side, url, READ, url))
    wrong = [r for r in found if r[0] != "succeeded" or r[1] != 1]
    if len(found) != jobs or wrong:
        raise SystemExit(f"{case}: {len(found)} jobs, {len(wrong)} not succeeded exactly once")
    span = max(r[3] for r in found) - min(r[2] for r in found)
    return {"jobs_per_s": jobs / span, "worker_cpu_us_per_job": worker_cpu / jobs * 1e6}


def export(rev: str, into: Path) -> Path:
    """``rev``'s tree in ``into`` (``git archive``), for the base side's subprocesses."""
    archive = subprocess.run(
        ["git", "archive", rev], cwd=ROOT, check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(
    results: dict[tuple[str, str, str], list[dict[str, float]]],
    store: str,
    side: str,
    cases: list[str],
) -> dict[str, Any]:
    """Medians of one side on one store, and the per-round ratios to ``plain``."""
    out: dict[str, Any] = {"store": store, "side": side}
    for case in cases:
        runs = results[(store, side, case)]
        out[f"{case}_jobs_per_s"] = round(statistics.median(r["jobs_per_s"] for r in runs))
        out[f"{case}_cpu_us_per_job"] = round(
            statistics.median(r["worker_cpu_us_per_job"] for r in runs), 1
        )
        if case != "plain" and "plain" in cases:
            ratios = [
                r["jobs_per_s"] / p["jobs_per_s"]
                for r, p in zip(runs, results[(store, side, "plain")], strict=True)
            ]
            out[f"{case}_over_plain"] = round(statistics.median(ratios), 3)
            out[f"{case}_over_plain_runs"] = [round(x, 3) for x in ratios]
    out["jobs_per_s_runs"] = {
        case: [round(r["jobs_per_s"]) for r in results[(store, side, case)]] for case in cases
    }
    return out


def main() -> None:
    """Parse the arguments, run the interleaved rounds, print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="postgres")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--cases", default="plain,tenants,limited,declared")
    parser.add_argument("--base", default="main", help="revision of the base side ('' for none)")
    parser.add_argument(
        "--new", default="", help="revision of the new side ('': this checkout's working tree)"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--idle-wait",
        type=float,
        default=0.0,
        help="wait up to this many seconds for a quiet host before each round",
    )
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if unknown := set(cases) - set(CASES):
        parser.error(f"unknown cases {sorted(unknown)}; choose from {', '.join(CASES)}")
    targets: list[Target] = []
    for name in args.stores.split(","):
        if name == "postgres":
            targets.append(PostgresTarget(args.pg_url))
        elif name == "sqlite":
            targets.append(SQLiteTarget(None))
        else:
            parser.error(f"unknown store {name!r}; choose postgres and/or sqlite")
    print(f"# {' '.join(sys.argv)}")
    print(f"# load average before: {load_average()}; cpus: {os.cpu_count()}")
    results: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sides: list[tuple[str, Path | None]] = [("new", None)]
            if args.new:
                sides = [("new", export(args.new, Path(tmp) / "new"))]
            if args.base:
                sides.append(("base", export(args.base, Path(tmp) / "base")))
            for run in range(args.runs):
                wait_for_idle(args.idle_wait)
                order = sides if run % 2 == 0 else sides[::-1]
                rotated = cases[run % len(cases) :] + cases[: run % len(cases)]
                for target in targets:
                    for case in rotated:
                        for side_name, side in order:
                            with target.fresh(f"flow-{case}") as url:
                                got = one(side, url, case, args.jobs, args.tenants)
                            log(
                                f"run {run + 1} {target.name} {side_name} {case}: "
                                f"{got['jobs_per_s']:.0f} jobs/s, "
                                f"{got['worker_cpu_us_per_job']:.0f} us CPU/job "
                                f"(load {load_average()})"
                            )
                            results.setdefault((target.name, side_name, case), []).append(got)
    finally:
        for target in targets:
            target.cleanup()
    print(
        f"# load average after: {load_average()}; medians of {args.runs} interleaved runs, "
        f"{args.jobs:,} jobs per case; base = {args.base or '-'}"
    )
    for target in targets:
        for side_name, _ in sides:
            print(json.dumps(summary(results, target.name, side_name, cases)))


if __name__ == "__main__":
    main()
