"""CPU time per stage job against per plain job, in process, for a loaded shared box.

``pipelines.py`` measures wall-clock throughput with real workers; on a box whose load average
is in the tens its figures swing by 2x from run to run. This one measures what the store
itself spends, as CPU time of this process (on SQLite the database engine runs in this
process; on PostgreSQL the server's share is not counted, so use it for SQLite), which the
load disturbs far less. It drives the rounds a worker runs: ``complete_and_claim`` with a
batch of ``--batch`` finished jobs and a claim of as many, until nothing is left, over
``--runs`` 3-stage runs (3N stage jobs) and, in another fresh database, 3N plain jobs.
The share is plain CPU per job over stage CPU per job, the CPU-bound counterpart of
``pipelines.py``'s ``pipeline_share``.

With ``--store postgres`` each side gets a fresh database on ``--pg-url``'s server, and the
CPU counted is this process's plus that of the server backends serving the database (read
from ``/proc``, so the server must run on this machine); the wall time per job is printed
beside it.

    .venv/bin/python benchmarks/pipeline_cpu.py --runs 2000 --rounds 3
    .venv/bin/python benchmarks/pipeline_cpu.py --store postgres --runs 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pipebench

from conveyor.store.protocol import ClaimParams, Completion, CompletionKind


def drain(app: Any, names: tuple[str, ...], batch: int, in_run: bool) -> tuple[int, float]:
    """Claim and complete every job of ``names`` in worker-like rounds; (jobs, CPU seconds)."""
    store = app.store
    params = ClaimParams("cpu", (pipebench.QUEUE,), names, batch, 60.0)
    done = 0
    began = time.process_time()
    claimed = store.claim_jobs(params)
    while claimed:
        finished = [
            Completion(j.id, j.token, CompletionKind.SUCCEEDED, "1", in_run=in_run)
            for j in claimed
        ]
        done += len(finished)
        claimed = store.complete_and_claim(finished, params).claimed
    return done, time.process_time() - began


def _server_cpu(admin_url: str, database: str) -> float:
    """CPU seconds the server backends connected to ``database`` have used (from /proc)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@contextlib.contextmanager
def _database(args: argparse.Namespace, folder: Path, name: str) -> Iterator[str]:
    """A fresh store URL: a SQLite file in ``folder``, or a database created on --pg-url."""
    if args.store == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    import psycopg

    database = f"pipecpu_{os.getpid()}_{name}"
    with psycopg.connect(args.pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    try:
        yield args.pg_url.rsplit("/", 1)[0] + "/" + database
    finally:
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {database} WITH (FORCE)")


def one_side(args: argparse.Namespace, url: str, stages: bool) -> tuple[float, float]:
    """(CPU microseconds per job, wall microseconds per job) draining 3N stage or plain jobs."""
    app = pipebench.build(url)
    try:
        app.store.migrate()
        if stages:
            chain = app.pipelines["chain"]
            for i in range(args.runs):
                chain.start(i=i)
            names: tuple[str, ...] = ("chain.s1", "chain.s2", "chain.s3")
        else:
            plain = app.get(pipebench.PLAIN_JOB)
            n = 3 * args.runs
            for first in range(0, n, 1000):
                plain.enqueue_many([{"i": i} for i in range(first, min(n, first + 1000))])
            names = (pipebench.PLAIN_JOB,)
        database = url.rsplit("/", 1)[1]
        server = _server_cpu(args.pg_url, database) if args.store == "postgres" else 0.0
        began = time.perf_counter()
        jobs, cpu = drain(app, names, args.batch, stages)
        wall = time.perf_counter() - began
        if args.store == "postgres":
            cpu += _server_cpu(args.pg_url, database) - server
        assert jobs == 3 * args.runs, jobs
        return cpu / jobs * 1e6, wall / jobs * 1e6
    finally:
        app.close()


def one_round(args: argparse.Namespace, folder: Path, k: int) -> tuple[float, float, float, float]:
    """(CPU us per stage job, per plain job, wall us per stage job, per plain job)."""
    with _database(args, folder, f"runs{k}") as url:
        stage_us, stage_wall = one_side(args, url, True)
    with _database(args, folder, f"plain{k}") as url:
        plain_us, plain_wall = one_side(args, url, False)
    return stage_us, plain_us, stage_wall, plain_wall


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="3-stage runs per round")
    parser.add_argument("--batch", type=int, default=50, help="jobs per worker round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    print(f"# pipeline_cpu.py {' '.join(argv)}  load={os.getloadavg()}")
    stage_us, plain_us, share = [], [], []
    with tempfile.TemporaryDirectory(prefix="pipecpu-") as tmp:
        for k in range(args.rounds):
            s, p, s_wall, p_wall = one_round(args, Path(tmp), k)
            stage_us.append(s)
            plain_us.append(p)
            share.append(p / s)
            print(f"round {k + 1}: stage {s:.0f} us/job, plain {p:.0f} us/job, share {p / s:.3f}"
                  f" (wall {s_wall:.0f} and {p_wall:.0f} us/job)", flush=True)
    print(f"median: stage {statistics.median(stage_us):.0f} us/job, plain "
          f"{statistics.median(plain_us):.0f} us/job, share {statistics.median(share):.3f} "
          f"(min {min(share):.3f}, max {max(share):.3f})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
