"""Helpers for testing code that uses Conveyor: run queued jobs in-process, wait for a condition.

```python
from conveyor.testing import drain

def test_signup_sends_welcome(app):
    signup(email="a@example.com")      # enqueues send_welcome
    result = drain(app)                 # runs every ready job, then returns
    assert result.succeeded == 1
```
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from conveyor.app import Conveyor
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter
from conveyor.worker.claim_loop import WorkerProcess
from conveyor.worker.config import WorkerConfig

T = TypeVar("T")


@dataclass(frozen=True)
class DrainResult:
    """What a :func:`drain` did: attempts it ran, and the app's jobs by final state after it."""

    attempts: int
    succeeded: int
    dead: int
    cancelled: int


async def drain_async(
    app: Conveyor,
    *,
    queues: Sequence[str] = (),
    concurrency: int = 8,
    timeout: float = 60.0,
) -> DrainResult:
    """Run jobs on this event loop until no ready job is left; see :func:`drain`."""
    config = WorkerConfig(
        queues=tuple(queues), concurrency=concurrency, burst=True, poll_interval=0.05
    )
    worker = WorkerProcess(app, config, f"drain:{os.getpid()}:{secrets.token_hex(3)}")
    try:
        await asyncio.wait_for(worker.run(), timeout)
    finally:
        await app.aclose()
    store = app.async_store.sync

    def count(state: JobState) -> int:
        return store.count_jobs(JobFilter(states=(state,)))

    return DrainResult(
        attempts=int(worker.stats()["completed"]),
        succeeded=count(JobState.SUCCEEDED),
        dead=count(JobState.DEAD),
        cancelled=count(JobState.CANCELLED),
    )


def drain(
    app: Conveyor,
    *,
    queues: Sequence[str] = (),
    concurrency: int = 8,
    timeout: float = 60.0,
) -> DrainResult:
    """Run the app's jobs in this process until no job is ready, then return.

    Retries due within a few seconds are waited for, so a job that fails and is retried is
    followed to its end. Raises ``TimeoutError`` after ``timeout`` seconds. Call from sync
    code; from async code use :func:`drain_async`.
    """
    return asyncio.run(
        drain_async(app, queues=queues, concurrency=concurrency, timeout=timeout)
    )


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Call ``check`` until it returns a truthy value without raising ``AssertionError``.

    Returns that value; after ``timeout`` seconds re-raises the last ``AssertionError`` (or
    raises one saying the value stayed falsy). Use it instead of ``time.sleep`` in tests.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
            failure: AssertionError = AssertionError(f"still {value!r} after {timeout}s")
        except AssertionError as exc:
            failure = exc
        if time.monotonic() >= deadline:
            raise failure
        time.sleep(interval)


def max_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """The most ``(start, end)`` intervals open at one instant; an end sorts before a start.

    For tests of concurrency limits: record each run's start and end, then assert the
    overlap never passed the limit.
    """
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most
