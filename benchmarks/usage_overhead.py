"""What usage accounting costs (issue 16, item 7).

Two measurements, each as interleaved rounds whose medians are reported:

* ``meter``: the middleware chain around one attempt whose body does nothing, with no
  middleware and with the built-in :class:`~conveyor.worker.usage.UsageMeter` (timings, a
  read of ``/proc/self/statm``, the row kept in memory), timed over many attempts.
* ``write``: ``record_usage`` of one batch of rows (what the worker's usage writer does about
  once a second) on a SQLite file and, with ``--postgres URL``, on PostgreSQL, as ms per batch
  and µs per row.

    .venv/bin/python benchmarks/usage_overhead.py [--attempts 50000] [--batch 500]
        [--rounds 5] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from chain_timing import bench_context, seconds_per_attempt

from conveyor.middleware import Middleware
from conveyor.store import Store, open_store
from conveyor.store.contract.records import NewJob
from conveyor.store.contract.usage import UsageRow
from conveyor.worker.usage import UsageMeter


async def chain_seconds(items: list[Middleware], attempts: int) -> float:
    """Seconds per attempt of the chain around a body that does nothing."""
    ctx = bench_context()
    ctx.usage(tokens=10, cost=0.5)
    meters = [item for item in items if isinstance(item, UsageMeter)]
    took = await seconds_per_attempt(items, ctx, attempts)
    for meter in meters:
        meter.take()
    return took


def write_seconds(store: Store, job_ids: list[int], batch: int) -> float:
    """Seconds to record one batch of ``batch`` rows."""
    rows = [UsageRow(job_id=job_ids[i % len(job_ids)], attempt=1, name="bench.noop",
                     queue="default", tenant="acme", finished_at=time.time(), wall=0.01,
                     cpu=0.005, memory_mb=80.0, units={"tokens": 10, "cost": 0.5})
            for i in range(batch)]
    began = time.perf_counter()
    store.record_usage(rows)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--attempts", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (a schema is made)")
    args = parser.parse_args()
    print(f"# python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}")

    per: dict[str, list[float]] = {"none": [], "usage meter": []}
    for _ in range(args.rounds):
        per["none"].append(asyncio.run(chain_seconds([], args.attempts)))
        per["usage meter"].append(asyncio.run(chain_seconds([UsageMeter()], args.attempts)))
    base = statistics.median(per["none"])
    print(f"\nmeter, {args.attempts} attempts x {args.rounds} interleaved rounds (median µs "
          "per attempt)")
    for name, values in per.items():
        median = statistics.median(values)
        print(f"  {name:12s} {median * 1e6:7.2f} µs   extra {(median - base) * 1e6:6.2f} µs")

    stores: dict[str, Store] = {}
    folder = Path(tempfile.mkdtemp(prefix="conveyor-bench-usage-"))
    stores["sqlite"] = open_store(f"sqlite:///{folder / 'usage.db'}")
    schema = f"bench_usage_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        stores["postgres"] = open_store(args.postgres, schema=schema)
    ids: dict[str, list[int]] = {}
    for name, store in stores.items():
        store.migrate()
        inserted = store.insert_jobs([NewJob(queue="default", name="bench.noop", args_json="{}",
                                             max_attempts=1)
                                      for _ in range(100)])
        ids[name] = [i.id for i in inserted]
    writes: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(args.rounds):
        for name, store in stores.items():
            writes[name].append(write_seconds(store, ids[name], args.batch))
    print(f"\nwrite, one batch of {args.batch} rows x {args.rounds} interleaved rounds (median)")
    for name, values in writes.items():
        median = statistics.median(values)
        print(f"  {name:9s} {median * 1e3:7.2f} ms per batch   "
              f"{median / args.batch * 1e6:6.1f} µs per row")
    for store in stores.values():
        store.close()
    if args.postgres:
        import psycopg

        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
