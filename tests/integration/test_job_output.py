"""``ctx.emit``: a running job's output streams to ``handle.stream()`` while it runs, from
sync and async handlers, and the limit stops a job that emits too much."""

from __future__ import annotations

import asyncio

import pytest

from conveyor.errors import JobFailedError
from conveyor.models import JobState

from .conftest import Workers

pytestmark = pytest.mark.slow


def test_output_streams_while_the_job_runs(workers: Workers) -> None:
    handle = workers.app.enqueue("emitter", n=5, pause=0.3)
    workers.start(concurrency=2)
    seen = []
    states = []
    for chunk in handle.stream(timeout=60):
        seen.append(chunk)
        states.append(handle.refresh().state)
    assert seen == [f"line {i}\n" for i in range(5)]
    assert JobState.RUNNING in states[:2]  # the first lines came before the job finished
    assert handle.result(timeout=10) == 5
    # After the job, the stream gives everything at once and ends.
    assert list(handle.stream(timeout=5)) == seen


def test_async_handlers_emit_and_async_readers_stream(workers: Workers) -> None:
    handle = workers.app.enqueue("emitter_async", n=4, pause=0.2)
    workers.start(concurrency=2)

    async def read() -> list[object]:
        return [chunk async for chunk in handle.stream_async(timeout=60)]

    assert asyncio.run(read()) == [{"i": i} for i in range(4)]
    assert handle.result(timeout=10) == 4


def test_emitting_past_the_limit_fails_the_job_with_the_limit_named(workers: Workers) -> None:
    handle = workers.app.enqueue("emitter", n=3, pause=0.0, size=600_000)
    workers.start(concurrency=2)
    with pytest.raises(JobFailedError) as failed:
        handle.result(timeout=60)
    assert failed.value.error_type == "OutputLimitError"
    assert "limit of 1,048,576 bytes" in (failed.value.error_message or "")
    assert len(list(handle.stream(timeout=5))) == 1  # the chunk that fitted is kept
