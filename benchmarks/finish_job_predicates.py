"""CPU of SQLite's ``finish_job`` UPDATE with the jobs table's partial indexes written with
``IN`` lists (``state IN (...)``, as migrated before 0022) against the same indexes written with
``OR`` chains (as migration 0022 writes them).

Issue 13 (see benchmarks/README.md, "Stage jobs' finish_job and the C heap", and decision 110):
each ``IN`` list in a partial index predicate makes SQLite open an ephemeral table (with its
own page cache) for every row an UPDATE checks against it, 13 per ``finish_job`` row; ``OR``
chains need none. Either form is rebuilt from whatever the tree migrates to, so the script
measures the same pair on a tree before 0022 and after it. This only measures the UPDATE.

    .venv/bin/python benchmarks/finish_job_predicates.py [--jobs 6000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pipebench

from conveyor.store.protocol import ClaimParams

FINISH = (Path(__file__).resolve().parent.parent / "conveyor" / "store" / "sqlite" / "queries"
          / "finish_job.sql").read_text()


def running_jobs(jobs: int, rewrite: bool) -> tuple[sqlite3.Connection, list[tuple[int, int]]]:
    """A fresh database with ``jobs`` claimed (running) plain jobs, its indexes rewritten
    with OR chains if ``rewrite``; a connection and the (id, token) pairs."""
    folder = tempfile.mkdtemp(prefix="finishpred-")
    app = pipebench.build(f"sqlite:///{folder}/x.db")
    app.store.migrate()
    plain = app.get(pipebench.PLAIN_JOB)
    for first in range(0, jobs, 1000):
        plain.enqueue_many([{"i": i} for i in range(first, min(jobs, first + 1000))])
    claimed: list[tuple[int, int]] = []
    params = ClaimParams("w", (pipebench.QUEUE,), (pipebench.PLAIN_JOB,), 500, 600.0)
    while got := app.store.claim_jobs(params):
        claimed += [(j.id, j.token) for j in got]
    app.close()
    conn = sqlite3.connect(f"{folder}/x.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    found = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                         "tbl_name = 'conveyor_jobs' AND sql LIKE '% WHERE %'").fetchall()
    for name, sql in found:
        written = as_or_chains(sql) if rewrite else as_in_lists(sql)
        if written != sql:
            conn.execute(f"DROP INDEX {name}")
            conn.execute(written)
    return conn, claimed


def as_or_chains(sql: str) -> str:
    """``state IN ('a', 'b')`` written ``(state = 'a' OR state = 'b')``."""
    return re.sub(r"state IN \(([^)]*)\)", lambda m: "(" + " OR ".join(
        f"state = {v.strip()}" for v in m.group(1).split(",")) + ")", sql)


def as_in_lists(sql: str) -> str:
    """``(state = 'a' OR state = 'b')`` written ``state IN ('a', 'b')``."""
    chain = r"\((state = '\w+'(?:\s+OR\s+state = '\w+')+)\)"
    return re.sub(chain, lambda m: "state IN (" + ", ".join(
        re.findall(r"'\w+'", m.group(1))) + ")", sql)


def measure(jobs: int, rewrite: bool) -> tuple[float, int, int]:
    """(median CPU µs per finished job over batches of 50, page faults, ephemeral opens)."""
    conn, claimed = running_jobs(jobs, rewrite)
    program = conn.execute("EXPLAIN " + FINISH, {"state": "succeeded", "now": 1.0,
                           "result": "1", "error_type": None, "error_message": None,
                           "id": 1, "token": 1}).fetchall()
    ephemeral = sum(1 for op in program if op[1] == "OpenEphemeral")
    per_job, faults = [], 0
    for first in range(0, len(claimed), 50):
        batch = [{"state": "succeeded", "now": 1.0, "result": "1", "error_type": None,
                  "error_message": None, "id": i, "token": t}
                 for i, t in claimed[first:first + 50]]
        conn.execute("BEGIN IMMEDIATE")
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        began = time.thread_time()
        conn.executemany(FINISH, batch)
        per_job.append((time.thread_time() - began) / len(batch) * 1e6)
        faults += resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
        conn.execute("COMMIT")
    conn.close()
    return statistics.median(per_job), faults, ephemeral


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    for _ in range(args.rounds):
        for rewrite in (False, True):
            us, faults, ephemeral = measure(args.jobs, rewrite)
            label = "OR chains " if rewrite else "IN lists  "
            print(f"{label} finish_job {us:5.1f} µs CPU/job (median of batches of 50), "
                  f"{ephemeral} ephemeral tables in its program, {faults} page faults",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
