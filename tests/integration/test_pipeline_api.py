"""The run API in process (drained by ``conveyor.testing.drain``), on SQLite and PostgreSQL:
starting inside the caller's transaction, bad input, the async twins, and ``ctx.step`` in a
plain job."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conveyor import ArgumentError, ConfigurationError, Conveyor, Permanent, Retry
from conveyor.errors import RunCancelledError, RunFailedError, RunNotFoundError
from conveyor.models import RunState, StageState
from conveyor.store.contract.run_records import RunFilter
from conveyor.testing import drain, drain_async


def build(url: str) -> Conveyor:
    app = Conveyor(url)
    double = app.pipeline("double")

    @double.stage
    def first(ctx: Any, n: int) -> int:
        return n * 2

    @double.stage(after=first)
    async def second(ctx: Any, n: int) -> int:
        return n * 2

    return app


@pytest.fixture
def app(backend_url: str) -> Iterator[Conveyor]:
    app = build(backend_url)
    app.store.migrate()
    yield app
    app.close()


def runs(app: Conveyor) -> int:
    return len(app.store.list_runs(RunFilter()))


def test_start_in_the_callers_transaction_exists_only_if_it_commits(app: Conveyor) -> None:
    double = app.pipelines["double"]
    if app.url.startswith("sqlite:///"):
        conn: Any = sqlite3.connect(app.url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        double.start(n=1, connection=conn)
        conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        kept = double.start(n=5, connection=conn)
        conn.execute("COMMIT")
        conn.close()
    else:
        with psycopg.connect(app.url) as conn:
            double.start(n=1, connection=conn)
            conn.rollback()
            kept = double.start(n=5, connection=conn)
            assert runs(app) == 0  # not visible before the caller commits
            conn.commit()
    assert runs(app) == 1
    drain(app)
    assert kept.result(timeout=5) == 20


def test_bad_input_writes_nothing_and_says_what_is_wrong(app: Conveyor) -> None:
    double = app.pipelines["double"]
    with pytest.raises(ArgumentError, match="'n'"):
        double.start(n="many")
    with pytest.raises(ArgumentError):
        double.start(m=1)
    assert runs(app) == 0
    with pytest.raises(RunNotFoundError, match="run 12345 does not exist"):
        app.run(12345)


def test_the_async_twins(app: Conveyor) -> None:
    double = app.pipelines["double"]

    async def main() -> None:
        run = await double.start_async(n=3)
        await drain_async(app)
        assert await run.result_async(timeout=5) == 12
        status = await run.status_async()
        assert status.state is RunState.SUCCEEDED and status.stage("second").attempts == 1
        plan = await run.resume_async(from_="second", dry_run=True)
        assert (plan.rerun, plan.reuse) == (("second",), ("first",))
        await run.resume_async(from_="second", input=100)
        await drain_async(app)
        assert await run.result_async(timeout=5) == 200
        other = await double.start_async(n=1)
        assert await other.cancel_async(by="test")
        with pytest.raises(RunCancelledError):
            await other.result_async(timeout=5)
        assert (await other.status_async()).stage("first").state is StageState.CANCELLED
        await app.aclose()

    asyncio.run(main())


def test_steps_in_a_plain_job_survive_its_retries(app: Conveyor) -> None:
    calls: list[str] = []

    @app.job(name="refund", retries=3)
    def refund(ctx: Any, order_id: int) -> Any:
        charge = ctx.step("find", lambda: calls.append("find") or {"id": order_id})
        if ctx.attempt < 3:
            raise Retry(after=0, reason="the provider timed out")
        return charge

    @app.job(name="refund_async", retries=3)
    async def refund_async(ctx: Any, order_id: int) -> Any:
        async def find() -> dict[str, int]:
            calls.append("afind")
            return {"id": order_id}

        charge = await ctx.astep("find", find)
        if ctx.attempt < 3:
            raise Retry(after=0, reason="the provider timed out")
        return charge

    handles = [refund.enqueue(order_id=1), refund_async.enqueue(order_id=2)]
    drain(app)
    assert [h.result(timeout=5) for h in handles] == [{"id": 1}, {"id": 2}]
    assert sorted(calls) == ["afind", "find"]


def test_a_workflow_built_at_run_time_runs_in_order_fails_and_resumes(app: Conveyor) -> None:
    order: list[str] = []
    broken = {"c"}

    @app.job(name="wf.step", retries=0)
    def step(ctx: Any, label: str) -> str:
        if label in broken:
            raise Permanent(f"{label} is broken")
        order.append(label)
        return label.upper()

    @app.job(name="wf.join")
    async def join(ctx: Any, label: str, times: int = 1) -> str:
        order.append(label)
        return label * times

    wf = app.workflow("nightly")
    a = wf.add(step, label="a")
    b = wf.add(step, after=a, label="b")
    c = wf.add(step, after=[a], label="c", priority=5)
    wf.add(join, after=[b, c], label="d", times=2)
    assert list(wf.nodes) == ["wf.step", "wf.step#2", "wf.step#3", "wf.join"]
    with pytest.raises(ArgumentError):
        wf.add(join, label=3.5j)
    run = wf.start()
    with pytest.raises(ConfigurationError, match="started"):
        wf.add(step, label="e")
    drain(app)
    with pytest.raises(RunFailedError, match="c is broken"):
        run.result(timeout=5)
    assert order == ["a", "b"]
    assert run.status().stage("wf.join").state is StageState.CANCELLED

    broken.clear()
    plan = run.resume()
    assert (plan.rerun, plan.reuse) == (("wf.step#3", "wf.join"), ("wf.step", "wf.step#2"))
    drain(app)
    assert run.result(timeout=5) == "dd"
    assert order == ["a", "b", "c", "d"]  # a and b did not run again
    [listed] = app.store.list_runs(RunFilter(pipeline="nightly"))
    assert listed.state is RunState.SUCCEEDED and listed.resumes == 1
