"""What sequences (``sequence=``, issue 16 item 4) cost, against plain jobs, in one run.

Interleaved rounds on a fresh database per measurement (a SQLite file, and with ``--postgres``
a new PostgreSQL database, dropped afterwards); medians and the sequenced/plain ratio are
reported, with the CPU time of this process per job (wall time is noisy on a shared box):

* ``enqueue``: ``job.enqueue(...)`` N times, one transaction each (plain; sequenced over
  ``--keys`` keys, so most jobs are written ``held`` behind their key's head).
* ``process``: N no-op jobs enqueued in bulk first, then worked off in this process by
  :func:`conveyor.testing.drain` (a real worker loop, concurrency 8): jobs per second from the
  first start to the last finish. Sequenced jobs of ``--keys`` keys can run at most ``keys``
  at a time, and each completion releases the next job of its key in its transaction.

    .venv/bin/python benchmarks/sequences.py [--jobs 2000] [--keys 50] [--rounds 3]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conveyor import Conveyor, JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import drain


def make_app(url: str) -> Conveyor:
    """An app with one plain and one sequenced no-op job type."""
    app = Conveyor(url)

    @app.job(name="plain")
    def plain(ctx: object, key: str, n: int) -> None:
        return None

    @app.job(name="sequenced", sequence="acct:{key}")
    def sequenced(ctx: object, key: str, n: int) -> None:
        return None

    return app


@contextmanager
def fresh_url(store: str, folder: Path, pg: str | None) -> Iterator[str]:
    """A URL of a new, empty database of ``store`` (dropped after, on PostgreSQL)."""
    if store == "sqlite":
        yield f"sqlite:///{folder / (uuid.uuid4().hex + '.db')}"
        return
    import psycopg

    assert pg is not None
    name = f"conveyor_seqbench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        for attempt in range(3):  # a shared server may cut a connection; try again
            try:
                with psycopg.connect(pg, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
                time.sleep(1)


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def enqueue_round(url: str, name: str, jobs: int, keys: int) -> tuple[float, float]:
    """Jobs per second and CPU µs per job of ``jobs`` single enqueues of ``name``."""
    app = make_app(url)
    try:
        job = app.jobs[name]
        for n in range(50):  # warm-up, untimed: connections, statements, the schema
            job.enqueue(key=f"warm{n % keys}", n=n)

        def run() -> None:
            for n in range(jobs):
                job.enqueue(key=f"k{n % keys}", n=n)

        wall, cpu = timed(run)
        return jobs / wall, cpu / jobs * 1e6
    finally:
        app.close()


def process_round(url: str, name: str, jobs: int, keys: int) -> tuple[float, float]:
    """Jobs per second (first start to last finish) and CPU µs per job of a drain."""
    app = make_app(url)
    try:
        job = app.jobs[name]
        job.enqueue_many([{"key": f"k{n % keys}", "n": n} for n in range(jobs)])
        _, cpu = timed(lambda: drain(app, concurrency=8))
        done = app.store.list_jobs(JobFilter(states=(JobState.SUCCEEDED,), payloads=False))
        assert len(done) == jobs, f"{len(done)} of {jobs} succeeded"
        starts = min(j.started_at or 0 for j in done)
        ends = max(j.finished_at or 0 for j in done)
        return jobs / (ends - starts), cpu / jobs * 1e6
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (a database is made)")
    args = parser.parse_args()
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.jobs} jobs, "
          f"{args.keys} keys, {args.rounds} interleaved rounds")
    folder = Path(tempfile.mkdtemp(prefix="conveyor-bench-seq-"))
    stores = ["sqlite"] + (["postgres"] if args.postgres else [])
    for what, measure in (("enqueue", enqueue_round), ("process", process_round)):
        for store in stores:
            per: dict[str, list[tuple[float, float]]] = {"plain": [], "sequenced": []}
            for _ in range(args.rounds):
                for name, found in per.items():  # interleaved: plain, sequenced, plain, ...
                    with fresh_url(store, folder, args.postgres) as url:
                        found.append(measure(url, name, args.jobs, args.keys))
            rate = {n: statistics.median(r for r, _ in v) for n, v in per.items()}
            cpu = {n: statistics.median(c for _, c in v) for n, v in per.items()}
            print(f"\n{what} on {store} (median of {args.rounds})")
            for name, found in per.items():
                runs = ", ".join(f"{r:.0f}" for r, _ in found)
                print(f"  {name:10s} {rate[name]:8.0f} jobs/s  {cpu[name]:7.0f} µs CPU/job  "
                      f"(runs: {runs})")
            print(f"  ratio sequenced/plain: {rate['sequenced'] / rate['plain']:.2f} "
                  f"(CPU per job {cpu['sequenced'] / cpu['plain']:.2f}x)")
    print(f"# load at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
