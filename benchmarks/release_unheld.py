"""What settling a claim of unknown outcome costs (decision 123): ``Store.release_unheld``.

A worker calls it only after a claim failed with an error whose outcome is unknown, naming
every (job id, token) it holds. Timed here, per store and each on a fresh database: 100 jobs
running and held, and either none lost (the claim had not committed: the usual case) or 50
more claimed by a "lost" claim, which are released. Printed: the median wall and client CPU
time of a call over ``--reps``, and the load average. Run from the repository root::

    .venv/bin/python benchmarks/release_unheld.py [--reps 30] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import DEFAULT_PG_URL  # noqa: E402

from conveyor.store import Store, open_store  # noqa: E402
from conveyor.store.protocol import (  # noqa: E402
    ClaimParams,
    Completion,
    CompletionKind,
    NewJob,
)

HELD = 100
LOST = 50


def _fresh(kind: str, pg_url: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp()}/unheld.db"
    name = f"conveyor_unheld_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rstrip("/") + "/" + name


def _drop(url: str, pg_url: str) -> None:
    if url.startswith("postgresql"):
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _one(store: Store, lost: int) -> tuple[float, float]:
    """Claim HELD jobs (held) and ``lost`` more (lost); time one release_unheld."""
    store.insert_jobs([NewJob("q", "j", "{}", max_attempts=3)] * (HELD + lost))
    held = store.claim_jobs(ClaimParams("w", ("q",), ("j",), HELD, 60.0))
    if lost:
        store.claim_jobs(ClaimParams("w", ("q",), ("j",), lost, 60.0))
    wall, cpu = time.perf_counter(), time.process_time()
    released = store.release_unheld("w", [(j.id, j.token) for j in held])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(released) == lost, released
    store.complete_jobs([Completion(j.id, j.token, CompletionKind.SUCCEEDED) for j in held])
    store.claim_jobs(ClaimParams("other", ("q",), ("j",), 10 * HELD, 60.0))  # out of the way
    return wall, cpu


def main() -> None:
    """Time the calls; print one JSON line per store and case."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    for kind in ("sqlite", "postgres"):
        for lost in (0, LOST):
            url = _fresh(kind, args.pg_url)
            store = open_store(url)
            try:
                timed = [_one(store, lost) for _ in range(args.reps)]
            finally:
                store.close()
                _drop(url, args.pg_url)
            print(json.dumps({
                "store": kind,
                "held": HELD,
                "lost": lost,
                "wall_ms": round(statistics.median(w for w, _ in timed) * 1e3, 3),
                "cpu_ms": round(statistics.median(c for _, c in timed) * 1e3, 3),
                "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            }))


if __name__ == "__main__":
    main()
