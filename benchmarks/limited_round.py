"""One worker round on PostgreSQL, limited against plain, at the store (issue 14, item 4).

``flow_control.py`` measures whole workers, whose jobs/s swing with the load of a shared box;
this measures the round itself, in one process and on one connection: complete the 50 jobs
claimed last and claim 50 more (``Store.complete_and_claim``), ``--rounds`` times, for jobs of
``flowapp``'s type under a ``Concurrency`` that never binds (``limited``) and for plain jobs
(``plain``), each on a fresh database. Printed per side and case: the median wall time and
CPU time of a round, and its round trips, counted from libpq's protocol trace as the Sync
and Query messages the client sends (every round trip ends with one; a pipelined BEGIN
shares its statement's Sync, and a Sync sent right after another ends no trip of its own).
Run from the repository root::

    .venv/bin/python benchmarks/limited_round.py [--rounds 200] [--runs 3] [--base main]
        [--new REV]

With ``--base REV`` each run measures both sides, alternating, with ``REV``'s Conveyor
exported by ``git archive`` (as ``flow_control.py`` does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import DEFAULT_PG_URL  # noqa: E402
from flow_control import export, load_average, log, python  # noqa: E402

ROUND = """
import json, os, statistics, sys, tempfile, time
import flowapp
from conveyor._lifecycle import Completion, CompletionKind
from conveyor.store import open_store
from conveyor.store.protocol import ClaimParams
from psycopg.pq import Trace

case, rounds = sys.argv[1], int(sys.argv[2])
url = os.environ["CONVEYOR_URL"]
app = flowapp.limited if case == "limited" else flowapp.plain
app.store.migrate()
name = flowapp.LIMITED if case == "limited" else flowapp.NOOP
job = flowapp.limited.get(name)
for first in range(0, 50 * (rounds + 2), 5000):
    job.enqueue_many([{"i": i} for i in range(first, min(first + 5000, 50 * (rounds + 2)))])
store = open_store(url, migrate=False, pool_size=1)
limited = (flowapp.LIMITED,) if case == "limited" else ()
params = ClaimParams("w1", (flowapp.QUEUE,), (flowapp.NOOP, flowapp.LIMITED), 50, 60.0, limited)
claimed = store.claim_jobs(params)
trace = tempfile.NamedTemporaryFile("w+", suffix=".trace")
with store.pool.connection() as conn:
    conn.pgconn.trace(trace.fileno())
    conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
walls, cpus = [], []
for _ in range(rounds):
    done = [Completion(j.id, j.token, CompletionKind.SUCCEEDED) for j in claimed]
    wall, cpu = time.perf_counter(), time.process_time()
    claimed = store.complete_and_claim(done, params).claimed
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
    assert len(claimed) == 50, len(claimed)
with store.pool.connection() as conn:
    conn.pgconn.untrace()
store.close()
trace.seek(0)
# A round trip ends with a Sync (extended protocol) or is one Query (simple protocol, which
# psycopg uses for BEGIN and COMMIT outside pipeline mode). A Sync right after another one
# (nothing else sent between) ends no trip of its own: the pipelined round's COMMIT travels
# with its Sync and psycopg's leaving pipeline mode sends one more, with no wait between.
sent = [f for f in (line.rstrip("\\n").split("\\t") for line in trace) if f[:1] == ["F"]]
kinds = [f[2] if len(f) > 2 else "" for f in sent]
syncs = sum(
    1 for i, kind in enumerate(kinds)
    if kind == "Query" or (kind == "Sync" and (i == 0 or kinds[i - 1] != "Sync"))
)
print(json.dumps({
    "round_ms": statistics.median(walls) * 1e3,
    "cpu_us_per_round": statistics.median(cpus) * 1e6,
    "trips_per_round": syncs / rounds,
}))
"""


def fresh_database(url: str) -> str:
    """A new database on ``url``'s server; its URL."""
    name = "conveyor_round_" + uuid.uuid4().hex[:10]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str, db_url: str) -> None:
    """Drop the database of ``db_url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_url.rsplit('/', 1)[1]} WITH (FORCE)")


def main() -> None:
    """Run the interleaved rounds; print the medians and the limited/plain ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--base", default="main")
    parser.add_argument("--new", default="", help="revision of the new side (default: checkout)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    print(f"# benchmarks/limited_round.py {' '.join(sys.argv[1:])}")
    print(f"# load average before: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, Path | None] = {
            "new": export(args.new, Path(tmp) / "new") if args.new else None
        }
        if args.base:
            sides["base"] = export(args.base, Path(tmp) / "base")
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run in range(args.runs):
            order = list(sides) if run % 2 == 0 else list(reversed(sides))
            for side in order:
                for case in ("plain", "limited") if run % 2 == 0 else ("limited", "plain"):
                    db = fresh_database(args.pg_url)
                    try:
                        out = json.loads(python(sides[side], db, ROUND, case, str(args.rounds)))
                    finally:
                        drop_database(args.pg_url, db)
                    results.setdefault((side, case), []).append(out)
                    log(f"run {run + 1} {side} {case}: {out}")
    print(f"# load average after: {load_average()}; medians of {args.runs} interleaved runs")
    for side in sides:
        row: dict[str, Any] = {"side": side}
        for case in ("plain", "limited"):
            runs = results[(side, case)]
            for key in ("round_ms", "cpu_us_per_round", "trips_per_round"):
                row[f"{case}_{key}"] = round(statistics.median(r[key] for r in runs), 3)
        row["limited_over_plain_time_runs"] = [
            round(lim["round_ms"] / pl["round_ms"], 3)
            for lim, pl in zip(results[(side, "limited")], results[(side, "plain")], strict=True)
        ]
        print(json.dumps(row))


if __name__ == "__main__":
    main()
