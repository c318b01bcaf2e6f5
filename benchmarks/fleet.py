"""A fleet on one box: 16 supervisors x 2 worker processes against one PostgreSQL database.

Issue 14, item 5. Per run and per variant (interleaved), on a fresh database:

1. start ``--supervisors`` supervisors of ``benchapp:app`` with ``--processes`` each (not burst:
   scheduler, monitor, deliverer, rescuer and pruner run as in production) and wait until every
   worker process has registered;
2. **idle** for ``--idle`` seconds: the connections the fleet holds (``pg_stat_activity`` rows
   of the database), the transactions it commits per second (``pg_stat_database.xact_commit``
   delta: a one-statement verb runs in autocommit, so it is one transaction; the whole figure is
   the server's own count), and the statements per second by source, from sampling
   ``pg_stat_activity`` every few milliseconds: each new ``(pid, query_start)`` is one statement,
   named after the query file it came from (``conveyor/store/postgres/queries``) and grouped by
   the service that sends it. Sampling misses statements that follow each other on one
   connection within a sample, so the split is a lower bound; the total is the exact one.
   (``pg_stat_statements`` would be exact, but needs ``shared_preload_libraries`` and a server
   restart, which a shared test server does not get.)
3. **busy**: ``--jobs`` no-op async jobs bulk-enqueued; throughput from the first start to the
   last finish (store clock), and the most connections seen meanwhile.

Then every supervisor's process group gets SIGTERM (SIGKILL after 30 s) and the database is
dropped: nothing is left running, even on Ctrl-C.

Variants: ``before`` runs every service in every worker process (the old layout, switched
back on with ``CONVEYOR_FLEET_SERVICES=every``); ``after`` runs the scheduler, monitor,
deliverer and pruner in one process per supervisor and lets idle processes with a live LISTEN
connection poll five times less often.

Usage (from the repository root, dev venv)::

    .venv/bin/python benchmarks/fleet.py --runs 3
    .venv/bin/python benchmarks/fleet.py --supervisors 4 --idle 10 --jobs 2000   # smoke
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchapp import ASYNC_JOB, QUEUE, build  # noqa: E402  (benchmarks/ on the path first)

from conveyor.models import JobState  # noqa: E402
from conveyor.store.protocol import JobFilter  # noqa: E402

QUERIES = HERE.parent / "conveyor" / "store" / "postgres" / "queries"

SOURCES = {
    "claim loop": ("claim_jobs", "next_due", "complete_jobs", "limited_waiting"),
    "scheduler or deliverer (clock)": ("now",),
    "heartbeat": ("heartbeat", "put_worker", "live_workers"),
    "scheduler": ("schedule_list", "schedule_sync", "busy_schedules", "lease_acquire"),
    "monitor": (
        "queue_counts", "queue_load", "queue_failures", "incident_list", "checkin_list",
        "lease_holder", "slot_to_judge", "waiting_names",
    ),
    "rescuer": ("select_expired", "rescue_jobs", "cancel_expired", "run_open_jobs"),
    "deliverer": ("delivery_claim", "delivery_prune", "webhook_jobs_to_notify"),
    "pruner": ("select_prunable", "prune_once", "prune_rate_starts", "run_prune"),
}
"""Which service sends which query file (a query several send is counted once, here)."""

VARIANTS: dict[str, dict[str, str]] = {
    "before": {"CONVEYOR_FLEET_SERVICES": "every"},
    "after": {},
}


def _normal(sql: str) -> str:
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    text = " ".join(" ".join(lines).split())
    text = re.sub(r'("?public"?|\{schema\})\.', "", text)
    text = re.sub(r"%\(\w+\)s|\$\d+", "?", text)  # psycopg's placeholders, as the server shows them
    return text[:160]


def _fingerprints() -> dict[str, str]:
    return {_normal(p.read_text()): p.stem for p in sorted(QUERIES.glob("*.sql"))}


PREFIXES = {
    "WITH RECURSIVE open AS": "claim loop",  # next_due, whose text the fingerprint misses
    "INSERT INTO conveyor_leases": "scheduler",  # the scheduler's alive lease
    "COMMIT": "transactions (BEGIN/COMMIT)",
    "BEGIN": "transactions (BEGIN/COMMIT)",
}
"""Sources of statements that match no query file by their first characters."""


def _source_of(name: str) -> str:
    for source, names in SOURCES.items():
        if name in names:
            return source
    for prefix, source in PREFIXES.items():
        if name.startswith(prefix):
            return source
    return "other"


class Sampler(threading.Thread):
    """Counts statements of one database by watching ``pg_stat_activity``."""

    def __init__(self, admin_url: str, dbname: str, every: float = 0.004) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.dbname, self.every = admin_url, dbname, every
        self.stop = threading.Event()
        self.seen: dict[int, Any] = {}
        self.counts: Counter[str] = Counter()
        self.max_connections = 0
        self.prints = _fingerprints()

    def run(self) -> None:
        """Sample until stopped."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT pid, query_start, query FROM pg_stat_activity WHERE datname = %s",
                    (self.dbname,),
                ).fetchall()
                self.max_connections = max(self.max_connections, len(rows))
                for pid, started, query in rows:
                    if started is None or self.seen.get(pid) == started:
                        continue
                    first = pid not in self.seen
                    self.seen[pid] = started
                    if first:
                        continue  # its statement may predate the window
                    normal = _normal(query or "")
                    self.counts[self.prints.get(normal, normal[:40] or "?")] += 1
                time.sleep(self.every)


def _xacts(conn: psycopg.Connection[Any], dbname: str) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (dbname,)
    ).fetchone()
    return int(row[0]) if row else 0


def _connections(conn: psycopg.Connection[Any], dbname: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,)
    ).fetchone()
    return int(row[0]) if row else 0


def one_run(args: argparse.Namespace, variant: str, run: int) -> dict[str, Any]:  # noqa: PLR0915
    """Start the fleet on a fresh database, measure idle then busy, stop it, drop the database."""
    dbname = f"conveyor_fleet_{os.getpid()}_{run}_{variant}"
    admin = args.pg_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    url = admin.rsplit("/", 1)[0] + f"/{dbname}"
    app = build(url)
    store = app.store  # migrates
    env = {
        **os.environ, "CONVEYOR_URL": url, "CONVEYOR_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        **VARIANTS[variant],
    }
    procs: list[subprocess.Popen[bytes]] = []
    result: dict[str, Any] = {"variant": variant, "run": run}
    try:
        for _ in range(args.supervisors):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "conveyor", "worker", "benchapp:app", "--queues", QUEUE,
                 "--processes", str(args.processes), "--concurrency", str(args.concurrency)],
                env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            ))
        total = args.supervisors * args.processes
        deadline = time.monotonic() + 180
        while len(store.live_workers(stale_after=60)) < total:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(store.live_workers(stale_after=60))} of {total} "
                                 "worker processes registered in 180 s")
            time.sleep(0.5)
        time.sleep(args.settle)  # start-up rounds (migrate checks, first leases) pass
        with psycopg.connect(admin, autocommit=True) as conn:
            sampler = Sampler(admin, dbname)
            sampler.start()
            before = _xacts(conn, dbname)
            start = time.monotonic()
            time.sleep(args.idle)
            after = _xacts(conn, dbname)
            span = time.monotonic() - start
            sampler.stop.set()
            sampler.join()
            idle_conns = _connections(conn, dbname)
            own = 1  # the benchmark's own store pool holds one of them
            result["idle_connections"] = idle_conns - own
            result["idle_xact_per_s"] = round((after - before) / span, 1)
            by_query = {k: round(v / span, 2) for k, v in sampler.counts.most_common()}
            by_source: Counter[str] = Counter()
            for name, rate in by_query.items():
                by_source[_source_of(name)] += rate
            result["idle_sampled_stmt_per_s"] = round(sum(by_query.values()), 1)
            result["idle_by_source"] = {k: round(v, 2) for k, v in by_source.most_common()}
            result["idle_by_query"] = dict(list(by_query.items())[:15])

            busy = Sampler(admin, dbname, every=0.05)
            busy.start()
            job = app.get(ASYNC_JOB)
            for offset in range(0, args.jobs, 5000):
                job.enqueue_many([{"i": i} for i in range(offset, min(args.jobs, offset + 5000))])
            deadline = time.monotonic() + args.timeout
            done = JobFilter(states=(JobState.SUCCEEDED,))
            while store.count_jobs(done) < args.jobs:
                if time.monotonic() > deadline:
                    raise SystemExit(f"busy phase did not finish in {args.timeout} s")
                time.sleep(0.25)
            busy.stop.set()
            busy.join()
        jobs = store.list_jobs(JobFilter(limit=args.jobs))
        first = min(j.started_at for j in jobs if j.started_at is not None)
        last = max(j.finished_at for j in jobs if j.finished_at is not None)
        result["busy_jobs_per_s"] = round(args.jobs / (last - first), 1)
        result["busy_max_connections"] = busy.max_connections - own
        result["busy_processes_worked"] = len({j.worker_id for j in jobs})
        return result
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        end = time.monotonic() + 30
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        app.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> None:
    """Run the fleet benchmark and print one JSON line per run and a summary of medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--supervisors", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds measured idle")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--variants", default="before,after")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if "127.0.0.1" not in args.pg_url and "localhost" not in args.pg_url:
        raise SystemExit("only loopback PostgreSQL hosts are used")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    print(f"# {' '.join(sys.argv)}")
    print(f"# load average at start: {os.getloadavg()}")
    results: list[dict[str, Any]] = []
    variants = args.variants.split(",")
    for run in range(args.runs):
        for variant in variants if run % 2 == 0 else list(reversed(variants)):
            result = one_run(args, variant, run)
            result["loadavg"] = os.getloadavg()[0]
            print(json.dumps(result), flush=True)
            results.append(result)
    print(f"# load average at end: {os.getloadavg()}")
    for metric in ("idle_connections", "idle_xact_per_s", "idle_sampled_stmt_per_s",
                   "busy_jobs_per_s", "busy_max_connections"):
        line = [f"{metric:>24}"]
        for variant in variants:
            values = [r[metric] for r in results if r["variant"] == variant]
            line.append(f"{variant}: median {statistics.median(values)} of {values}")
        print("  ".join(line))


if __name__ == "__main__":
    main()
