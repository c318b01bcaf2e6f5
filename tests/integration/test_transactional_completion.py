"""ctx.transaction: the handler's writes and the job's success commit together, or neither."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conveyor import Conveyor
from conveyor.models import AttemptOutcome, JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import drain, eventually


@pytest.fixture
def app(backend_url: str) -> Iterator[Conveyor]:
    app = Conveyor(backend_url)
    run_sql(app, "CREATE TABLE charges (order_id INTEGER PRIMARY KEY)")
    yield app
    app.close()


def run_sql(app: Conveyor, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the app's own database (outside Conveyor)."""
    if app.url.startswith("sqlite:///"):
        conn = sqlite3.connect(app.url.removeprefix("sqlite:///"))
        try:
            with conn:
                return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    with psycopg.connect(app.url, autocommit=True) as pg:
        cur = pg.execute(sql.replace("?", "%s"), args)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def charge(conn: Any, order_id: int) -> None:
    """The handler's own effect, written through the connection it was given."""
    if isinstance(conn, sqlite3.Connection):
        conn.execute("INSERT INTO charges (order_id) VALUES (?)", (order_id,))
    else:
        conn.execute("INSERT INTO charges (order_id) VALUES (%s)", (order_id,))


async def charge_async(conn: Any, order_id: int) -> None:
    if isinstance(conn, sqlite3.Connection):
        conn.execute("INSERT INTO charges (order_id) VALUES (?)", (order_id,))
    else:
        await conn.execute("INSERT INTO charges (order_id) VALUES (%s)", (order_id,))


def charges(app: Conveyor) -> list[int]:
    return [row[0] for row in run_sql(app, "SELECT order_id FROM charges ORDER BY order_id")]


def test_sync_handler_writes_and_completion_commit_together(app: Conveyor) -> None:
    @app.job(name="bill")
    def bill(ctx: Any, order_id: int) -> str:
        charge(ctx.transaction, order_id)
        return "charged"

    handle = bill.enqueue(order_id=1)
    drain(app)
    assert handle.result(timeout=1) == "charged"
    assert charges(app) == [1]
    assert [a.outcome for a in app.store.list_attempts(handle.id)] == [AttemptOutcome.SUCCEEDED]


def test_a_handler_that_raises_after_writing_leaves_neither(app: Conveyor) -> None:
    @app.job(name="bill", retries=0)
    def bill(ctx: Any, order_id: int) -> None:
        charge(ctx.transaction, order_id)
        raise RuntimeError("the receipt service is down")

    handle = bill.enqueue(order_id=2)
    drain(app)
    assert handle.refresh().state is JobState.DEAD
    assert charges(app) == []


def test_async_handler_writes_and_completion_commit_together(app: Conveyor) -> None:
    @app.job(name="bill_async", retries=1)
    async def bill_async(ctx: Any, order_id: int) -> int:
        await charge_async(await ctx.transaction_async(), order_id)
        if ctx.attempt == 1:
            raise ConnectionError("flaky")
        return order_id

    handle = bill_async.enqueue(order_id=3)
    drain(app)
    assert handle.result(timeout=1) == 3
    assert charges(app) == [3]  # the first attempt's write was rolled back


def test_an_attempt_that_lost_its_job_rolls_its_writes_back(app: Conveyor) -> None:
    started, release = threading.Event(), threading.Event()

    @app.job(name="slow_bill")
    def slow_bill(ctx: Any, order_id: int) -> None:
        if app.url.startswith("sqlite"):
            # On SQLite the transaction holds the write lock; cancel first, then write.
            started.set()
            release.wait(10)
            charge(ctx.transaction, order_id)
            return
        charge(ctx.transaction, order_id)
        started.set()
        release.wait(10)

    handle = slow_bill.enqueue(order_id=4)
    worker = threading.Thread(target=drain, args=(app,))
    worker.start()
    assert started.wait(10)
    assert app.store.cancel_jobs(JobFilter(ids=(handle.id,))) == [handle.id]
    release.set()
    worker.join(20)
    assert handle.refresh().state is JobState.CANCELLED
    assert charges(app) == []


def test_ctx_transaction_names_the_right_twin(app: Conveyor) -> None:
    errors: list[str] = []

    @app.job(name="wrong_sync")
    def wrong_sync(ctx: Any) -> None:
        try:
            import asyncio

            asyncio.run(ctx.transaction_async())
        except Exception as exc:
            errors.append(str(exc))

    @app.job(name="wrong_async")
    async def wrong_async(ctx: Any) -> None:
        try:
            ctx.transaction  # noqa: B018 - the access itself is what is tested
        except Exception as exc:
            errors.append(str(exc))

    wrong_sync.enqueue()
    wrong_async.enqueue()
    drain(app)
    assert sorted(errors) == sorted(
        [
            "ctx.transaction is for sync handlers; in an async handler use "
            "`conn = await ctx.transaction_async()`",
            "ctx.transaction_async() is for async handlers; in a sync handler use "
            "`ctx.transaction`",
        ]
    )
    eventually(lambda: app.store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,))) == 2)


def test_a_handlers_own_transaction_block_is_a_savepoint(app: Conveyor) -> None:
    if app.url.startswith("sqlite"):
        pytest.skip("psycopg's conn.transaction() blocks; sqlite3 has no such block")

    @app.job(name="nested", retries=0)
    def nested(ctx: Any, order_id: int) -> None:
        with ctx.transaction.transaction():  # commits nothing on its own
            charge(ctx.transaction, order_id)
        raise RuntimeError("fail after the block")

    nested.enqueue(order_id=5)
    drain(app)
    assert charges(app) == []


def test_more_transactional_jobs_at_once_than_a_small_pool(app: Conveyor) -> None:
    @app.job(name="bill_many")
    async def bill_many(ctx: Any, order_id: int) -> None:
        conn = await ctx.transaction_async()
        await charge_async(conn, order_id)
        import asyncio

        await asyncio.sleep(0.2)  # hold every transaction open at the same time

    bill_many.enqueue_many([{"order_id": n} for n in range(10)])
    result = drain(app, concurrency=10)
    assert result.succeeded == 10
    assert charges(app) == list(range(10))
