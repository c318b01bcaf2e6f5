"""Running a plan (:mod:`conveyor.store.plan`) on a SQLite connection."""

from __future__ import annotations

import sqlite3
from typing import TypeVar

from conveyor.store.plan import Plan, Result

T = TypeVar("T")


def drive(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """Run ``plan``'s statements on ``conn``, inside the transaction open on it."""
    try:
        statement = next(plan)
        while True:
            if statement.copy is not None:
                raise RuntimeError("COPY is PostgreSQL's; a SQLite plan yielded one")
            if statement.many is not None:
                cur = conn.executemany(statement.sql, statement.many)
                statement = plan.send(Result([], cur.rowcount))
                continue
            cur = conn.execute(statement.sql, statement.params)
            statement = plan.send(Result(cur.fetchall(), cur.rowcount))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
