"""A scheduler round with many one-second schedules on PostgreSQL (issue 14, item 6): this
checkout against a base revision, interleaved.

Run from the repository root::

    .venv/bin/python benchmarks/scheduler_round.py [--schedules 100] [--rounds 30] \\
        [--runs 3] [--base main]

Per run and per side (``new`` = this checkout, ``old`` = ``--base`` exported with ``git
archive``, run in a subprocess with that tree first on ``PYTHONPATH``): a fresh database on
``ROUND_PG_URL`` (default the local server as ``postgres``), an app with N schedules
``every="1s"`` of one no-op job, a :class:`~conveyor.schedules.scheduler.Scheduler` on a clock
moved by hand, one untimed round, then ``--rounds`` rounds each one second later, each timed
(every schedule has exactly one slot due in each). ``--overlap allow`` (default): each round
enqueues one job per schedule; ``--overlap skip`` (the schedules' default policy): no worker
runs them, so each round reads which schedules are busy and records skipped slots. Prints per
side the median over runs of each run's median round, and of its 90th percentile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(url: str, schedules: int, rounds: int, overlap: str) -> dict[str, Any]:
    """Time ``rounds`` scheduler rounds with the Conveyor on ``sys.path``."""
    from conveyor import Conveyor
    from conveyor.schedules.scheduler import Scheduler

    app = Conveyor(url)

    @app.job(name="tick")
    def tick(ctx: Any) -> None:
        """A scheduled no-op."""

    for i in range(schedules):
        app.schedule(f"every-{i:03d}", "tick", every="1s", overlap=overlap)
    store = app.store
    clock = [float(int(store.now()))]
    scheduler = Scheduler(app, store=store, now=lambda: clock[0])
    scheduler.sync()
    clock[0] += 1.0
    scheduler.run_round()  # untimed: catches the schedules up to now
    times = []
    for _ in range(rounds):
        clock[0] += 1.0
        start = time.perf_counter()
        report = scheduler.run_round()
        times.append((time.perf_counter() - start) * 1000.0)
        fired = sum(len(v) for v in report.enqueued.values()) + sum(report.skipped.values())
        if fired != schedules:
            raise SystemExit(f"a round fired {fired} slots, expected {schedules}")
    app.close()
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": times[int(len(times) * 0.9)],
        "overlap": overlap,
    }


def side_run(side: Path | None, admin: str, args: argparse.Namespace, k: int) -> dict[str, Any]:
    """One measurement in a subprocess, on a fresh database dropped after."""
    import psycopg

    name = f"conveyor_round_{os.getpid()}_{k}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(side) if side is not None else str(ROOT)
        out = subprocess.run(
            [
                sys.executable, str(Path(__file__).resolve()), "--child",
                admin.rsplit("/", 1)[0] + f"/{name}",
                "--schedules", str(args.schedules), "--rounds", str(args.rounds),
                "--overlap", args.overlap,
            ],
            env=env, cwd=HERE, check=True, capture_output=True, text=True,
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Parse the arguments; in the parent, run the sides interleaved and print medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", metavar="URL")
    parser.add_argument("--schedules", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--overlap", default="allow", choices=["allow", "skip"],
                        help="allow: every round enqueues a job per schedule; skip (the "
                        "default policy): no worker runs them, so later rounds skip")
    parser.add_argument("--base", default="main", help="revision for the old side ('' for none)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.schedules, args.rounds, args.overlap)))
        return
    admin = os.environ.get("ROUND_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sides: list[tuple[str, Path | None]] = [("new", None)]
        if args.base:
            archive = subprocess.run(
                ["git", "archive", args.base], cwd=ROOT, check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            sides.append(("old", Path(tmp)))
        k = 0
        for run in range(args.runs):
            for name, side in sides if run % 2 == 0 else sides[::-1]:
                k += 1
                got = side_run(side, admin, args, k)
                print(f"[round] run {run + 1} {name}: {got}", file=sys.stderr, flush=True)
                results.setdefault(name, []).append(got)
    print(f"# {args.schedules} one-second schedules (overlap={args.overlap}), {args.rounds} "
          "timed rounds per run, "
          f"medians of {args.runs} interleaved runs; old = {args.base or '-'}")
    for name, got in results.items():
        print(json.dumps({
            "side": name,
            "round_median_ms": round(statistics.median(g["median_ms"] for g in got), 2),
            "round_p90_ms": round(statistics.median(g["p90_ms"] for g in got), 2),
            "runs": got,
        }))


if __name__ == "__main__":
    main()
