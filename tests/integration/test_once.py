"""ctx.once() and ctx.idempotency_key in handlers, in process and in killed worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conveyor import Conveyor, Retry
from conveyor.models import AttemptOutcome, JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import drain

from .conftest import Workers, load_itapp


def run_sql(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement on Conveyor's own database, outside Conveyor."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        try:
            with conn:
                return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url, autocommit=True) as pg:
        cur = pg.execute(sql.replace("?", "%s"), args)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def write_charge(conn: Any, order_id: int) -> None:
    """The handler's own effect, written through its transaction."""
    mark = "?" if isinstance(conn, sqlite3.Connection) else "%s"
    conn.execute(f"INSERT INTO charges (order_id) VALUES ({mark})", (order_id,))


@pytest.fixture
def app(backend_url: str) -> Iterator[Conveyor]:
    app = Conveyor(backend_url)
    run_sql(app.url, "CREATE TABLE charges (order_id INTEGER NOT NULL)")
    yield app
    app.close()


def charges(app: Conveyor) -> list[int]:
    return [r[0] for r in run_sql(app.url, "SELECT order_id FROM charges ORDER BY order_id")]


# -- in process ------------------------------------------------------------------------------


def test_without_a_transaction_a_redelivered_attempt_skips_the_block(app: Conveyor) -> None:
    sent: list[tuple[str, int]] = []

    @app.job(name="notify", retries=2)
    def notify(ctx: Any, user_id: int) -> None:
        with ctx.once("welcome", user_id) as first:
            if first:
                sent.append(("sync", ctx.attempt))
        if ctx.attempt == 1:
            raise Retry(after=0, reason="the step after the effect failed")

    @app.job(name="notify_async", retries=2)
    async def notify_async(ctx: Any, user_id: int) -> None:
        async with ctx.once_async("welcome", user_id) as first:
            if first:
                sent.append(("async", ctx.attempt))
        if ctx.attempt == 1:
            raise Retry(after=0, reason="the step after the effect failed")

    handles = [notify.enqueue(user_id=1), notify_async.enqueue(user_id=2)]
    drain(app)
    assert sorted(sent) == [("async", 1), ("sync", 1)]
    for handle in handles:
        job = handle.refresh()
        assert job.state is JobState.SUCCEEDED and job.attempt == 2
    assert app.store.once_seen("welcome:1") and app.store.once_seen("welcome:2")


def test_a_block_that_raises_records_nothing_and_runs_again(app: Conveyor) -> None:
    runs: list[tuple[int, bool]] = []

    @app.job(name="flaky", retries=2)
    def flaky(ctx: Any, n: int) -> None:
        with ctx.once("flaky", n) as first:
            runs.append((ctx.attempt, first))
            if ctx.attempt == 1:
                raise ConnectionError("the provider timed out")

    handle = flaky.enqueue(n=5)
    drain(app)
    assert runs == [(1, True), (2, True)]
    assert handle.refresh().state is JobState.SUCCEEDED
    assert app.store.once_seen("flaky:5")


def test_in_a_transaction_the_record_commits_with_the_effect(app: Conveyor) -> None:
    seen: list[tuple[int, bool]] = []

    @app.job(name="bill", retries=2)
    def bill(ctx: Any, order_id: int) -> None:
        conn = ctx.transaction
        with ctx.once("charge", order_id) as first:
            seen.append((ctx.attempt, first))
            if first:
                write_charge(conn, order_id)
            if ctx.attempt == 1:
                raise ConnectionError("fails after the write: both are rolled back")

    @app.job(name="bill_async", retries=2)
    async def bill_async(ctx: Any, order_id: int) -> None:
        conn = await ctx.transaction_async()
        async with ctx.once_async("charge", order_id) as first:
            if first:
                mark = "?" if isinstance(conn, sqlite3.Connection) else "%s"
                sql = f"INSERT INTO charges (order_id) VALUES ({mark})"
                result = conn.execute(sql, (order_id,))
                if asyncio.iscoroutine(result):
                    await result

    bill.enqueue(order_id=1)
    bill_async.enqueue(order_id=2)
    bill_async.enqueue(order_id=2)  # a second job for the same order: skipped
    drain(app)
    assert seen == [(1, True), (2, True)]  # attempt 1's record was rolled back with its write
    assert charges(app) == [1, 2]
    assert app.store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,))) == 3


def test_a_key_committed_meanwhile_rolls_the_attempt_back_and_retries(app: Conveyor) -> None:
    seen: list[tuple[int, bool]] = []

    @app.job(name="contested", retries=2)
    def contested(ctx: Any, order_id: int) -> None:
        # once() before the transaction is opened: checked on its own, recorded through the
        # transaction that is open when the block ends.
        with ctx.once("charge", order_id) as first:
            seen.append((ctx.attempt, first))
            if first:
                if ctx.attempt == 1:
                    app.store.record_once(f"charge:{order_id}", 0)  # another job got there
                write_charge(ctx.transaction, order_id)

    handle = contested.enqueue(order_id=7)
    drain(app)
    assert seen == [(1, True), (2, False)]
    assert charges(app) == []  # attempt 1's write was rolled back; attempt 2 skipped it
    assert handle.refresh().state is JobState.SUCCEEDED
    [failed, succeeded] = app.store.list_attempts(handle.id)
    assert failed.outcome is AttemptOutcome.FAILED
    assert failed.error_type == "OnceConflictError"
    assert succeeded.outcome is AttemptOutcome.SUCCEEDED


def test_a_conflict_on_the_last_attempt_is_retried_not_sent_to_dead(app: Conveyor) -> None:
    @app.job(name="no_retries", retries=0)
    def no_retries(ctx: Any, order_id: int) -> None:
        with ctx.once("charge", order_id) as first:
            if first:
                app.store.record_once(f"charge:{order_id}", 0)  # another job got there
                write_charge(ctx.transaction, order_id)

    handle = no_retries.enqueue(order_id=8)
    drain(app)
    assert handle.refresh().state is JobState.SUCCEEDED
    assert charges(app) == []
    [conflict, done] = app.store.list_attempts(handle.id)
    assert (conflict.outcome, conflict.error_type) == (AttemptOutcome.FAILED, "OnceConflictError")
    assert done.outcome is AttemptOutcome.SUCCEEDED


def test_idempotency_key_is_stable_across_attempts_and_unique_per_job(app: Conveyor) -> None:
    keys: dict[int, list[str]] = {}

    @app.job(name="pay", retries=1)
    def pay(ctx: Any) -> None:
        keys.setdefault(ctx.job_id, []).append(ctx.idempotency_key)
        if ctx.attempt == 1:
            raise Retry(after=0)

    @app.job(name="pay_async", retries=1)
    async def pay_async(ctx: Any) -> None:
        keys.setdefault(ctx.job_id, []).append(ctx.idempotency_key)
        if ctx.attempt == 1:
            raise Retry(after=0)

    first, second = pay.enqueue(), pay_async.enqueue()
    drain(app)
    assert len(keys[first.id]) == 2 and len(set(keys[first.id])) == 1
    assert len(keys[second.id]) == 2 and len(set(keys[second.id])) == 1
    assert keys[first.id][0] != keys[second.id][0]
    assert keys[first.id][0].startswith(f"conveyor-pay-{first.id}-")


def test_bad_parts_and_the_wrong_twin_say_what_to_do(app: Conveyor) -> None:
    errors: list[str] = []

    @app.job(name="bad_sync", retries=0)
    def bad_sync(ctx: Any) -> None:
        try:
            with ctx.once("charge", 1.5):
                pass
        except Exception as exc:
            errors.append(str(exc))

        async def wrong_twin() -> None:
            async with ctx.once_async("x"):
                pass

        try:
            asyncio.run(wrong_twin())
        except Exception as exc:
            errors.append(str(exc))

    @app.job(name="bad_async", retries=0)
    async def bad_async(ctx: Any) -> None:
        try:
            with ctx.once("x"):
                pass
        except Exception as exc:
            errors.append(str(exc))

    bad_sync.enqueue()
    bad_async.enqueue()
    drain(app)
    assert len(errors) == 3
    assert any("part 2 is float 1.5; parts must be str or int" in e for e in errors)
    assert any("in a sync handler use `with ctx.once(...) as first:`" in e for e in errors)
    assert any("in an async handler use `async with ctx.once_async(" in e for e in errors)


# -- real worker processes, killed mid-run ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("name", "total"), [("once_effect", 2000), ("once_effect_async", 800)])
def test_kill_9_mid_run_leaves_exactly_one_effect_per_key(
    workers: Workers, name: str, total: int
) -> None:
    app = load_itapp("test", "onceapp")
    try:
        run_sql(app.url, "CREATE TABLE once_effects (n INTEGER NOT NULL, job_id INTEGER NOT NULL)")
        # Every tenth key gets a second job right behind the first, so the two often run at
        # the same time: one commits the key, the other must end up skipping it.
        args = []
        for n in range(total):
            args.append({"n": n})
            if n % 10 == 0:
                args.append({"n": n})
        app.get(name).enqueue_many(args)
        jobs = len(args)

        def succeeded() -> int:
            return app.store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,)))

        for share in (0.2, 0.5):  # two kills, at a fifth and at half of the jobs done
            doomed = workers.start("onceapp:app", processes=2, concurrency=8, lease=2)
            deadline = time.monotonic() + 60
            while succeeded() < jobs * share:
                assert time.monotonic() < deadline, "the workers made no progress"
                time.sleep(0.02)
            os.killpg(doomed.pid, signal.SIGKILL)  # supervisor and children: no clean-up
            doomed.wait(timeout=10)
            assert succeeded() < jobs, "the kill must land mid-run"

        workers.start("onceapp:app", processes=2, concurrency=8, lease=2)
        deadline = time.monotonic() + 90
        while succeeded() < jobs:
            assert time.monotonic() < deadline, f"only {succeeded()} of {jobs} jobs succeeded"
            time.sleep(0.1)

        counts = dict(run_sql(app.url, "SELECT n, COUNT(*) FROM once_effects GROUP BY n"))
        assert set(counts) == set(range(total))
        assert [n for n, c in counts.items() if c != 1] == []
        assert app.store.count_jobs(JobFilter()) == jobs
        # The kill interrupted attempts, which the restarted worker ran again.
        [(rescued,)] = run_sql(
            app.url, "SELECT COUNT(*) FROM conveyor_attempts WHERE error_type = 'WorkerLost'"
        )
        assert rescued > 0, "no attempt was running when the worker was killed"
    finally:
        app.close()
