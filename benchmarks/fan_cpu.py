"""CPU per job of a fan run and of plain jobs on PostgreSQL: the worker processes' and the
server's, beside the rate (issue 13's fan share, read as CPU).

On a 2-core box both runs of ``pipelines.py --only fan_throughput`` keep the cores busy, so
the fan share follows CPU per job; and CPU per job varies less between runs than the rate
does on a noisy box. Each run is what ``pipelines.py`` runs (``pipebench``'s app, a burst
worker of ``--processes`` x ``--concurrency``, a fresh database): one ``fan`` run over
``--items`` items, or as many plain no-op jobs enqueued first. Measured over the burst
worker's life:

- worker CPU: the worker's process tree (``RUSAGE_CHILDREN`` of this process, which waits
  for it), start-up included;
- server CPU: every ``postgres`` process of the server (``/proc/<pid>/stat``, user and
  system, its reaped children's included), sampled before and after, so other databases'
  work on the server counts too;
- the rate: ``pipelines.burst_rate`` (store timestamps, first start to last finish).

Usage (from the repository root)::

    .venv/bin/python benchmarks/fan_cpu.py --rounds 3            # fan and plain, interleaved
    PYTHONPATH=/tmp/ab-base .venv/bin/python benchmarks/fan_cpu.py --only fan --rounds 1
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pipebench  # noqa: E402
import pipelines  # noqa: E402
from bench import DEFAULT_PG_URL, PostgresTarget  # noqa: E402


def server_cpu() -> float:
    """Seconds of CPU every ``postgres`` process on this machine has used (user + system),
    with that of the reaped children of each (the postmaster's holds every backend that
    has exited: a run's backends end with its worker, before the second reading)."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """Seconds of CPU this process's waited-for children have used."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(target: PostgresTarget, kind: str, args: argparse.Namespace) -> dict[str, float]:
    """One fan run or one plain run on a fresh database: rate and CPU per job."""
    settings = pipelines.parse_args(
        ["--stores", "postgres", "--processes", str(args.processes),
         "--concurrency", str(args.concurrency)]
    )
    with target.fresh(kind) as url:
        app = pipebench.build(url)
        try:
            app.store.migrate()
            if kind == "fan":
                app.pipelines["fan"].start(n=args.items)
                expected = args.items + 3  # the split, the expander, the gather
            else:
                pipelines.enqueue_plain(app, args.items)
                expected = args.items
            worker0, server0 = children_cpu(), server_cpu()
            rate = pipelines.burst_rate(app, url, settings, expected, kind)
            worker1, server1 = children_cpu(), server_cpu()
        finally:
            app.close()
    return {
        "jobs_per_s": rate,
        "worker_us_per_job": 1e6 * (worker1 - worker0) / expected,
        "server_us_per_job": 1e6 * (server1 - server0) / expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="fan,plain", help="comma list of fan, plain")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    target = PostgresTarget(args.pg_url)
    kinds = args.only.split(",")
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    try:
        for n in range(args.rounds):
            for kind in kinds:
                found = one_run(target, kind, args)
                results[kind].append(found)
                print(f"round {n + 1} {kind}: " + ", ".join(
                    f"{k} {v:,.0f}" for k, v in found.items()), flush=True)
    finally:
        target.cleanup()
    print(f"# load average at end: {os.getloadavg()}")
    for kind, rows in results.items():
        medians = {k: statistics.median(r[k] for r in rows) for k in rows[0]} if rows else {}
        print(f"median {kind}: " + ", ".join(f"{k} {v:,.0f}" for k, v in medians.items()))


if __name__ == "__main__":
    main()
