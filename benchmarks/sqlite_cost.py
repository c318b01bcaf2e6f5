"""CPU per processed job on SQLite: the store's round alone, and a whole burst worker.

Wall time on a shared 2-CPU box swings with the neighbours; CPU time per job barely does, so
this is the figure to compare trees with (an A/B of commits, or a change against main). Three
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
``steps``
    The ``store`` round counted in SQLite VM steps per job (in all, and the costliest eight
    statements) instead of timed: a figure a loaded box does not move, for telling a real
    change in what the SQL costs from the CPU figures' noise (one round is enough).

Run it from the root of the tree to measure, with that tree on ``PYTHONPATH``; the script
itself may come from another tree, so one copy measures old commits too::

    REPO=$PWD; mkdir -p /tmp/sq-base; git archive 98bbb89 | tar -x -C /tmp/sq-base
    cd /tmp/sq-base && PYTHONPATH=$PWD $REPO/.venv/bin/python \\
        $REPO/benchmarks/sqlite_cost.py store --rounds 3

Prints one JSON line per run and a last line with the medians. ``--variant`` changes the
database before the store measurement, for attributing a cost: ``no-waiting-index`` and
``no-expiring-index`` and ``no-sequence-index`` drop one of those partial indexes, ``no-usage``
skips the usage rows (``steps`` takes it too).
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
VARIANTS = ("none", "no-waiting-index", "no-expiring-index", "no-sequence-index", "no-usage")


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
        "no-sequence-index": "conveyor_jobs_sequence",
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


def store_rounds(store: Any, params: ClaimParams, jobs: int, with_usage: bool) -> int:
    """The worker's store round in a loop until ``jobs`` were claimed; returns how many were."""
    done = 0
    pending: list[Completion] = []
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
    return done


def measure_store(folder: Path, rows: int, jobs: int, batch: int, variant: str) -> dict[str, Any]:
    """Complete-and-claim rounds of ``batch`` until ``jobs`` jobs were claimed."""
    path = fresh_db(folder, "store")
    app = prefill(f"sqlite:///{path}", rows)
    apply_variant(path, variant)
    store = app.store
    with_usage = variant != "no-usage" and hasattr(store, "record_usage")
    params = ClaimParams("cost-1", (benchapp.QUEUE,), (benchapp.ASYNC_JOB,), batch, 60.0)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    done = store_rounds(store, params, jobs, with_usage)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    app.close()
    shutil.rmtree(path.parent)
    return {"mode": "store", "rows": rows, "batch": batch, "variant": variant, "jobs": done,
            "jobs_s": round(done / wall), "cpu_us_per_job": round(cpu / done * 1e6, 1)}


class StepCounter:
    """SQLite VM steps of every connection opened while installed, by statement.

    A VM step is one opcode of SQLite's bytecode engine, counted through the progress
    handler, so the figure is the same on a quiet box and on a loaded one: it compares what
    two trees ask of SQLite, exactly, where CPU time can only compare it within the noise.
    ``sqlite3.connect`` is wrapped rather than the store's connection reached into, so any
    commit's store is measured the same way.
    """

    def __init__(self) -> None:
        self.steps: dict[str, int] = {}
        self.current = "(outside a statement)"
        self._connect = sqlite3.connect

    def install(self) -> None:
        """Count on connections opened from now on."""
        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn: sqlite3.Connection = self._connect(*args, **kwargs)
            conn.set_progress_handler(self._step, 1)
            conn.set_trace_callback(self._trace)
            return conn
        sqlite3.connect = connect  # type: ignore[assignment]

    def uninstall(self) -> None:
        """Leave connections opened from now on alone."""
        sqlite3.connect = self._connect

    def _trace(self, sql: str) -> None:
        # The traced text has its parameters inlined: fold numbers so one statement is one key.
        first = " ".join(sql.split())[:72]
        self.current = re.sub(r"\d+(\.\d+)?", "N", first)

    def _step(self) -> int:
        self.steps[self.current] = self.steps.get(self.current, 0) + 1
        return 0  # go on


def measure_steps(folder: Path, rows: int, jobs: int, batch: int, variant: str) -> dict[str, Any]:
    """The store round of :func:`measure_store`, in SQLite VM steps per job, by statement."""
    path = fresh_db(folder, "steps")
    counter = StepCounter()
    counter.install()
    try:
        app = prefill(f"sqlite:///{path}", rows)
        apply_variant(path, variant)
        store = app.store
        with_usage = variant != "no-usage" and hasattr(store, "record_usage")
        params = ClaimParams("cost-1", (benchapp.QUEUE,), (benchapp.ASYNC_JOB,), batch, 60.0)
        counter.steps.clear()  # the prefill's steps are not the round's
        done = store_rounds(store, params, jobs, with_usage)
        by_statement = dict(counter.steps)
        app.close()
    finally:
        counter.uninstall()
    shutil.rmtree(path.parent)
    top = sorted(by_statement.items(), key=lambda kv: -kv[1])[:8]
    return {"mode": "steps", "rows": rows, "batch": batch, "variant": variant, "jobs": done,
            "vm_steps_per_job": round(sum(by_statement.values()) / done, 1),
            "by_statement": {k: round(v / done, 1) for k, v in top}}


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
    parser.add_argument("mode", choices=("store", "steps", "worker"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000, help="store: jobs queued first")
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs processed per run")
    parser.add_argument("--batch", type=int, default=50, help="store: jobs per claim")
    parser.add_argument("--variant", choices=VARIANTS, default="none")
    parser.add_argument("--tmpdir", type=Path, default=Path("/var/tmp"))
    args = parser.parse_args()
    runs = []
    for _ in range(args.rounds):
        if args.mode in ("store", "steps"):
            measure = measure_store if args.mode == "store" else measure_steps
            run = measure(args.tmpdir, max(args.rows, args.jobs), args.jobs, args.batch,
                          args.variant)
        else:
            run = measure_worker(args.tmpdir, args.jobs)
        print(json.dumps(run), flush=True)
        runs.append(run)
    if args.mode == "steps":  # the same every run: no median to take
        return
    print(json.dumps({
        "median_jobs_s": statistics.median(r["jobs_s"] for r in runs),
        "median_cpu_us_per_job": statistics.median(r["cpu_us_per_job"] for r in runs),
        "load": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()
