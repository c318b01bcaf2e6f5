"""Middleware around enqueue and attempts, on both stores: order, headers, outcomes, isolation.

Jobs run in this process with :func:`conveyor.testing.drain` (a real worker loop in burst
mode), so every attempt goes through the worker's executor and the store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from conveyor import Backoff, Cancel, Concurrency, Conveyor, Permanent
from conveyor.errors import ConfigurationError
from conveyor.middleware import (
    AttemptEnd,
    AttemptStart,
    AttemptStatus,
    CallNext,
    Enqueueing,
    Middleware,
)
from conveyor.models import AttemptOutcome, JobState
from conveyor.testing import drain
from conveyor.worker.claim_loop import WorkerProcess
from conveyor.worker.config import WorkerConfig

QUICK = Backoff(base=0.01, cap=0.01)


class Recorder(Middleware):
    """Writes what it sees into a shared list, tagged with its name."""

    def __init__(self, name: str, seen: list[Any]) -> None:
        self.name = name
        self.seen = seen

    def on_enqueue(self, job: Enqueueing) -> None:
        self.seen.append((self.name, "enqueue", job.name, job.queue, job.tenant))
        job.headers[f"by_{self.name}"] = "yes"

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        self.seen.append((self.name, "before", attempt.ctx.attempt))
        end = await call_next()
        self.seen.append((self.name, "after", end))
        return end


def test_hooks_run_in_list_order_around_sync_and_async_handlers(store_url: str) -> None:
    seen: list[Any] = []
    app = Conveyor(store_url, middleware=[Recorder("a", seen), Recorder("b", seen)])

    @app.job(queue="mail")
    def sync_job(ctx: Any) -> dict[str, str]:
        seen.append(("handler", ctx.name))
        return dict(ctx.headers)

    @app.job(queue="mail")
    async def async_job(ctx: Any) -> dict[str, str]:
        seen.append(("handler", ctx.name))
        return dict(ctx.headers)

    for job in (sync_job, async_job):
        seen.clear()
        handle = job.enqueue(tenant="acme")
        assert seen == [
            ("a", "enqueue", job.name, "mail", "acme"),
            ("b", "enqueue", job.name, "mail", "acme"),
        ]
        seen.clear()
        drain(app)
        assert [s[:2] for s in seen] == [
            ("a", "before"), ("b", "before"), ("handler", job.name), ("b", "after"),
            ("a", "after"),
        ]
        end = seen[-1][2]
        assert end.status is AttemptStatus.SUCCEEDED and end.duration >= 0
        assert end.error_type is None and end.retry_at is None
        # The headers were stored with the job and read back by the attempt.
        assert handle.result(timeout=5) == {"by_a": "yes", "by_b": "yes"}
    app.close()


class Ends(Middleware):
    """Keeps every attempt's start and end."""

    def __init__(self) -> None:
        self.ends: list[tuple[AttemptStart, AttemptEnd]] = []

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        end = await call_next()
        self.ends.append((attempt, end))
        return end


def test_the_end_says_how_each_attempt_ended(store_url: str) -> None:
    ends = Ends()
    app = Conveyor(store_url, middleware=[ends])

    @app.job(retries=1, backoff=QUICK)
    def flaky(ctx: Any) -> str:
        if ctx.attempt == 1:
            raise ValueError("first try fails")
        return "ok"

    @app.job(retries=3)
    def hopeless(ctx: Any) -> None:
        raise Permanent("never")

    @app.job
    async def stopper(ctx: Any) -> None:
        raise Cancel("not wanted")

    @app.job(retries=0, timeout=0.05)
    async def slow(ctx: Any) -> None:
        await asyncio.sleep(5)

    ids = {d.name: d.enqueue(tenant="t1").id for d in (flaky, hopeless, stopper, slow)}
    drain(app)
    by_job: dict[int, list[AttemptEnd]] = {}
    for start, end in ends.ends:
        assert start.ctx.tenant == "t1" and start.queue_wait >= 0
        by_job.setdefault(start.ctx.job_id, []).append(end)
    first, second = by_job[ids[flaky.name]]
    assert first.status is AttemptStatus.RETRYING and first.error_type == "ValueError"
    assert first.retry_at is not None
    assert second.status is AttemptStatus.SUCCEEDED
    [dead] = by_job[ids[hopeless.name]]
    assert dead.status is AttemptStatus.DEAD and dead.error_type == "Permanent"
    [cancelled] = by_job[ids[stopper.name]]
    assert cancelled.status is AttemptStatus.CANCELLED
    [timed_out] = by_job[ids[slow.name]]
    assert timed_out.status is AttemptStatus.DEAD and timed_out.timed_out
    assert timed_out.error_type == "TimeoutError"
    app.close()


class Broken(Middleware):
    """Raises where told to, a given number of times."""

    def __init__(self, where: str, times: int = 1_000) -> None:
        self.where = where
        self.left = times

    def _maybe_raise(self, where: str) -> None:
        if self.where == where and self.left > 0:
            self.left -= 1
            raise RuntimeError(f"broken {where}")

    def on_enqueue(self, job: Enqueueing) -> None:
        job.headers["half"] = "written"
        self._maybe_raise("enqueue")

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        self._maybe_raise("before")
        if self.where == "skip":
            return AttemptEnd(AttemptStatus.SUCCEEDED, 0.0)
        end = await call_next()
        self._maybe_raise("after")
        return end


def test_a_failing_enqueue_hook_never_stops_the_job(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    broken = Broken("enqueue")
    app = Conveyor(store_url, middleware=[broken, Recorder("a", seen)])

    @app.job
    def job(ctx: Any) -> dict[str, str]:
        return dict(ctx.headers)

    with caplog.at_level(logging.ERROR, logger="conveyor.middleware"):
        first = job.enqueue()
        second = job.enqueue()
    drain(app)
    # The broken hook's half-made header was undone; the next middleware still ran.
    assert first.result(timeout=5) == {"by_a": "yes"}
    assert second.result(timeout=5) == {"by_a": "yes"}
    assert app.middleware.errors["Broken.on_enqueue"] == 2
    # Logged once: the second error within a minute is only counted.
    logged = [r for r in caplog.records if "Broken.on_enqueue" in r.getMessage()]
    assert len(logged) == 1
    assert "the job goes on" in logged[0].getMessage()
    app.close()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_raising_before_the_attempt_is_an_attempt_failure(
    store_url: str, asynchronous: bool
) -> None:
    runs: list[int] = []
    app = Conveyor(store_url, middleware=[Broken("before", times=1)])

    if asynchronous:
        @app.job(retries=1, backoff=QUICK)
        async def job(ctx: Any) -> str:
            runs.append(ctx.attempt)
            return "done"
    else:
        @app.job(retries=1, backoff=QUICK)
        def job(ctx: Any) -> str:
            runs.append(ctx.attempt)
            return "done"

    handle = job.enqueue()
    drain(app)
    assert handle.result(timeout=5) == "done"
    assert runs == [2]  # the handler never ran in the refused attempt
    first, second = app.store.list_attempts(handle.id)
    assert first.outcome is AttemptOutcome.FAILED
    assert first.error_type == "MiddlewareError"
    assert first.error_message is not None
    assert "middleware Broken raised RuntimeError before the attempt ran" in first.error_message
    assert second.outcome is AttemptOutcome.SUCCEEDED
    assert app.middleware.errors["Broken.around_attempt"] == 1
    app.close()


def test_raising_after_the_attempt_changes_nothing(store_url: str) -> None:
    ends = Ends()
    # Outermost sees the real end even though the inner one raised after call_next().
    app = Conveyor(store_url, middleware=[ends, Broken("after")])

    @app.job
    def job(ctx: Any) -> int:
        return 7

    handle = job.enqueue()
    drain(app)
    assert handle.result(timeout=5) == 7
    assert [end.status for _, end in ends.ends] == [AttemptStatus.SUCCEEDED]
    assert app.middleware.errors["Broken.around_attempt"] == 1
    [attempt] = app.store.list_attempts(handle.id)
    assert attempt.outcome is AttemptOutcome.SUCCEEDED
    app.close()


def test_a_middleware_that_skips_call_next_fails_the_attempt(store_url: str) -> None:
    app = Conveyor(store_url, middleware=[Broken("skip")])

    @app.job(retries=0)
    def job(ctx: Any) -> None:
        raise AssertionError("the handler must not run")

    handle = job.enqueue()
    drain(app)
    job_row = app.store.get_job(handle.id)
    assert job_row is not None and job_row.state is JobState.DEAD
    assert job_row.error_message is not None
    assert "returned without awaiting call_next()" in job_row.error_message
    app.close()


def test_middleware_must_be_middleware_instances() -> None:
    with pytest.raises(ConfigurationError, match="subclass Middleware and pass an instance"):
        Conveyor("sqlite:///:memory:", middleware=[Recorder])  # type: ignore[list-item]


def test_plain_and_limited_claims_bring_the_tenant_and_due_time(store_url: str) -> None:
    ends = Ends()
    app = Conveyor(store_url, middleware=[ends])

    @app.job
    def plain(ctx: Any) -> str | None:
        return ctx.tenant

    @app.job(limit=Concurrency(1, key="one"))
    async def limited(ctx: Any) -> str | None:
        return ctx.tenant

    handles = [plain.enqueue(tenant="t1"), limited.enqueue(tenant="t2"), plain.enqueue()]
    drain(app)
    assert [h.result(timeout=5) for h in handles] == ["t1", "t2", None]
    for start, _ in ends.ends:
        job = app.store.get_job(start.ctx.job_id)
        assert job is not None
        assert start.run_at == pytest.approx(job.run_at, abs=0.01)
        assert start.started_at >= start.run_at - 0.01
    app.close()


def test_an_attempt_interrupted_by_shutdown_ends_released(store_url: str) -> None:
    ends = Ends()
    app = Conveyor(store_url, middleware=[ends])
    started = asyncio.Event()

    @app.job
    async def long(ctx: Any) -> None:
        started.set()
        await asyncio.sleep(30)

    handle = long.enqueue()

    async def run() -> None:
        worker = WorkerProcess(app, WorkerConfig(poll_interval=0.05), "shutdown-test")
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(started.wait(), 10)
        worker.request_stop(immediate=True)
        await asyncio.wait_for(task, 10)
        await app.aclose()

    asyncio.run(run())
    [(_, end)] = ends.ends
    assert end.status is AttemptStatus.RELEASED
    job = app.store.get_job(handle.id)
    assert job is not None and job.state is JobState.QUEUED and job.attempt == 0
    app.close()
