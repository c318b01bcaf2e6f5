"""Helpers for testing code that uses Conveyor: test modes, checks of what was enqueued,
drains that run queued jobs in-process, and a wait for a condition.

```python
from conveyor.testing import assert_enqueued

def test_signup_sends_welcome(app):
    with app.testing(mode="manual") as conveyor:
        signup(email="a@example.com")          # enqueues send_welcome
        assert_enqueued(send_welcome, args={"email": "a@example.com"})
        result = conveyor.drain()              # runs it (and its retries, without waiting)
        assert result.succeeded == 1
```

The pytest plugin (:mod:`conveyor.testing.plugin`, registered through an entry point) adds
fixtures for the same. See docs/testing.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from conveyor._observers import DrainResult, TestMode
from conveyor.testing._drain import drain, drain_async
from conveyor.testing._session import (
    TestSession,
    assert_enqueued,
    enqueued,
    refute_enqueued,
)

__all__ = [
    "DrainResult",
    "TestMode",
    "TestSession",
    "assert_enqueued",
    "drain",
    "drain_async",
    "enqueued",
    "eventually",
    "max_overlap",
    "refute_enqueued",
]

T = TypeVar("T")


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
