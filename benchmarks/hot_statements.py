"""The worker's, monitor's and overview's statements on a large PostgreSQL jobs table, before
and after issue 14's item 1: milliseconds per statement, medians of interleaved runs.

Run from the repository root::

    .venv/bin/python benchmarks/hot_statements.py [ROWS] [--base REV] [--runs N]

It creates a database ``conveyor_hot_<pid>`` on ``HOT_PG_URL`` (default the local server as
``postgres``), generates ROWS jobs server-side (default 1,000,000, the same mix as
``tests/store/test_plans_at_scale.py``: 70 % ready, 8 % scheduled, 15 % succeeded, ...),
ANALYZEs, then times each statement as this checkout writes it ("new": on a connection that
starts with ``jit=off``, as Conveyor's do now) and as ``REV`` (default ``main``) wrote it
("old": the old SQL text, read with ``git show``, on a connection with the server's default JIT
setting), alternating old and new in every run. Then the dashboard overview as this checkout
reads it: a first view, and a refresh with the charts' ended buckets cached. The database is
dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "store"))

from test_plans_at_scale import ATTEMPTS, LOAD, NAMES, QUEUES  # noqa: E402

from conveyor.models import COUNT_CAP  # noqa: E402
from conveyor.store import limits  # noqa: E402
from conveyor.store.postgres import PostgresStore  # noqa: E402
from conveyor.store.postgres.session import connect_kwargs  # noqa: E402

QUERIES = "conveyor/store/postgres/queries"
PARAMS: dict[str, dict[str, Any]] = {
    "next_due": {
        "queues": list(QUEUES),
        "names": list(NAMES),
        "limited_recheck": limits.RECHECK_SECONDS,
    },
    "queue_counts": {"cap": COUNT_CAP},
    "waiting_names": {},
    "queue_depth": {"queue": QUEUES[0], "cap": 100_000},
    "claim_jobs": {
        "queues": list(QUEUES),
        "names": list(NAMES),
        "limit": 50,
        "worker_id": "bench",
        "lease_seconds": 60.0,
    },
}


def sql_of(name: str, rev: str | None) -> str:
    """A query's text in this checkout (``rev`` None) or at ``rev``, schema ``public``."""
    path = f"{QUERIES}/{name}.sql"
    if rev is None:
        text = (ROOT / path).read_text()
    else:
        text = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
    return text.replace("{schema}", '"public"')


def timed(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any], claim: bool) -> float:
    """Milliseconds of one execution; a claim runs in a transaction rolled back after."""
    start = time.perf_counter()
    if claim:
        with conn.transaction(force_rollback=True):
            conn.execute(sql, params).fetchall()
    else:
        conn.execute(sql, params).fetchall()
    return (time.perf_counter() - start) * 1000.0


def overview(url: str, runs: int) -> None:
    """The dashboard overview with this checkout: a first view with nothing rolled up, one of a
    new dashboard process (settled buckets rolled up) and a refresh (the charts' ended buckets
    cached), milliseconds, medians of ``runs``."""
    from conveyor.web.pages_overview import read_overview
    from conveyor.web.series_cache import SeriesCache

    store = PostgresStore(url)
    try:
        cold, first, refresh = [], [], []
        for _ in range(runs):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DELETE FROM conveyor_series_rollup")
            start = time.perf_counter()
            read_overview(store, SeriesCache())
            cold.append((time.perf_counter() - start) * 1000.0)
        warm = SeriesCache()
        read_overview(store, warm)
        for _ in range(runs):
            start = time.perf_counter()
            read_overview(store, SeriesCache())
            first.append((time.perf_counter() - start) * 1000.0)
            start = time.perf_counter()
            read_overview(store, warm)
            refresh.append((time.perf_counter() - start) * 1000.0)
        print(f"overview: first view on a new database {statistics.median(cold):.1f} ms, of a "
              f"new dashboard process {statistics.median(first):.1f} ms, refresh "
              f"{statistics.median(refresh):.1f} ms (this checkout, medians of {runs})")
    finally:
        store.close()


def main() -> None:
    """Parse the arguments, build the table, time each statement and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--base", default="main", help="the revision to compare against")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs per statement")
    args = parser.parse_args()
    admin = os.environ.get("HOT_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    dbname = f"conveyor_hot_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    url = admin.rsplit("/", 1)[0] + f"/{dbname}"
    try:
        PostgresStore(url).close()  # migrated
        start = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(LOAD, {"queues": list(QUEUES), "names": list(NAMES), "rows": args.rows})
            conn.execute(ATTEMPTS)
            conn.execute("VACUUM ANALYZE conveyor_jobs")
            conn.execute("VACUUM ANALYZE conveyor_attempts")
        print(f"# {args.rows:,} rows loaded in {time.perf_counter() - start:.1f}s")
        old_conn = psycopg.connect(url, autocommit=True)
        new_conn = psycopg.connect(url, **connect_kwargs(url, autocommit=True))
        print(f"# jit: old connection {old_conn.execute('SHOW jit').fetchone()[0]}, "
              f"new {new_conn.execute('SHOW jit').fetchone()[0]}")
        print(f"{'statement':<14} {'old ms':>9} {'new ms':>9} {'ratio':>7}   (medians of "
              f"{args.runs} interleaved runs; old = {args.base})")
        for name, params in PARAMS.items():
            old_sql, new_sql = sql_of(name, args.base), sql_of(name, None)
            claim = name == "claim_jobs"
            for conn, sql in ((old_conn, old_sql), (new_conn, new_sql)):  # warm caches
                timed(conn, sql, params, claim)
            old, new = [], []
            for _ in range(args.runs):
                old.append(timed(old_conn, old_sql, params, claim))
                new.append(timed(new_conn, new_sql, params, claim))
            o, n = statistics.median(old), statistics.median(new)
            print(f"{name:<14} {o:>9.2f} {n:>9.2f} {o / n:>6.1f}x")
        old_conn.close()
        new_conn.close()
        overview(url, args.runs)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
