"""Client CPU of one PostgreSQL ``enqueue``, layer by layer (decision 114).

Run from the repository root (``PYTHONPATH=/tmp/base`` to measure another tree)::

    .venv/bin/python benchmarks/enqueue_layers.py
    .venv/bin/python benchmarks/enqueue_layers.py --batches 60 --pg-url postgresql://...

Each layer is called in batches of 100, the layers interleaved batch by batch so the box's
load falls on all of them alike; a layer's figure is its process CPU per call (user and
system) over the batch, and the table gives the smallest batch (what a call costs when
nothing else disturbs the process: the least load-sensitive figure) and the median. The
layers, from the bottom: a ``SELECT 1`` (psycopg's floor for a round trip), the one-job
insert statement as the store sends it, the store's ``drive`` of the insert plan on one
connection, ``store.insert_jobs`` (adds the pool), ``JobDefinition.prepare`` alone, and
``job.enqueue``. The database is a fresh one with ``synchronous_commit=off``, so the wall
time is not the WAL flush; it is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import benchapp
import psycopg

from conveyor.store.postgres.plans import Statement
from conveyor.store.postgres.store import drive

BATCH = 100
WARM_UP = 300


def layers(
    store: Any, job: Any, conn: psycopg.Connection[Any]
) -> dict[str, Callable[[], object]]:
    """The calls to time, bottom layer first."""
    new = job.prepare(i=1)
    sent: Statement = next(store.plans.insert_jobs([new]))
    return {
        "SELECT 1": lambda: conn.execute("SELECT 1").fetchall(),
        "insert statement (as sent)": lambda: conn.execute(sent.sql, sent.params).fetchall(),
        "drive(insert plan)": lambda: drive(conn, store.plans.insert_jobs([new])),
        "store.insert_jobs": lambda: store.insert_jobs([new]),
        "job.prepare": lambda: job.prepare(i=1),
        "job.enqueue": lambda: job.enqueue(i=1),
    }


def measure(calls: dict[str, Callable[[], object]], batches: int) -> dict[str, list[float]]:
    """Microseconds of process CPU per call, one value per batch, per layer."""
    for call in calls.values():
        for _ in range(WARM_UP):
            call()
    found: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(batches):
        for name, call in calls.items():
            start = time.process_time()
            for _ in range(BATCH):
                call()
            found[name].append((time.process_time() - start) / BATCH * 1e6)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args(argv)
    name = f"conveyor_layers_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = f"{args.pg_url.rsplit('/', 1)[0]}/{name}"
    try:
        app = benchapp.build(url)
        store = app.store
        with psycopg.connect(url, autocommit=True) as conn:
            found = measure(layers(store, app.get(benchapp.ASYNC_JOB), conn), args.batches)
        app.close()
    finally:
        with psycopg.connect(args.pg_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    import conveyor

    print(f"# conveyor from {os.path.dirname(conveyor.__file__)}; load {os.getloadavg()}")
    print(f"{'layer':<30}{'min µs':>10}{'median µs':>12}")
    for layer, values in found.items():
        print(f"{layer:<30}{min(values):>10.1f}{statistics.median(values):>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
