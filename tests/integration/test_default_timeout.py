"""A job declared without ``timeout=`` is reaped at the app's default, by a real worker."""

from __future__ import annotations

import time

import pytest

from conveyor.models import JobState

from .conftest import Workers, load_itapp


def test_jobs_without_timeout_are_reaped_at_the_default(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_DEFAULT_TIMEOUT", "0.5s")
    workers.env["CONVEYOR_DEFAULT_TIMEOUT"] = "0.5s"
    app = load_itapp(f"timeouts_{workers.backend}", "timeoutapp")
    try:
        stuck_async = app.enqueue("untimed_async", seconds=60)
        stuck_sync = app.enqueue("untimed_sync", seconds=60)
        unbounded = app.enqueue("no_timeout", seconds=1.0)
        assert app.store.get_job(stuck_async.id).timeout == 0.5  # type: ignore[union-attr]
        started = time.monotonic()
        workers.start("timeoutapp:app", processes=1, concurrency=4, drain_timeout=1)
        for handle in (stuck_async, stuck_sync):
            dead = workers.wait_state(handle.id, JobState.DEAD, timeout=30)
            assert dead.error_type == "TimeoutError"
            assert dead.error_message == "the attempt ran past its timeout of 0.5s"
        # timeout=None is kept as said: the one-second job outlives the default and succeeds.
        done = workers.wait_state(unbounded.id, JobState.SUCCEEDED, timeout=30)
        assert done.timeout is None
        assert time.monotonic() - started < 30
    finally:
        app.close()
