"""A hot statement planned once, not at every run: a generic plan asked for by the statement
alone (decision 120).

psycopg prepares a statement on the server after a few runs, but PostgreSQL still plans a
prepared statement anew for its parameter values (a custom plan) until it judges a generic
plan no dearer, and for the worker's claim it never does: with 1,000,000 queued jobs the
claim round spent about 1.5 ms planning against 2 ms executing, and the look for limited jobs
before it 0.5 ms planning against 0.04 ms executing, at every round. Their best plans do not
depend on the values (index walks in claim order, a ``LIMIT`` of a few dozen), so a
statement marked :attr:`~conveyor.store.plan.Statement.generic` runs with
``plan_cache_mode = force_generic_plan`` (and :data:`GENERIC_SETTINGS`' others).

The setting is transaction-local (``set_config(..., true)``) and lives in the statement's own
transaction: the two travel in one pipeline with one Sync, so it is still one round trip, and
nothing outlives the statement on the pooled connection (a session setting would reach every
other statement on it, the dashboard's filters among them, whose plans do depend on their
values). Statements that share a Sync share one implicit transaction, committed when the
server reads the Sync, which comes in the same write as the last statement. An explicit
``BEGIN`` ... ``COMMIT`` was tried first and refused: psycopg sends each queued statement as
it is queued, so the server committed the ``COMMIT`` before the Sync arrived, and a server
shutdown or a broken connection in between left a claim committed whose jobs the worker
never heard of (a PostgreSQL restart test caught it: two attempts charged after the lease
ran out). ``SET LOCAL`` without ``BEGIN`` works the same but writes a WARNING to the
server's log at every round; ``set_config`` does not. The statement is prepared from its
first run, since a generic plan is worth having only once it is kept.

Only where the statement would be its own transaction (an autocommit connection outside any
transaction): inside a caller's transaction a ``SET LOCAL`` would outlive it there. Behind a
transaction pooler statements are not prepared (:mod:`.pooling`), so there is no plan to keep,
and the statement runs as before.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import pq
from psycopg.rows import tuple_row

from conveyor.store.plan import Result, Statement
from conveyor.store.postgres.cursor_rows import has_rows

GENERIC_SETTINGS = (
    ("plan_cache_mode", "force_generic_plan"),
    # The plan is made at the statement's first run on the connection and kept until the
    # table is analyzed: on a table that was small then (a worker started on an empty one), a
    # sequential scan was the cheapest read and stayed the read as the table grew. With
    # sequential scans priced out the plan is made of the index walks the statements are
    # written for, at any size (decision 128).
    ("enable_seqscan", "off"),
    # The same for sorts: each queue's first tenant is found by walking
    # conveyor_jobs_ready_tenant in order (decision 128). On the connection that had created
    # the tables (a process that migrates, enqueues and works), the generic plan read every
    # ready job through conveyor_jobs_ready and sorted them instead, a claim growing with the
    # backlog: 23 ms a round at 50,000 ready jobs where the other connections took 2
    # (decision 139). A sort the statement cannot do without still runs.
    ("enable_sort", "off"),
    # Pricing a scan out adds a huge constant to a plan that still needs one (of the few
    # rows of conveyor_queues): past jit_above_cost. Sessions start with jit off, but not
    # where a pooler refused the startup option.
    ("jit", "off"),
)
"""The planner settings a generic statement's transaction runs with."""

SET_GENERIC = "SELECT " + ", ".join(
    f"set_config('{name}', '{value}', true)" for name, value in GENERIC_SETTINGS
)
"""The settings for the rest of the statement's own (implicit) transaction, with no warning."""


def wants_generic(
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], statement: Statement
) -> bool:
    """Whether ``statement`` runs with a generic plan on ``conn`` (see the module)."""
    return (
        statement.generic
        and conn.autocommit
        and conn.prepare_threshold is not None
        and conn.info.transaction_status == pq.TransactionStatus.IDLE
    )


def run_generic(conn: psycopg.Connection[Any], statement: Statement) -> Result:
    """Run ``statement`` on the autocommit ``conn`` with a generic plan, in one round trip.

    On an error the implicit transaction has ended with its Sync, so the connection is idle
    again (a broken one the pool discards): there is nothing to roll back here.
    """
    return run_between(conn, SET_GENERIC, statement, None, prepare=True)


async def run_generic_async(conn: psycopg.AsyncConnection[Any], statement: Statement) -> Result:
    """The async twin of :func:`run_generic`."""
    return await run_between_async(conn, SET_GENERIC, statement, None, prepare=True)


def run_between(
    conn: psycopg.Connection[Any],
    before: str,
    statement: Statement,
    after: str | None,
    *,
    prepare: bool | None,
) -> Result:
    """``before`` (a settings statement), ``statement`` and ``after`` (None: nothing) in one
    pipeline: one Sync, one round trip; on an autocommit connection the three share the
    Sync's implicit transaction. ``statement``'s rows; ``prepare`` as psycopg's."""
    with conn.cursor() as tx, conn.cursor(row_factory=tuple_row) as cur:
        # Leaving the pipeline sends the one Sync and reads every answer.
        with conn.pipeline():
            tx.execute(before)
            cur.execute(statement.sql, statement.params or None, prepare=prepare)
            if after is not None:
                tx.execute(after)
        return Result(cur.fetchall() if has_rows(cur) else [], cur.rowcount)


async def run_between_async(
    conn: psycopg.AsyncConnection[Any],
    before: str,
    statement: Statement,
    after: str | None,
    *,
    prepare: bool | None,
) -> Result:
    """The async twin of :func:`run_between`."""
    async with conn.cursor() as tx, conn.cursor(row_factory=tuple_row) as cur:
        async with conn.pipeline():
            await tx.execute(before)
            await cur.execute(statement.sql, statement.params or None, prepare=prepare)
            if after is not None:
                await tx.execute(after)
        return Result(await cur.fetchall() if has_rows(cur) else [], cur.rowcount)
