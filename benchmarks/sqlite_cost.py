"""CPU per processed job on SQLite: the store's round alone, and a whole burst worker.

Wall time on a shared 2-CPU box swings with the neighbours; CPU time per job barely does, so
this is the figure to compare trees with (an A/B of commits, or a change against main). Two
measurements, each in a fresh database file:

``store``
    In this process, the worker's store round in a loop: ``complete_and_claim`` carrying the
    previous round's completions and claiming ``--batch`` jobs (what a worker process with
    ``concurrency=--batch`` does when its handlers are no-ops), then the usage rows of those
    attempts written as the worker's usage writer does (where the tree has ``record_usage``).
    ``--rows`` jobs are queued first (default 20,000; try 1,000,000). Reports jobs/s and
    CPU microseconds per job of this process (the store's work plus the loop's).
``worker``
    ``run_worker("benchapp:app", processes=2, concurrency=50, burst=True)`` in a subprocess,
    once with ``--jobs`` no-op async jobs queued and once with none (start-up and exit only).
    The difference of the two runs' CPU (the subprocess tree's, from ``getrusage``) over the
    jobs is the marginal CPU per job; jobs/s is first start to last finish, from the rows.

Run it from the root of the tree to measure, with that tree on ``PYTHONPATH``; the script
itself may come from another tree, so one copy measures old commits too::

    REPO=$PWD; mkdir -p /tmp/sq-base; git archive 98bbb89 | tar -x -C /tmp/sq-base
    cd /tmp/sq-base && PYTHONPATH=$PWD $REPO/.venv/bin/python \\
        $REPO/benchmarks/sqlite_cost.py store --rounds 3

Prints one JSON line per run and a last line with the medians. ``--variant`` changes the
database before the store measurement, for attributing a cost: ``no-waiting-index`` and
``no-expiring-index`` drop one of those partial indexes, ``no-usage`` skips the usage rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path.cwd() / "benchmarks"))  # the measured tree's benchapp

import benchapp

from conveyor.store.protocol import ClaimParams, Completion, CompletionKind

WORKER_MAIN = (
    "import json, sys\n"
    "from conveyor.worker import WorkerConfig, run_worker\n"
    "sys.exit(run_worker(sys.argv[1], WorkerConfig(**json.loads(sys.argv[2]))))\n"
)
VARIANTS = ("none", "no-waiting-index", "no-expiring-index", "no-usage")


def fresh_db(folder: Path, name: str) -> Path:
    """A new database file path in ``folder`` (on a real disk, not tmpfs)."""
    return Path(tempfile.mkdtemp(dir=folder, prefix=f"sqcost-{name}-")) / "cost.db"


def prefill(url: str, rows: int) -> Any:
    """An app on ``url`` with ``rows`` no-op async jobs queued."""
    app = benchapp.build(url)
    job = app.get(benchapp.ASYNC_JOB)
    for start in range(0, rows, 20_000):
        job.enqueue_many([{"i": i} for i in range(start, min(rows, start + 20_000))])
    return app


def apply_variant(path: Path, variant: str) -> None:
    """Drop what the variant leaves out (a scratch database: nothing else uses it)."""
    index = {
        "no-waiting-index": "conveyor_jobs_waiting",
        "no-expiring-index": "conveyor_jobs_expiring",
    }.get(variant)
    if index is not None:
        with sqlite3.connect(path) as conn:
            conn.execute(f"DROP INDEX IF EXISTS {index}")


def usage_rows(claimed: list[Any]) -> list[Any]:
    """The rows the usage meter would keep for these attempts (None without usage)."""
    try:
        from conveyor.store.contract.usage import UsageRow
    except ImportError:
        return []
    now = time.time()
    return [
        UsageRow(job_id=j.id, attempt=j.attempt, name=j.name, queue=j.queue, tenant=j.tenant,
                 finished_at=now, wall=0.0001, cpu=0.0001, memory_mb=40.0, units={})
        for j in claimed
    ]


def measure_store(folder: Path, rows: int, jobs: int, batch: int, variant: str) -> dict[str, Any]:
    """Complete-and-claim rounds of ``batch`` until ``jobs`` jobs were claimed."""
    path = fresh_db(folder, "store")
    app = prefill(f"sqlite:///{path}", rows)
    apply_variant(path, variant)
    store = app.store
    with_usage = variant != "no-usage" and hasattr(store, "record_usage")
    params = ClaimParams("cost-1", (benchapp.QUEUE,), (benchapp.ASYNC_JOB,), batch, 60.0)
    done = 0
    pending: list[Completion] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while done < jobs:
        round_ = store.complete_and_claim(pending, params)
        claimed = round_.claimed
        if not claimed:
            break
        pending = [
            Completion(j.id, j.token, CompletionKind.SUCCEEDED, result_json="null")
            for j in claimed
        ]
        if with_usage:
            store.record_usage(usage_rows(claimed))
        done += len(claimed)
    store.complete_jobs(pending)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    app.close()
    shutil.rmtree(path.parent)
    return {"mode": "store", "rows": rows, "batch": batch, "variant": variant, "jobs": done,
            "jobs_s": round(done / wall), "cpu_us_per_job": round(cpu / done * 1e6, 1)}


def run_worker_once(path: Path, jobs: int) -> tuple[float, float, int]:
    """(CPU seconds of the worker tree, active seconds, jobs succeeded) of one burst worker."""
    url = f"sqlite:///{path}"
    app = prefill(url, jobs)
    app.close()
    env = dict(os.environ, CONVEYOR_URL=url, CONVEYOR_LOG_LEVEL="WARNING")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path.cwd() / "benchmarks"), env.get("PYTHONPATH")) if p
    )
    config = {"processes": 2, "concurrency": 50, "burst": True}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", WORKER_MAIN, "benchapp:app", json.dumps(config)],
        env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, timeout=600,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with sqlite3.connect(path) as conn:
        first, last, n = conn.execute(
            "SELECT MIN(started_at), MAX(finished_at), COUNT(*) FROM conveyor_jobs "
            "WHERE state = 'succeeded'"
        ).fetchone()
    shutil.rmtree(path.parent)
    return cpu, (last - first) if n else 0.0, n


def measure_worker(folder: Path, jobs: int) -> dict[str, Any]:
    """A burst worker with ``jobs`` no-op async jobs, minus one with none."""
    idle_cpu, _, _ = run_worker_once(fresh_db(folder, "idle"), 0)
    cpu, active, n = run_worker_once(fresh_db(folder, "worker"), jobs)
    if n != jobs:
        raise SystemExit(f"only {n} of {jobs} jobs succeeded")
    return {"mode": "worker", "jobs": jobs, "jobs_s": round(jobs / active),
            "cpu_us_per_job": round((cpu - idle_cpu) / jobs * 1e6, 1),
            "startup_cpu_s": round(idle_cpu, 3)}


def main() -> None:
    """Parse the options, run the rounds, print each run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("store", "worker"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000, help="store: jobs queued first")
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs processed per run")
    parser.add_argument("--batch", type=int, default=50, help="store: jobs per claim")
    parser.add_argument("--variant", choices=VARIANTS, default="none")
    parser.add_argument("--tmpdir", type=Path, default=Path("/var/tmp"))
    args = parser.parse_args()
    runs = []
    for _ in range(args.rounds):
        if args.mode == "store":
            run = measure_store(args.tmpdir, max(args.rows, args.jobs), args.jobs, args.batch,
                                args.variant)
        else:
            run = measure_worker(args.tmpdir, args.jobs)
        print(json.dumps(run), flush=True)
        runs.append(run)
    print(json.dumps({
        "median_jobs_s": statistics.median(r["jobs_s"] for r in runs),
        "median_cpu_us_per_job": statistics.median(r["cpu_us_per_job"] for r in runs),
        "load": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()
