"""Start deadlines with a real worker: a job whose queue is paused past its deadline never runs
once the queue resumes; the worker ends it as cancelled (expired)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor import Conveyor
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually
from conveyor.why import explain

from .conftest import Workers


def test_a_paused_queue_resumed_after_the_deadline_never_runs_the_job(workers: Workers) -> None:
    store = workers.app.store
    effect = workers.app.get("effect")
    assert store.set_queue_paused("held", True, "test")
    workers.start(queues=["work", "held"], rescue_interval=1.0)
    first = effect.enqueue(key="free-1")
    workers.wait_state(first.id, JobState.SUCCEEDED)

    late = effect.enqueue(key="late", queue="held", expires_in=0.5)
    deadline = workers.job(late.id).expires_at
    assert deadline is not None
    eventually(lambda: store.now() > deadline, timeout=5)
    assert store.set_queue_paused("held", False, "test")
    after = effect.enqueue(key="after", queue="held")  # behind the late one in claim order
    workers.wait_state(after.id, JobState.SUCCEEDED)

    expired = workers.wait_state(late.id, JobState.CANCELLED, timeout=10)
    assert expired.error_type == "Expired"
    assert expired.attempt == 0 and store.list_attempts(late.id) == []
    assert "late" not in workers.effects()
    assert workers.effects() == ["free-1", "after"]
    assert store.count_jobs(JobFilter(states=(JobState.CANCELLED,), error_type="Expired")) == 1


def test_why_names_a_passed_deadline_then_the_expiry(backend_url: str) -> None:
    app = Conveyor(backend_url)
    try:
        @app.job(name="remind")
        def remind(ctx: object) -> None:
            return None

        handle = remind.enqueue(start_by=datetime.now(UTC) - timedelta(seconds=5))
        [first, *_] = explain(app, handle.id)
        assert first.code == "expired"
        assert first.message.startswith("its start deadline passed ")
        assert " ago (at " in first.message
        assert app.store.cancel_expired() == [handle.id]
        [reason] = explain(app, handle.id)
        assert reason.code == "finished"
        assert "finished as cancelled" in reason.message
        assert "not started by its start deadline" in reason.message
    finally:
        app.close()
