"""Where a stage job's store CPU goes on SQLite, statement by statement, against a plain job's.

``pipeline_cpu.py`` gives the total; this drains the same worker-like rounds (``--runs``
3-stage runs, or 3N plain jobs) through a driver that times each statement it runs (process
CPU, named after its ``queries/*.sql`` file) and the Python of the plans between them, and
prints both per job. The figures are for comparing trees and statements, not absolute: the
timing itself costs a little per statement.

    .venv/bin/python benchmarks/pipeline_statements.py --runs 2000
"""

from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

import pipebench
import pipeline_cpu

import conveyor.store.sqlite.store  # noqa: F401  (loads every SQLite module install() patches)
from conveyor.store.plan import Plan, Result
from conveyor.store.sqlite import connection

T = TypeVar("T")

NAMES: dict[str, str] = {}
SPENT: collections.Counter[str] = collections.Counter()
COUNT: collections.Counter[str] = collections.Counter()
PYTHON = [0.0]


def _named_query(name: str) -> str:
    sql = ORIGINAL_QUERY(name)
    NAMES[sql] = name
    return sql


ORIGINAL_QUERY = connection.query


def timed_drive(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """The SQLite driver, timing each statement and the plan's Python between them."""
    clock = time.process_time
    try:
        began = clock()
        statement = next(plan)
        PYTHON[0] += clock() - began
        while True:
            name = NAMES.get(statement.sql, statement.sql.split("\n", 1)[0][:40])
            began = clock()
            if statement.many is not None:
                cur = conn.executemany(statement.sql, statement.many)
                result = Result([], cur.rowcount)
            else:
                cur = conn.execute(statement.sql, statement.params)
                result = Result(cur.fetchall(), cur.rowcount)
            ran = clock()
            SPENT[name] += ran - began
            COUNT[name] += 1
            statement = plan.send(result)
            PYTHON[0] += clock() - ran
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def install() -> None:
    """Name every query as it is loaded and time every plan the SQLite store drives."""
    connection.query = _named_query  # type: ignore[assignment]
    for name, module in list(sys.modules.items()):
        if not name.startswith("conveyor.store.sqlite"):
            continue
        if getattr(module, "query", None) is ORIGINAL_QUERY:
            module.query = _named_query  # type: ignore[attr-defined]
        if hasattr(module, "drive"):
            module.drive = timed_drive  # type: ignore[attr-defined]


def measure(folder: Path, runs: int, batch: int, stages: bool) -> None:
    app: Any = pipebench.build(f"sqlite:///{folder / ('runs.db' if stages else 'plain.db')}")
    try:
        app.store.migrate()
        if stages:
            for i in range(runs):
                app.pipelines["chain"].start(i=i)
            names: tuple[str, ...] = ("chain.s1", "chain.s2", "chain.s3")
        else:
            plain = app.get(pipebench.PLAIN_JOB)
            for first in range(0, 3 * runs, 1000):
                plain.enqueue_many([{"i": i} for i in range(first, min(3 * runs, first + 1000))])
            names = (pipebench.PLAIN_JOB,)
        SPENT.clear()
        COUNT.clear()
        PYTHON[0] = 0.0
        jobs, cpu = pipeline_cpu.drain(app, names, batch, stages)
    finally:
        app.close()
    kind = "stage" if stages else "plain"
    print(f"{kind} jobs: {cpu / jobs * 1e6:.1f} us of CPU a job; the plans' Python "
          f"{PYTHON[0] / jobs * 1e6:.1f}; statements:")
    for name, spent in SPENT.most_common():
        print(f"  {name:<28} {spent / jobs * 1e6:7.1f} us a job  ({COUNT[name]} runs)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="3-stage runs")
    parser.add_argument("--batch", type=int, default=50, help="jobs per worker round")
    args = parser.parse_args(argv)
    print(f"# pipeline_statements.py {' '.join(argv)}  load={os.getloadavg()}")
    install()
    with tempfile.TemporaryDirectory(prefix="pipestmt-") as tmp:
        measure(Path(tmp), args.runs, args.batch, True)
        measure(Path(tmp), args.runs, args.batch, False)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
