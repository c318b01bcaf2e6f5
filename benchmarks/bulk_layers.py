"""Where a PostgreSQL bulk enqueue's time goes, per job: the client's layers and the server's
share (decision 124).

Run from the repository root (``PYTHONPATH=/tmp/base`` to measure another tree)::

    .venv/bin/python benchmarks/bulk_layers.py
    .venv/bin/python benchmarks/bulk_layers.py --rounds 5 --batch 1000

Client: process CPU per job of ``job.enqueue_many`` of ``--batch`` plain jobs and of its
layers (``_prepare_all``: checking and encoding the calls; ``store.insert_jobs``: the id
reservation, the COPY and the commit; ``app.enqueue_many``: that plus the handles), each
called in turn, round by round, so the box's load falls on all of them alike. Server: the
CPU of the database backends that served ``job.enqueue_many`` (read from ``/proc``, so the
server must run on this machine), and, for the bound, the same rows COPYed into the emptied
jobs table and into copies of it without its indexes and with its primary key only. Each
round uses a fresh database with ``synchronous_commit=off``; figures are medians over rounds,
in µs per job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import benchapp
import psycopg

TICK = os.sysconf("SC_CLK_TCK")
CALLS_PER_LAYER = 20


def backend_cpu(admin: psycopg.Connection[Any], database: str, seen: dict[int, float]) -> float:
    """CPU seconds so far of every backend connected to ``database`` (``seen`` keeps those
    that have gone)."""
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
    ).fetchall()
    for (pid,) in rows:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        seen[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return sum(seen.values())


@contextmanager
def fresh_database(url: str) -> Any:
    """A new database on the server at ``url``, dropped on exit; yields its URL and name."""
    name = f"conveyor_bulk_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}", name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def per_job(call: Callable[[], object], jobs: int) -> float:
    """Process CPU per job, in µs, of ``CALLS_PER_LAYER`` calls of ``call``."""
    start = time.process_time()
    for _ in range(CALLS_PER_LAYER):
        call()
    return (time.process_time() - start) / (CALLS_PER_LAYER * jobs) * 1e6


def one_round(url: str, batch: int) -> dict[str, float]:
    """Every figure once, on a fresh database."""
    found: dict[str, float] = {}
    with fresh_database(url) as (db_url, name), psycopg.connect(url, autocommit=True) as admin:
        app = benchapp.build(db_url)
        try:
            app.store.migrate()
            job = app.get(benchapp.ASYNC_JOB)
            calls = [{"i": i} for i in range(batch)]
            prepared = job._prepare_all(calls, {})
            job.enqueue_many(calls)  # warm: connections, statements
            layers: dict[str, Callable[[], object]] = {
                "client: _prepare_all": lambda: job._prepare_all(calls, {}),
                "client: store.insert_jobs": lambda: app.store.insert_jobs(prepared),
                "client: app.enqueue_many": lambda: app.enqueue_many(prepared),
                "client: job.enqueue_many": lambda: job.enqueue_many(calls),
            }
            for call in layers.values():
                call()  # warm
            for layer, call in layers.items():
                found[layer] = per_job(call, batch)
            seen: dict[int, float] = {}
            before = backend_cpu(admin, name, seen)
            found["client: job.enqueue_many"] = per_job(lambda: job.enqueue_many(calls), batch)
            spent = backend_cpu(admin, name, seen) - before
            found["server: job.enqueue_many"] = spent / (CALLS_PER_LAYER * batch) * 1e6
        finally:
            app.close()
        found.update(copy_bound(db_url, name, admin, batch))
    return found


def copy_bound(url: str, name: str, admin: psycopg.Connection[Any], batch: int) -> dict[str, float]:
    """Server CPU per row of COPYing ``batch`` of the jobs table's rows (as they are stored)
    into an emptied jobs table, a copy without indexes and a copy with the primary key only:
    what the indexes cost the server."""
    found: dict[str, float] = {}
    columns = "id, queue, name, args, state, priority, max_attempts, run_at, created_at, meta"
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE bare (LIKE conveyor_jobs INCLUDING DEFAULTS)")
        conn.execute("CREATE TABLE keyed (LIKE conveyor_jobs INCLUDING DEFAULTS)")
        conn.execute("ALTER TABLE keyed ADD PRIMARY KEY (id)")
        conn.commit()
        with conn.cursor() as cur, cur.copy(
            f"COPY (SELECT {columns} FROM conveyor_jobs LIMIT {batch}) TO STDOUT (FORMAT BINARY)"
        ) as out:
            data = b"".join(bytes(block) for block in out)
        conn.commit()
        for table in ("bare", "keyed", "conveyor_jobs"):
            seen: dict[int, float] = {}
            spent = 0.0
            for _ in range(CALLS_PER_LAYER):
                # Emptied (unmeasured) so the same ids fit: rolling each COPY back instead
                # would leave dead index entries of the same keys for the next COPY to step
                # over, which a real enqueue never meets.
                conn.execute(f"TRUNCATE {table}")
                conn.commit()
                before = backend_cpu(admin, name, seen)
                with conn.cursor() as cur, cur.copy(
                    f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.write(data)
                conn.commit()
                spent += backend_cpu(admin, name, seen) - before
            found[f"server: COPY into {table}"] = spent / (CALLS_PER_LAYER * batch) * 1e6
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args(argv)
    rounds = [one_round(args.pg_url, args.batch) for _ in range(args.rounds)]
    import conveyor

    print(f"# conveyor from {os.path.dirname(conveyor.__file__)}; load {os.getloadavg()}")
    print(f"{'figure (µs per job)':<36}{'median':>9}   per round")
    for figure in rounds[0]:
        values = [r[figure] for r in rounds]
        per = ", ".join(f"{v:.2f}" for v in values)
        print(f"{figure:<36}{statistics.median(values):>9.2f}   {per}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
