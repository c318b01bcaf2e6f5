"""How fast ``conveyor worker --processes 1..N`` adds capacity after a backlog spike.

A supervisor runs ``benchapp:app`` with ``--processes 1..MAX`` (default 1..8) on a fresh
SQLite file or PostgreSQL database, idle. Then a spike of 20 ms jobs lands in one bulk
enqueue. Reported, from the moment of the enqueue (store clock):

- ``to_second_process``: until a second worker process registered (capacity added);
- ``to_peak``: until the most processes seen were registered, and that peak;
- ``drained``: until the last job of the spike finished;
- ``back_to_one``: until one process was left again (with ``--scale-cooldown``).

Usage (from the repository root, dev venv)::

    .venv/bin/python benchmarks/autoscale.py --store sqlite --jobs 20000 --runs 3
    .venv/bin/python benchmarks/autoscale.py --store postgres \\
        --pg-url postgresql://postgres@127.0.0.1:5432/
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchapp import QUEUE, WORK_JOB, build  # noqa: E402  (benchmarks/ on the path first)

from conveyor.store.protocol import JobFilter  # noqa: E402


def fresh_url(store: str, pg_url: str, tmp: Path, run: int) -> tuple[str, str | None]:
    """A new database for one run: its URL, and the PostgreSQL database name to drop."""
    if store == "sqlite":
        return f"sqlite:///{tmp / f'autoscale-{run}.db'}", None
    name = f"conveyor_autoscale_{os.getpid()}_{run}"
    if "127.0.0.1" not in pg_url and "localhost" not in pg_url:
        raise SystemExit("only loopback PostgreSQL hosts are used")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rstrip("/") + f"/{name}", name


def drop(pg_url: str, name: str | None) -> None:
    if name is not None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_run(url: str, jobs: int, most: int, cooldown: float, wait: float) -> dict[str, Any]:
    app = build(url)
    store = app.store
    env = {**os.environ, "CONVEYOR_URL": url, "CONVEYOR_LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    worker = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", "benchapp:app", "--queues", QUEUE,
         "--processes", f"1..{most}", "--concurrency", "8", "--scale-wait", f"{wait}s",
         "--scale-cooldown", f"{cooldown}s", "--no-scheduler", "--no-monitor"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL,
    )
    try:
        while len(store.live_workers(stale_after=10)) < 1:
            time.sleep(0.05)
        time.sleep(1.0)  # idle for a moment, as a real pool would be
        job = app.get(WORK_JOB)
        start = store.now()
        for offset in range(0, jobs, 5000):
            job.enqueue_many([{"ms": 20.0} for _ in range(min(5000, jobs - offset))])
        seen: dict[str, float] = {}
        peak, at_peak, second = 1, 0.0, None
        drained = back = None
        while back is None and store.now() - start < 600:
            live = store.live_workers(stale_after=10)
            now = store.now() - start
            if len(live) > 1 and second is None:
                second = now
            if len(live) > peak:
                peak, at_peak = len(live), now
            for w in live:
                seen.setdefault(w.id, now)
            if drained is None and not store.count_jobs(
                JobFilter(queue=QUEUE, states=tuple(_waiting()))
            ):
                drained = now
            if drained is not None and len(live) == 1:
                back = now
            time.sleep(0.1)
        return {"to_second_process": second, "peak": peak, "to_peak": at_peak,
                "drained": drained, "back_to_one": back, "processes_started": len(seen)}
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=120)
        app.close()


def _waiting() -> list[Any]:
    from conveyor.models import JobState

    return [JobState.QUEUED, JobState.SCHEDULED, JobState.RUNNING, JobState.RETRYING]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--max", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale-wait", type=float, default=5.0)
    parser.add_argument("--scale-cooldown", type=float, default=10.0)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            url, name = fresh_url(args.store, args.pg_url, Path(tmp), run)
            try:
                results.append(one_run(url, args.jobs, args.max, args.scale_cooldown,
                                       args.scale_wait))
            finally:
                drop(args.pg_url, name)
            print(json.dumps(results[-1]), flush=True)
    for key in ("to_second_process", "to_peak", "drained", "back_to_one"):
        values = [r[key] for r in results if r[key] is not None]
        if values:
            print(f"{key}: median {statistics.median(values):.2f}s "
                  f"(min {min(values):.2f}, max {max(values):.2f})")
    print(f"peak processes: {sorted(r['peak'] for r in results)}")


if __name__ == "__main__":
    main()
