"""Snooze, run by an in-process worker (``drain``) on both stores, sync and async handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor, JobFailedError, Snooze
from conveyor.models import AttemptOutcome, JobState
from conveyor.testing import drain
from conveyor.why import explain


@pytest.fixture
def app(backend_url: str) -> Iterator[Conveyor]:
    app = Conveyor(backend_url)
    yield app
    app.close()


def test_ten_snoozes_spend_no_attempt_of_a_job_without_retries(app: Conveyor) -> None:
    @app.job(retries=0)
    def poll(ctx: Any, until: int) -> int:
        if ctx.attempt != 1:
            raise RuntimeError(f"attempt {ctx.attempt}: a snooze was charged")
        calls.append(1)
        if len(calls) <= until:
            raise Snooze(0, reason=f"not ready ({len(calls)})")
        return len(calls)

    @app.job(retries=0)
    async def poll_async(ctx: Any, until: int) -> int:
        await asyncio.sleep(0)
        calls_async.append(1)
        if len(calls_async) <= until:
            raise Snooze(0, reason="not ready")
        return ctx.attempt

    calls: list[int] = []
    calls_async: list[int] = []
    handle, handle_async = poll.enqueue(until=10), poll_async.enqueue(until=10)
    drain(app)
    assert handle.result(timeout=1) == 11
    assert handle_async.result(timeout=1) == 1  # still the first attempt
    job = handle.refresh()
    assert (job.attempt, job.max_attempts, job.meta["snoozes"]) == (1, 1, 10)
    attempts = app.store.list_attempts(handle.id)
    assert [a.outcome for a in attempts] == [AttemptOutcome.SNOOZED] * 10 + [
        AttemptOutcome.SUCCEEDED
    ]
    assert {a.attempt for a in attempts} == {1}
    assert attempts[0].error_message == "not ready (1)"
    assert attempts[9].error_message == "not ready (10)"


def test_the_snooze_cap_sends_the_job_to_dead(app: Conveyor) -> None:
    @app.job(max_snoozes=3)
    def forever(ctx: Any) -> None:
        raise Snooze(0, reason="still waiting")

    @app.job(max_snoozes=2)
    async def forever_async(ctx: Any) -> None:
        raise Snooze(0, reason="still waiting")

    handle, handle_async = forever.enqueue(), forever_async.enqueue()
    drain(app)
    for h, cap in ((handle, 3), (handle_async, 2)):
        job = h.refresh()
        assert job.state is JobState.DEAD
        assert job.error_type == "SnoozeLimit"
        assert job.attempt == 1  # it died of snoozing, not of failing
        outcomes = [a.outcome for a in app.store.list_attempts(h.id)]
        assert outcomes == [AttemptOutcome.SNOOZED] * cap + [AttemptOutcome.DEAD]
    with pytest.raises(JobFailedError, match="snoozed 3 times, its max_snoozes"):
        handle.result(timeout=1)


def test_why_says_until_when_and_why_a_job_snoozes(app: Conveyor) -> None:
    @app.job(retries=2)
    def wait_for_export(ctx: Any) -> None:
        raise Snooze("1h", reason="the export is not ready")

    handle = wait_for_export.enqueue()
    drain(app)
    job = handle.refresh()
    assert (job.state, job.attempt, job.meta["snoozes"]) == (JobState.SCHEDULED, 0, 1)
    [reason] = [r for r in explain(app, handle.id) if r.code == "snoozed"]
    assert reason.message.startswith("snoozed until in 59m")
    assert "the export is not ready (snooze 1; attempt 1 of 3 is not spent)" in reason.message
