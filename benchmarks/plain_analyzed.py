"""Plain burst throughput on PostgreSQL with the jobs table never analyzed vs analyzed.

A fresh database, ``--jobs`` plain no-op jobs enqueued by ``pipelines.enqueue_plain`` (as
``pipelines.py``'s plain side does), then, every other round, ``ANALYZE``; then a burst worker
(2 processes, concurrency 50). Rounds alternate, never analyzed first. On a server with
autovacuum off (or in the minute before autovacuum gets to a freshly loaded backlog) the
never-analyzed figure is what a worker sees.

    .venv/bin/python benchmarks/plain_analyzed.py [--jobs 100000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pipebench
import pipelines
import psycopg
from bench import PostgresTarget


def one_round(target: PostgresTarget, args: argparse.Namespace, analyze: bool) -> float:
    """Jobs per second of one burst over ``args.jobs`` plain jobs."""
    with target.fresh("plain-analyzed") as url:
        app = pipebench.build(url)
        try:
            app.store.migrate()
            pipelines.enqueue_plain(app, args.jobs)
            if analyze:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("ANALYZE")
            return pipelines.burst_rate(app, url, args, args.jobs, "plain")
        finally:
            app.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    own, rest = parser.parse_known_args(argv)
    args = pipelines.parse_args(["--stores", "postgres", *rest])
    args.jobs = own.jobs
    target = PostgresTarget(args.pg_url)
    found: dict[bool, list[float]] = {False: [], True: []}
    try:
        for _ in range(own.rounds):
            for analyze in (False, True):
                rate = one_round(target, args, analyze)
                found[analyze].append(rate)
                label = "analyzed" if analyze else "never analyzed"
                print(f"{label:<15} {rate:>9.0f} jobs/s", flush=True)
    finally:
        target.cleanup()
    never, analyzed = statistics.median(found[False]), statistics.median(found[True])
    print(f"medians: never analyzed {never:.0f}, analyzed {analyzed:.0f} jobs/s, "
          f"ratio {never / analyzed:.2f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
