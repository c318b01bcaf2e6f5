"""Retry policy, outcomes and the context, run by an in-process worker (``drain``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from conveyor import (
    Backoff,
    Cancel,
    Conveyor,
    JobCancelledError,
    JobFailedError,
    Permanent,
    ResultTimeoutError,
    Retry,
)
from conveyor.models import AttemptOutcome, JobState
from conveyor.testing import drain, drain_async

FAST = Backoff(base=0.01, cap=0.05)


@pytest.fixture
def app(backend_url: str) -> Iterator[Conveyor]:
    app = Conveyor(backend_url)
    yield app
    app.close()


def history(app: Conveyor, job_id: int) -> list[AttemptOutcome]:
    return [a.outcome for a in app.store.list_attempts(job_id)]


def test_sync_and_async_handlers_store_their_results(app: Conveyor) -> None:
    @app.job
    def add(ctx: Any, a: int, b: int) -> int:
        return a + b

    @app.job
    async def shout(ctx: Any, word: str) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"word": word.upper()}

    h1, h2 = add.enqueue(a=2, b=3), shout.enqueue(word="hi")
    assert drain(app).succeeded == 2
    assert h1.result(timeout=1) == 5
    assert h2.result(timeout=1) == {"word": "HI"}


def test_sync_handlers_run_off_the_event_loop(app: Conveyor) -> None:
    seen: list[bool] = []

    @app.job
    def where(ctx: Any) -> None:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)

    where.enqueue()
    drain(app)
    assert seen == [False]


def test_failures_retry_with_backoff_then_succeed(app: Conveyor) -> None:
    @app.job(retries=3, backoff=FAST)
    def flaky(ctx: Any) -> int:
        if ctx.attempt < 3:
            raise ConnectionError(f"try {ctx.attempt}")
        return ctx.attempt

    handle = flaky.enqueue()
    drain(app)
    assert handle.result(timeout=1) == 3
    attempts = app.store.list_attempts(handle.id)
    assert [a.outcome for a in attempts] == [
        AttemptOutcome.FAILED,
        AttemptOutcome.FAILED,
        AttemptOutcome.SUCCEEDED,
    ]
    assert attempts[0].error_type == "ConnectionError"
    assert attempts[0].error_message == "try 1"
    assert attempts[0].traceback is not None
    assert "raise ConnectionError" in attempts[0].traceback
    assert attempts[0].worker_id is not None
    assert attempts[0].started_at is not None and attempts[0].finished_at is not None
    assert attempts[0].finished_at >= attempts[0].started_at


def test_attempts_exhausted_ends_dead(app: Conveyor) -> None:
    @app.job(retries=2, backoff=FAST)
    def always(ctx: Any) -> None:
        raise ValueError("bad input")

    handle = always.enqueue()
    drain(app)
    job = handle.refresh()
    assert job.state is JobState.DEAD
    assert job.attempt == 3
    assert job.error_type == "ValueError"
    assert history(app, handle.id) == [
        AttemptOutcome.FAILED,
        AttemptOutcome.FAILED,
        AttemptOutcome.DEAD,
    ]
    with pytest.raises(JobFailedError, match="ValueError: bad input"):
        handle.result(timeout=1)


def test_retry_after_sets_the_delay(app: Conveyor) -> None:
    @app.job(retries=1)
    def later(ctx: Any) -> int:
        if ctx.attempt == 1:
            raise Retry(after=0.4, reason="rate limited")
        return ctx.attempt

    handle = later.enqueue()
    started = time.monotonic()
    drain(app)
    assert handle.result(timeout=1) == 2
    attempts = app.store.list_attempts(handle.id)
    assert attempts[0].error_message == "rate limited"
    assert attempts[1].started_at is not None and attempts[0].finished_at is not None
    assert attempts[1].started_at - attempts[0].finished_at >= 0.35
    assert time.monotonic() - started >= 0.35


def test_permanent_and_give_up_on_skip_retries(app: Conveyor) -> None:
    @app.job(retries=5)
    def refuse(ctx: Any) -> None:
        raise Permanent("card declined")

    @app.job(retries=5, give_up_on=KeyError)
    def missing(ctx: Any) -> None:
        raise KeyError("user")

    h1, h2 = refuse.enqueue(), missing.enqueue()
    drain(app)
    for handle, error_type in ((h1, "Permanent"), (h2, "KeyError")):
        job = handle.refresh()
        assert job.state is JobState.DEAD
        assert job.attempt == 1
        assert job.error_type == error_type


def test_retry_on_retries_only_listed_errors(app: Conveyor) -> None:
    @app.job(retries=3, retry_on=(TimeoutError,), backoff=FAST)
    def picky(ctx: Any, kind: str) -> None:
        if kind == "timeout" and ctx.attempt == 1:
            raise TimeoutError("slow vendor")
        if kind == "bug":
            raise TypeError("a bug")

    h1, h2 = picky.enqueue(kind="timeout"), picky.enqueue(kind="bug")
    drain(app)
    assert h1.refresh().state is JobState.SUCCEEDED
    assert h1.refresh().attempt == 2
    bug = h2.refresh()
    assert bug.state is JobState.DEAD
    assert bug.attempt == 1


def test_cancel_from_the_handler(app: Conveyor) -> None:
    @app.job
    def obsolete(ctx: Any) -> None:
        raise Cancel("the order was deleted")

    handle = obsolete.enqueue()
    drain(app)
    assert handle.refresh().state is JobState.CANCELLED
    with pytest.raises(JobCancelledError):
        handle.result(timeout=1)


def test_non_json_result_sends_the_job_dead_with_a_clear_error(app: Conveyor) -> None:
    @app.job(retries=3)
    def weird(ctx: Any) -> object:
        return object()

    handle = weird.enqueue()
    drain(app)
    job = handle.refresh()
    assert job.state is JobState.DEAD
    assert job.error_type == "ResultNotJSON"
    assert "cannot be stored as JSON" in (job.error_message or "")


def test_context_carries_job_facts_and_progress(app: Conveyor) -> None:
    seen: dict[str, Any] = {}

    @app.job(queue="reports", timeout=30)
    def report(ctx: Any) -> None:
        seen.update(
            job_id=ctx.job_id,
            name=ctx.name,
            queue=ctx.queue,
            attempt=ctx.attempt,
            last=ctx.is_last_attempt,
            left=ctx.time_left(),
        )
        ctx.logger.info("working")
        ctx.progress(0.5, "half way")
        # The progress reporter writes every 0.5 s, while the job still runs: wait for its
        # write (a loaded box delays the reporter's tick past any fixed sleep).
        deadline = time.monotonic() + 20
        while app.store.get_job(ctx.job_id).progress != 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)

    handle = report.enqueue()
    drain(app)
    assert seen["job_id"] == handle.id
    assert seen["queue"] == "reports"
    assert seen["attempt"] == 1
    assert seen["last"] is False
    assert 29 < seen["left"] <= 30
    job = handle.refresh()
    assert job.progress == 0.5
    assert job.progress_message == "half way"


class Order(BaseModel):
    id: int
    total: float


def test_typed_args_arrive_as_their_types(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job
    def bill(ctx: Any, order: Order, when: datetime) -> None:
        got.extend([order, when])

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    bill.enqueue(order=Order(id=1, total=9.5), when=moment)
    drain(app)
    assert got == [Order(id=1, total=9.5), moment]


def test_delayed_job_waits_for_its_time(app: Conveyor) -> None:
    @app.job
    def tick(ctx: Any) -> float:
        return time.time()

    enqueued = time.time()
    handle = tick.enqueue(delay=0.5)
    assert handle.state is JobState.SCHEDULED
    drain(app)
    assert handle.result(timeout=1) - enqueued >= 0.45


def test_priority_orders_claims(app: Conveyor) -> None:
    order: list[int] = []

    @app.job
    def note(ctx: Any, n: int) -> None:
        order.append(n)

    for n in range(5):
        note.enqueue(n=n, priority=n)
    drain(app, concurrency=1)
    assert order == [4, 3, 2, 1, 0]


def test_result_times_out_while_no_worker_runs(app: Conveyor) -> None:
    @app.job
    def idle(ctx: Any) -> None:
        return None

    handle = idle.enqueue()
    with pytest.raises(ResultTimeoutError, match="still queued"):
        handle.result(timeout=0.2)


def test_async_producer_and_result(app: Conveyor) -> None:
    @app.job
    async def double(ctx: Any, n: int) -> int:
        return n * 2

    async def produce_and_wait() -> None:
        handle = await double.enqueue_async(n=21)
        many = await double.enqueue_many_async([{"n": 1}, {"n": 2}])
        result = await drain_async(app)
        assert result.succeeded == 3
        assert await handle.result_async(timeout=1) == 42
        assert [await h.result_async(timeout=1) for h in many] == [2, 4]
        await app.aclose()

    asyncio.run(produce_and_wait())
