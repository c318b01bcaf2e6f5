"""The dashboard's ``/metrics`` at a million jobs (issue 15): the scrape computing the cluster
gauges itself (no fresh snapshot: what every scrape did before the monitor wrote one) against
the scrape serving the monitor's snapshot, interleaved; plus what the monitor's round pays to
write the snapshot.

    .venv/bin/python benchmarks/metrics_scrape.py [--rows 1000000] [--scrapes 7]

A fresh PostgreSQL database ``conveyor_scrape_<pid>`` on ``SCRAPE_PG_URL`` (default the local
server as ``postgres``) gets ``--rows`` jobs generated server-side over 4 queues (90 % queued,
5 % succeeded, 5 % dead) and is analyzed. Each scrape is a real ``GET /metrics`` with a read
token through the dashboard's Starlette app (in-process test client); the sides alternate in
every round. Medians and the ratio are printed; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import psycopg
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.monitor.gauges import SNAPSHOT_NAME, cluster_gauges
from conveyor.web import create_app
from conveyor.web.metrics import fresh_for

ADMIN_URL = os.environ.get("SCRAPE_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LOAD = """
INSERT INTO conveyor_jobs (queue, name, args, state, priority, max_attempts, run_at, created_at,
                           finished_at)
SELECT 'q' || (g %% 4), 'bench.job', jsonb_build_object('i', g),
       CASE WHEN g %% 20 = 0 THEN 'succeeded' WHEN g %% 20 = 1 THEN 'dead' ELSE 'queued' END,
       0, 4, now() - make_interval(secs => 3600) + make_interval(secs => g / 1000.0), now(),
       CASE WHEN g %% 20 IN (0, 1) THEN now() END
FROM generate_series(1, %(rows)s) AS g
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=7)
    args = parser.parse_args()
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}")
    name = f"conveyor_scrape_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        run(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", args.rows, args.scrapes)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, rows: int, scrapes: int) -> None:
    """Load ``rows`` jobs, then time ``scrapes`` scrapes of each side, interleaved."""
    app = Conveyor(url)
    store = app.store
    store.migrate()
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(LOAD, {"rows": rows})
        conn.execute("ANALYZE conveyor_jobs")
        print(f"# loaded {rows} jobs in {time.perf_counter() - started:.1f}s")
    client = TestClient(create_app(app, tokens={"bench-read-token-0123": "read"}))
    headers = {"Authorization": "Bearer bench-read-token-0123"}
    stale = fresh_for(app.monitor_config.interval) + 60
    taken: dict[str, list[float]] = {"computed (no snapshot)": [], "snapshot": []}
    writes: list[float] = []
    for index in range(scrapes + 1):  # the first round warms both paths and is not kept
        order = list(taken) if index % 2 == 0 else list(reversed(taken))
        for side in order:
            # The monitor's work, timed apart: count and render, then store the snapshot.
            started = time.perf_counter()
            body = "\n".join(cluster_gauges(store, app.schedules))
            at = store.now() - (stale if side.startswith("computed") else 0.0)
            store.put_metrics_snapshot(SNAPSHOT_NAME, body, now=at)
            wrote = time.perf_counter() - started
            started = time.perf_counter()
            answer = client.get("/metrics", headers=headers)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            assert 'conveyor_queue_jobs{queue="q1",state="queued"}' in answer.text
            if index:
                taken[side].append(elapsed)
                if side == "snapshot":
                    writes.append(wrote)
    print(f"\nGET /metrics, {rows} jobs, {scrapes} interleaved rounds (median ms)")
    for side, values in taken.items():
        print(f"  {side:24s} {statistics.median(values) * 1e3:8.1f}   "
              f"{[round(v * 1e3, 1) for v in values]}")
    computed, snap = (statistics.median(v) for v in taken.values())
    print(f"  snapshot/computed {snap / computed:.3f}")
    print(f"  monitor round's snapshot (count, render, write): "
          f"{statistics.median(writes) * 1e3:.1f} ms median")
    client.close()
    app.close()


if __name__ == "__main__":
    main()
