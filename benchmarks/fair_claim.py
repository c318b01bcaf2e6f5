"""The plain claim statement alone, this checkout's SQL against a base revision's, interleaved:
milliseconds per claim of 50 on PostgreSQL with no tenants and with 20 (issue 14, item 4).
This checkout has two: claim_jobs.sql and claim_jobs_tenants.sql (short heads), which a store
runs while its claims take jobs of several tenant groups; both are timed in both cases.

Run from the repository root::

    .venv/bin/python benchmarks/fair_claim.py [--base main] [--rounds 60] [--jobs 20000]
        [--never-analyzed]

For each tenant count it creates a database ``conveyor_fairclaim_<pid>_<t>`` on
``FAIR_PG_URL`` (default the local server as ``postgres``), migrates it, generates ``--jobs``
jobs server-side (the first 100 running, the rest queued, tenants ``t0..`` round robin), and
ANALYZEs (with ``--never-analyzed`` it does not, and keeps autovacuum off the table: the
planner then sees what a new database, or a server without autovacuum, shows it, as in
``flow_control.py``'s databases; decision 119). Then, ``--rounds`` times, each statement runs
once under ``EXPLAIN (ANALYZE, TIMING OFF)`` (in alternating order), inside a transaction that
is rolled back, so every run sees the same rows (each rollback leaves dead row versions, hence
few rounds). Printed: the median and p90 of the server's execution time of each, and each new
one / old. The box is shared; the ratio of medians taken in one run is the figure to read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conveyor.store import open_store  # noqa: E402
from conveyor.store.postgres.sql import query  # noqa: E402

LOAD = """
INSERT INTO conveyor_jobs (queue, name, args, state, priority, max_attempts, run_at,
                           created_at, tenant)
SELECT 'bench', 'bench.noop_async', jsonb_build_object('i', g),
       CASE WHEN g <= 100 THEN 'running' ELSE 'queued' END, 0, 4,
       now() - interval '1 hour' + make_interval(secs => g / 1000.0), now(),
       CASE WHEN %(tenants)s > 1 THEN 't' || (g %% %(tenants)s) END
FROM generate_series(1, %(jobs)s) AS g
"""
EXPLAIN = "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) "
"""The server's own execution time: the client's wait for a CPU on a shared box stays out."""
PARAMS = {
    "queues": ["bench"],
    "names": ["bench.noop_async"],
    "limit": 50,
    "worker_id": "w",
    "lease_seconds": 60.0,
}


def main() -> None:
    """Time both sides' claim statements, interleaved, per tenant count."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--never-analyzed", action="store_true")
    args = parser.parse_args()
    admin = os.environ.get("FAIR_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    old_sql = subprocess.run(
        ["git", "show", f"{args.base}:conveyor/store/postgres/queries/claim_jobs.sql"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.replace("{schema}", '"public"')
    sides = {
        "old": old_sql,
        "new_plain": query("claim_jobs", "public"),
        "new_tenants": query("claim_jobs_tenants", "public"),
    }
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for tenants in (1, 20):
        name = f"conveyor_fairclaim_{os.getpid()}_{tenants}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + f"/{name}"
        try:
            open_store(url).close()
            with psycopg.connect(url, autocommit=True) as conn:
                if args.never_analyzed:
                    conn.execute("ALTER TABLE conveyor_jobs SET (autovacuum_enabled = off)")
                conn.execute(LOAD, {"tenants": tenants, "jobs": args.jobs})
                if not args.never_analyzed:
                    conn.execute("VACUUM ANALYZE conveyor_jobs")
            times: dict[str, list[float]] = {side: [] for side in sides}
            with psycopg.connect(url, options="-c jit=off") as conn:
                for i in range(args.rounds):
                    order = list(sides) if i % 2 == 0 else list(sides)[::-1]
                    for side in order:
                        plan = conn.execute(EXPLAIN + sides[side], PARAMS).fetchall()
                        conn.rollback()
                        text = "\n".join(row[0] for row in plan)
                        found = re.search(r"Execution Time: ([0-9.]+)", text)
                        assert found is not None and "rows=50 loops=1" in text, text[:300]
                        times[side].append(float(found.group(1)))
            out = {
                "tenants": tenants,
                "jobs": args.jobs,
                "rounds": args.rounds,
                "analyzed": not args.never_analyzed,
            }
            for side, values in times.items():
                values.sort()
                out[f"{side}_median_ms"] = round(statistics.median(values), 3)
                out[f"{side}_p90_ms"] = round(values[int(len(values) * 0.9)], 3)
            for side in ("new_plain", "new_tenants"):
                out[f"{side}_over_old"] = round(out[f"{side}_median_ms"] / out["old_median_ms"], 3)
            print(json.dumps(out))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
