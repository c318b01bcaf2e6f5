"""Pipeline benchmarks (issue 13): stage hand-off and fan-in latency, fan-out write time,
3-stage pipeline throughput against plain jobs, and bytes stored per run.

Run from the repository root::

    .venv/bin/python benchmarks/pipelines.py                     # both stores, 3 runs each
    .venv/bin/python benchmarks/pipelines.py --stores sqlite --runs 5 --items 20000
    .venv/bin/python benchmarks/pipelines.py --quick             # smoke run

Each measurement gets a fresh database (a SQLite file in a temporary folder, or a PostgreSQL
database created on ``--pg-url`` and dropped after), as ``bench.py`` does, whose helpers this
script reuses. Workers are real: ``run_worker("pipebench:app", ...)`` in a subprocess. Every
time comes from the store's own timestamps (``created_at``, ``started_at``, ``finished_at``).

- ``handoff``: a worker running (not burst); a 3-stage run started every 50 ms; hand-off =
  the next stage job's ``started_at`` minus the previous one's ``finished_at`` (two per run).
  Beside it, ``plain_latency``: plain no-op jobs enqueued every 50 ms on the same worker,
  ``started_at - created_at``. Target: hand-off p50 and p99 at most 2x the plain figures.
- ``fan_in``: runs of split -> 1,000 items -> gather; latency = gather's ``started_at`` minus
  the last item's ``finished_at``.
- ``fan_out_write``: ``expand_stage`` with 10,000 items, timed in this process (the call that
  writes the item jobs and rows).
- ``throughput``: N runs of the 3-stage chain (3N stage jobs) started first, then a burst
  worker; stage jobs per second from the first ``started_at`` to the last ``finished_at``;
  the same for 3N plain no-op jobs; share = pipeline / plain. Target >= 70 %. The plain jobs
  are all enqueued before the worker starts, while two stage jobs in three are inserted by
  the hand-off inside the timed span; so beside it, ``share_of_by_hand``: the pipeline over N
  3-step chains written by hand (each job enqueues the next in the transaction that
  completes it, ``pbench.by_hand``), the same work without the run's bookkeeping.
- ``fan_throughput``: the issue's "3-stage pipeline over 100,000 items" read as its own
  example reads (fetch -> embed each chunk -> index): one run of split -> one job per item
  (``--fan-items``, 100,000) -> gather, a burst worker, stage jobs per second from the split's
  start to the gather's finish (the item jobs are written inside that span); the same number
  of plain no-op jobs beside it; share = fan / plain. Target >= 70 %.
- ``bytes_per_run``: the run tables' size (rows and indexes) after the throughput run, over N.

Output: ``#`` lines with the settings, one JSON line per metric (median, min, max, values),
then a table. The box is shared and noisy: read the figures as medians of a few runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pipebench
from bench import (
    DEFAULT_PG_URL,
    HERE,
    BenchError,
    PostgresTarget,
    SQLiteTarget,
    percentile,
    progress,
    stop_worker,
    wait_until,
)

from conveyor import Conveyor, JobState
from conveyor.models import RunState
from conveyor.store.contract.run_records import EXPANDER_ITEM
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind, JobFilter

WORKER_MAIN = (
    "import json, sys\n"
    "from conveyor.worker import WorkerConfig, run_worker\n"
    "sys.exit(run_worker('pipebench:app', WorkerConfig(**json.loads(sys.argv[1]))))\n"
)
INTERVAL = 0.05
"""One run (or plain job) every 50 ms in the latency measurements: a light, steady load."""
RUN_TABLES = ("conveyor_runs", "conveyor_stage_runs", "conveyor_stage_items", "conveyor_steps")

Samples = dict[str, float]


@contextlib.contextmanager
def worker(url: str, *, burst: bool, processes: int, concurrency: int) -> Iterator[Any]:
    """The real supervisor and its worker processes, in their own process group."""
    env = dict(os.environ, CONVEYOR_URL=url, CONVEYOR_LOG_LEVEL="WARNING")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    config = {"processes": processes, "concurrency": concurrency, "burst": burst,
              "queues": [pipebench.QUEUE]}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER_MAIN, json.dumps(config)],
        env=env, cwd=HERE, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop_worker(proc)


def registered(app: Conveyor, proc: Any, processes: int) -> None:
    """Wait until the worker processes are up and idle."""
    wait_until(lambda: len(app.store.live_workers(60.0)) >= processes, 60.0, "workers", proc)
    time.sleep(0.5)


def jobs_by_id(app: Conveyor, ids: list[int]) -> dict[int, Any]:
    """The jobs with these ids (in chunks: a filter of 10,000 ids is one long IN list)."""
    found: dict[int, Any] = {}
    for first in range(0, len(ids), 1000):
        chunk = tuple(ids[first : first + 1000])
        for job in app.store.list_jobs(JobFilter(ids=chunk, payloads=False, limit=len(chunk))):
            found[job.id] = job
    return found


def stage_jobs(app: Conveyor, run_id: int) -> dict[str, tuple[int, ...]]:
    run = app.store.get_run(run_id)
    assert run is not None and run.state is RunState.SUCCEEDED, run
    return {s.stage: s.job_ids for s in run.stages}


# -- the measurements ---------------------------------------------------------------------------


def measure_handoff(url: str, args: argparse.Namespace) -> Samples:
    """Hand-off p50/p99 of a running 3-stage chain and plain enqueue-to-start beside it."""
    n = args.latency_runs
    app = pipebench.build(url)
    try:
        app.store.migrate()
        chain, plain = app.pipelines["chain"], app.get(pipebench.PLAIN_JOB)
        with worker(url, burst=False, processes=args.processes, concurrency=args.concurrency) \
                as proc:
            registered(app, proc, args.processes)
            runs = paced(n, lambda i: chain.start(i=i).id)
            plains = paced(n, lambda i: plain.enqueue(i=i).id)
            wait_until(
                lambda: app.store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,))) >= 4 * n,
                args.timeout, "the runs and plain jobs", proc,
            )
        handoffs: list[float] = []
        for run_id in runs:
            ids = stage_jobs(app, run_id)
            jobs = jobs_by_id(app, [ids[s][0] for s in ("s1", "s2", "s3")])
            s1, s2, s3 = (jobs[ids[s][0]] for s in ("s1", "s2", "s3"))
            handoffs += [s2.started_at - s1.finished_at, s3.started_at - s2.finished_at]
        plain_jobs = jobs_by_id(app, plains).values()
        latencies = sorted((j.started_at - j.created_at) * 1000 for j in plain_jobs)
    finally:
        app.close()
    ms = sorted(h * 1000 for h in handoffs)
    out = {
        "handoff_p50_ms": percentile(ms, 0.5),
        "handoff_p99_ms": percentile(ms, 0.99),
        "plain_latency_p50_ms": percentile(latencies, 0.5),
        "plain_latency_p99_ms": percentile(latencies, 0.99),
    }
    out["handoff_p50_ratio"] = out["handoff_p50_ms"] / max(out["plain_latency_p50_ms"], 1e-6)
    out["handoff_p99_ratio"] = out["handoff_p99_ms"] / max(out["plain_latency_p99_ms"], 1e-6)
    return out


def paced(n: int, start: Callable[[int], int]) -> list[int]:
    """Call ``start(i)`` n times, one every :data:`INTERVAL`; the ids it returned."""
    ids, began = [], time.monotonic()
    for i in range(n):
        pause = began + i * INTERVAL - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        ids.append(start(i))
    return ids


def measure_fan_in(url: str, args: argparse.Namespace) -> Samples:
    """Fan-in latency: the last item's finish to the collector's start, over a few runs."""
    app = pipebench.build(url)
    latencies: list[float] = []
    try:
        app.store.migrate()
        fan = app.pipelines["fan"]
        with worker(url, burst=False, processes=args.processes, concurrency=args.concurrency) \
                as proc:
            registered(app, proc, args.processes)
            for _ in range(args.fan_in_runs):
                handle = fan.start(n=args.fan_in_items)
                wait_until(
                    lambda h=handle: app.store.get_run(h.id).state is not RunState.RUNNING,  # type: ignore[union-attr]
                    args.timeout, "a fan run", proc,
                )
                ids = stage_jobs(app, handle.id)
                items = jobs_by_id(app, list(ids["item"][1:]))  # [0] is the expander
                [gather] = jobs_by_id(app, list(ids["gather"])).values()
                last = max(j.finished_at for j in items.values())
                latencies.append((gather.started_at - last) * 1000)
    finally:
        app.close()
    return {"fan_in_ms": statistics.median(latencies)}


def measure_fan_out_write(url: str, args: argparse.Namespace) -> Samples:
    """``expand_stage`` of 10,000 items, timed in this process (no worker)."""
    app = pipebench.build(url)
    store = app.store
    try:
        store.migrate()
        timings = []
        for _ in range(3):
            app.pipelines["fan"].start(n=args.fan_out_items)
            claim = ClaimParams("bench", (pipebench.QUEUE,), ("fan.split",), 1, 60.0)
            [split] = store.claim_jobs(claim)
            items = list(range(args.fan_out_items))
            store.complete_jobs([Completion(split.id, split.token, CompletionKind.SUCCEEDED,
                                            result_json=json.dumps(items), in_run=True)])
            claim = ClaimParams("bench", (pipebench.QUEUE,), ("fan.item",), 1, 60.0)
            [expander] = store.claim_jobs(claim)
            assert json.loads(expander.args_json)["item"] == EXPANDER_ITEM
            encoded = [str(i) for i in items]
            began = time.perf_counter()
            assert store.expand_stage(expander.id, expander.token, encoded)
            timings.append(time.perf_counter() - began)
            # Drop this fan's items so the next expansion writes into the same-size tables.
            store.cancel_jobs(JobFilter(name="fan.item", states=(JobState.QUEUED,)))
    finally:
        app.close()
    seconds = statistics.median(timings)
    return {"fan_out_write_10k_s": seconds, "fan_out_items_per_s": args.fan_out_items / seconds}


def enqueue_plain(app: Conveyor, n: int) -> None:
    """Enqueue ``n`` plain no-op jobs, 1,000 a batch."""
    plain = app.get(pipebench.PLAIN_JOB)
    for first in range(0, n, 1000):
        plain.enqueue_many([{"i": i} for i in range(first, min(n, first + 1000))])


def plain_throughput(url: str, args: argparse.Namespace, n: int) -> float:
    """Plain no-op jobs per second from the first start to the last finish (enqueued before)."""
    return plain_rates(url, args, n)[0]


def plain_rates(url: str, args: argparse.Namespace, n: int) -> tuple[float, float]:
    """:func:`plain_throughput`, and the rate counting the producer's ``enqueue_many`` too:
    ``n`` over the enqueue's seconds plus the processing span's."""
    app = pipebench.build(url)
    try:
        app.store.migrate()
        began = time.perf_counter()
        enqueue_plain(app, n)
        enqueued = time.perf_counter() - began
        rate = burst_rate(app, url, args, n, "plain")
        return rate, n / (enqueued + n / rate)
    finally:
        app.close()


def burst_rate(
    app: Conveyor, url: str, args: argparse.Namespace, expected: int, what: str
) -> float:
    """Run a burst worker over what ``app``'s store holds; succeeded jobs per second from the
    first start to the last finish, after checking that all ``expected`` succeeded."""
    with worker(url, burst=True, processes=args.processes, concurrency=args.concurrency) as proc:
        wait_until(lambda: proc.poll() is not None, args.timeout, "the burst worker", None)
    jobs = app.store.list_jobs(JobFilter(states=(JobState.SUCCEEDED,), payloads=False))
    if len(jobs) != expected:
        raise BenchError(f"expected {expected} succeeded {what} jobs, found {len(jobs)}")
    return expected / span(jobs)


def span(jobs: list[Any]) -> float:
    return max(j.finished_at for j in jobs) - min(j.started_at for j in jobs)


def run_bytes(app: Conveyor, url: str) -> float:
    """Bytes the run tables hold, with their indexes (the jobs table is counted apart: stage
    jobs are ordinary jobs, pruned by the jobs' own retention)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        try:
            marks = ",".join("?" * len(RUN_TABLES))
            names = [r[0] for r in conn.execute(
                f"SELECT name FROM sqlite_master WHERE tbl_name IN ({marks})", RUN_TABLES)]
            marks = ",".join("?" * len(names))
            total = conn.execute(
                f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names
            ).fetchone()[0]
        finally:
            conn.close()
        return float(total or 0)
    import psycopg

    schema = getattr(app.store, "schema", "public")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute(
            "SELECT sum(pg_total_relation_size((quote_ident(%s) || '.' || quote_ident(t))"
            "::regclass)) FROM unnest(%s::text[]) AS t",
            (schema, list(RUN_TABLES)),
        ).fetchone()
    return float(row[0] or 0)


def by_hand_throughput(url: str, args: argparse.Namespace) -> float:
    """Jobs per second of ``--by-hand-items`` 3-step chains written by hand
    (``pbench.by_hand``: each step enqueues the next in the transaction that completes it),
    3N jobs. Fewer than the pipeline's runs by default: each job is a transaction of its own,
    so they run at a few hundred a second."""
    app = pipebench.build(url)
    try:
        app.store.migrate()
        first = app.get(pipebench.BY_HAND_JOB)
        n = args.by_hand_items
        for start in range(0, n, 1000):
            first.enqueue_many([{"i": i, "step": 1} for i in range(start, min(n, start + 1000))])
        return burst_rate(app, url, args, 3 * n, "by-hand")
    finally:
        app.close()


def measure_throughput_two(
    url: str, plain_url: str, hand_url: str, args: argparse.Namespace
) -> Samples:
    out = measure_pipeline_side(url, args)
    out["plain_jobs_per_s"] = plain_throughput(plain_url, args, 3 * args.items)
    out["pipeline_share"] = out["pipeline_jobs_per_s"] / out["plain_jobs_per_s"]
    if args.by_hand_items > 0:
        out["by_hand_jobs_per_s"] = by_hand_throughput(hand_url, args)
        out["share_of_by_hand"] = out["pipeline_jobs_per_s"] / out["by_hand_jobs_per_s"]
    return out


def measure_pipeline_side(url: str, args: argparse.Namespace) -> Samples:
    n = args.items
    out: Samples = {}
    app = pipebench.build(url)
    try:
        app.store.migrate()
        chain = app.pipelines["chain"]
        began = time.perf_counter()
        for i in range(n):
            chain.start(i=i)
        out["run_starts_per_s"] = n / (time.perf_counter() - began)
        out["pipeline_jobs_per_s"] = burst_rate(app, url, args, 3 * n, "stage")
        out["bytes_per_run"] = run_bytes(app, url) / n
    finally:
        app.close()
    return out


def measure_fan_throughput_two(url: str, plain_url: str, args: argparse.Namespace) -> Samples:
    """One ``fan`` run over ``--fan-items`` items (split -> one job per item -> gather), then
    the same number of plain no-op jobs on a database of their own."""
    out = measure_fan_side(url, args)
    plain, plain_with_enqueue = plain_rates(plain_url, args, args.fan_items)
    out["fan_plain_jobs_per_s"] = plain
    out["fan_share"] = out["fan_jobs_per_s"] / plain
    # The fan run writes its item jobs inside its span; the plain jobs' writes are outside
    # theirs. A second reading puts them inside too (not the target's reading).
    out["fan_plain_with_enqueue_jobs_per_s"] = plain_with_enqueue
    out["fan_share_with_enqueue"] = out["fan_jobs_per_s"] / plain_with_enqueue
    return out


def measure_fan_side(url: str, args: argparse.Namespace) -> Samples:
    """Stage jobs per second of one fan run, from the split's start to the gather's finish:
    the split, the item stage's expander (it writes the items' jobs), every item, the gather.
    Unlike the plain jobs, the item jobs are written inside the timed span."""
    n = args.fan_items
    app = pipebench.build(url)
    try:
        app.store.migrate()
        handle = app.pipelines["fan"].start(n=n)
        out = {"fan_jobs_per_s": burst_rate(app, url, args, n + 3, "fan stage")}
        run = app.store.get_run(handle.id)
        if run is None or run.state is not RunState.SUCCEEDED:
            raise BenchError(f"the fan run ended {run.state if run else 'missing'}")
    finally:
        app.close()
    return out


# -- driver -------------------------------------------------------------------------------------

MEASUREMENTS: dict[str, Callable[[str, argparse.Namespace], Samples]] = {
    "handoff": measure_handoff,
    "fan_in": measure_fan_in,
    "fan_out_write": measure_fan_out_write,
    "throughput": measure_pipeline_side,  # with plain jobs beside it: measure_throughput_two
    "fan_throughput": measure_fan_side,  # with plain jobs beside it: measure_fan_throughput_two
}
TARGETS = {"handoff_p50_ratio": ("<=", 2.0), "handoff_p99_ratio": ("<=", 2.0),
           "pipeline_share": (">=", 0.70), "fan_share": (">=", 0.70)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join(MEASUREMENTS))
    parser.add_argument("--items", type=int, default=10_000, help="3-stage runs (throughput)")
    parser.add_argument("--by-hand-items", type=int, default=1000,
                        help="chains written by hand beside the throughput runs (0: none)")
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--fan-in-runs", type=int, default=5)
    parser.add_argument("--fan-in-items", type=int, default=1000)
    parser.add_argument("--fan-out-items", type=int, default=10_000)
    parser.add_argument("--fan-items", type=int, default=100_000,
                        help="items of the fan run (fan_throughput)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.items, args.latency_runs, args.by_hand_items = 1, 500, 40, 200
        args.fan_in_runs, args.fan_in_items, args.fan_out_items = 2, 200, 10_000
        args.fan_items = 5000
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    targets = {"sqlite": lambda: SQLiteTarget(args.tmpdir),
               "postgres": lambda: PostgresTarget(args.pg_url)}
    print(f"# {' '.join(['pipelines.py', *argv])}")
    print(f"# cpus={os.cpu_count()} load={os.getloadavg()} runs={args.runs} items={args.items}")
    table: list[tuple[str, str, float, float, float]] = []
    for store_name in args.stores.split(","):
        target = targets[store_name]()
        try:
            for name in args.only.split(","):
                values: dict[str, list[float]] = {}
                for k in range(args.runs):
                    progress(f"{store_name} {name} run {k + 1}/{args.runs}")
                    with target.fresh(f"pipe-a-{name}") as url:
                        found = measure_with_second_db(target, name, url, args)
                    for metric, value in found.items():
                        values.setdefault(metric, []).append(value)
                for metric, got in values.items():
                    med = statistics.median(got)
                    row = {"store": store_name, "metric": metric, "value": round(med, 4),
                           "min": round(min(got), 4), "max": round(max(got), 4),
                           "values": [round(v, 4) for v in got]}
                    if metric in TARGETS:
                        op, bar = TARGETS[metric]
                        row["target"] = f"{op} {bar}"
                        row["meets_target"] = med <= bar if op == "<=" else med >= bar
                    print(json.dumps(row), flush=True)
                    table.append((store_name, metric, med, min(got), max(got)))
        finally:
            target.cleanup()
    print(f"\n{'store':<9} {'metric':<26} {'median':>12} {'min':>12} {'max':>12}  target")
    for store_name, metric, med, low, high in table:
        op_bar = TARGETS.get(metric)
        bar = f"{op_bar[0]} {op_bar[1]}" if op_bar else ""
        print(f"{store_name:<9} {metric:<26} {med:>12.3f} {low:>12.3f} {high:>12.3f}  {bar}")
    return 0


def measure_with_second_db(target: Any, name: str, url: str, args: argparse.Namespace) -> Samples:
    """Run one measurement; the throughput ones get fresh databases of their own for their
    plain jobs and by-hand chains (so they do not share tables with the runs)."""
    if name == "fan_throughput":
        with target.fresh(f"pipe-b-{name}") as plain_url:
            return measure_fan_throughput_two(url, plain_url, args)
    if name != "throughput":
        return MEASUREMENTS[name](url, args)
    with target.fresh(f"pipe-b-{name}") as plain_url, \
            target.fresh(f"pipe-c-{name}") as hand_url:
        return measure_throughput_two(url, plain_url, hand_url, args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
