"""A transaction whose BEGIN travels with its first statement (psycopg's pipeline mode).

A plan of several statements normally runs as ``BEGIN``, its statements, ``COMMIT``: one round
trip each. The worker's limited round (decision 111) is such a plan on every claim, so its
BEGIN is worth saving: here the connection enters pipeline mode, queues ``BEGIN`` and the
plan's first statement, and sends them with one Sync; each later statement is one round trip
as before (the plan needs its rows before it can say what comes next), and ``COMMIT`` rides
on the Sync that leaves pipeline mode.

``COMMIT`` leaves in one write with a Sync of its own, just before the Sync that leaves
pipeline mode, with no wait between the two (decision 123). psycopg writes each statement as
it is queued, so a ``COMMIT`` run as a statement reached the server, which committed, before
the Sync that asks for its answer was even sent: a connection broken in between left a claim
committed and never answered (the window decision 120 closed for the one-statement claim).
:func:`_queue_commit` hands the pipeline one command that puts both in libpq's buffer, which
psycopg then flushes at once. It uses the pipeline's queues (``command_queue`` and
``result_queue``, the ones psycopg's own ``sync()`` fills), not only documented API; the
conformance suite (tests/store/test_store_pipelined.py) checks the transaction still commits
and rolls back as one. A connection can still break between the commit and its answer; the
worker settles such a claim with ``release_unheld``.

``conn.transaction()`` is not used: in pipeline mode it waits for BEGIN's answer on entry,
which is the round trip this module exists to save. The connection is the pool's autocommit
one, so the explicit ``BEGIN`` opens the transaction and nothing else does. On any error
the transaction is rolled back before the connection goes back to the pool.

PgBouncer in transaction mode keeps the server connection for the whole transaction (the
Sync after BEGIN leaves it "in transaction"), so this works behind it too; the conformance
suite runs the limited pass over that backend.
"""

from __future__ import annotations

import contextlib
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.rows import tuple_row

from conveyor.store.plan import Plan, Result, Statement
from conveyor.store.postgres.cursor_rows import has_rows
from conveyor.store.postgres.planner_settings import (
    prepare_now,
    restore_sql,
    set_sql,
    settings_for,
)

T = TypeVar("T")


def _refuse_copy(statement: Statement) -> None:
    # COPY cannot run in pipeline mode; no plan run here has one (the limited round's
    # statements are plain queries), so meeting one is a programming error.
    if statement.copy is not None:
        raise RuntimeError("a COPY statement cannot run in a pipelined transaction")


def _queue_commit(
    pipeline: psycopg.Pipeline | psycopg.AsyncPipeline, pgconn: pq.abc.PGconn
) -> None:
    """Queue ``COMMIT`` and a Sync as one pipeline command, so that they are written together;
    the pipeline's exit flushes them (and its own Sync) and checks both answers."""

    def send() -> None:
        pgconn.send_query_params(b"COMMIT", None)
        pgconn.pipeline_sync()

    pipeline.command_queue.append(send)
    pipeline.result_queue.extend((None, None))  # answers checked for errors, as for a Sync


def drive_pipelined(conn: psycopg.Connection[Any], plan: Plan[T]) -> T:
    """Run ``plan`` in a transaction of its own on the autocommit ``conn``, BEGIN sent with
    its first statement and COMMIT in the write of the last Sync."""
    try:
        with conn.pipeline() as pipeline, conn.cursor(row_factory=tuple_row) as cur, \
                conn.cursor() as tx:
            cur.execute("BEGIN")
            try:
                statement = next(plan)
                while True:
                    _refuse_copy(statement)
                    settings = settings_for(conn, statement)  # decisions 132, 133
                    if settings:
                        tx.execute(set_sql(settings))
                    if statement.many is not None:
                        cur.executemany(statement.sql, statement.many)
                    else:
                        cur.execute(
                            statement.sql,
                            statement.params or None,
                            prepare=prepare_now(statement, settings),
                        )
                    if settings:
                        tx.execute(restore_sql(settings))
                    pipeline.sync()
                    rows = cur.fetchall() if has_rows(cur) else []
                    statement = plan.send(Result(rows, cur.rowcount))
            except StopIteration as stop:
                answer: T = stop.value
            _queue_commit(pipeline, conn.pgconn)
        return answer
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: psycopg.Connection[Any]) -> None:
    if conn.closed or conn.info.transaction_status == pq.TransactionStatus.IDLE:
        return
    with contextlib.suppress(psycopg.Error):  # a broken connection: the pool discards it
        conn.rollback()


async def drive_pipelined_async(conn: psycopg.AsyncConnection[Any], plan: Plan[T]) -> T:
    """The async twin of :func:`drive_pipelined`."""
    try:
        async with conn.pipeline() as pipeline, conn.cursor(row_factory=tuple_row) as cur, \
                conn.cursor() as tx:
            await cur.execute("BEGIN")
            try:
                statement = next(plan)
                while True:
                    _refuse_copy(statement)
                    settings = settings_for(conn, statement)  # decisions 132, 133
                    if settings:
                        await tx.execute(set_sql(settings))
                    if statement.many is not None:
                        await cur.executemany(statement.sql, statement.many)
                    else:
                        await cur.execute(
                            statement.sql,
                            statement.params or None,
                            prepare=prepare_now(statement, settings),
                        )
                    if settings:
                        await tx.execute(restore_sql(settings))
                    await pipeline.sync()
                    rows = await cur.fetchall() if has_rows(cur) else []
                    statement = plan.send(Result(rows, cur.rowcount))
            except StopIteration as stop:
                answer: T = stop.value
            _queue_commit(pipeline, conn.pgconn)
        return answer
    except BaseException:
        await _rollback_async(conn)
        raise


async def _rollback_async(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.closed or conn.info.transaction_status == pq.TransactionStatus.IDLE:
        return
    with contextlib.suppress(psycopg.Error):
        await conn.rollback()
