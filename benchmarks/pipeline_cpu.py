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

    .venv/bin/python benchmarks/pipeline_cpu.py --runs 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
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


def one_round(folder: Path, runs: int, batch: int, k: int) -> tuple[float, float]:
    """(CPU microseconds per stage job, per plain job) in fresh SQLite files."""
    app = pipebench.build(f"sqlite:///{folder / f'runs{k}.db'}")
    try:
        app.store.migrate()
        chain = app.pipelines["chain"]
        for i in range(runs):
            chain.start(i=i)
        stages = ("chain.s1", "chain.s2", "chain.s3")
        jobs, cpu = drain(app, stages, batch, True)
        assert jobs == 3 * runs, jobs
        stage_us = cpu / jobs * 1e6
    finally:
        app.close()
    app = pipebench.build(f"sqlite:///{folder / f'plain{k}.db'}")
    try:
        app.store.migrate()
        plain = app.get(pipebench.PLAIN_JOB)
        for first in range(0, 3 * runs, 1000):
            plain.enqueue_many([{"i": i} for i in range(first, min(3 * runs, first + 1000))])
        jobs, cpu = drain(app, (pipebench.PLAIN_JOB,), batch, False)
        assert jobs == 3 * runs, jobs
        plain_us = cpu / jobs * 1e6
    finally:
        app.close()
    return stage_us, plain_us


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="3-stage runs per round")
    parser.add_argument("--batch", type=int, default=50, help="jobs per worker round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"# pipeline_cpu.py {' '.join(argv)}  load={os.getloadavg()}")
    stage_us, plain_us, share = [], [], []
    with tempfile.TemporaryDirectory(prefix="pipecpu-") as tmp:
        for k in range(args.rounds):
            s, p = one_round(Path(tmp), args.runs, args.batch, k)
            stage_us.append(s)
            plain_us.append(p)
            share.append(p / s)
            print(f"round {k + 1}: stage {s:.0f} us/job, plain {p:.0f} us/job, share {p / s:.3f}",
                  flush=True)
    print(f"median: stage {statistics.median(stage_us):.0f} us/job, plain "
          f"{statistics.median(plain_us):.0f} us/job, share {statistics.median(share):.3f} "
          f"(min {min(share):.3f}, max {max(share):.3f})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
