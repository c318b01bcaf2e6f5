"""Queue controls with real stores and real worker processes: pause and resume, backpressure
(``max_queued``, ``QueueFull``, ``wait_for_room``) and ``explain`` ("why is my job waiting?")."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conveyor import ConfigurationError, Conveyor, QueueFull
from conveyor.models import JobState, WorkerInfo
from conveyor.store.protocol import ClaimParams, JobFilter
from conveyor.why import explain

from .conftest import Workers

# -- pause and resume with a real worker -------------------------------------------------------


@pytest.mark.slow
def test_paused_queue_waits_while_the_worker_runs_other_queues(workers: Workers) -> None:
    store = workers.app.store
    assert store.set_queue_paused("held", True, "test")
    effect = workers.app.get("effect")
    held = effect.enqueue(key="held-1", queue="held")
    free = effect.enqueue(key="free-1")
    workers.start(queues=["work", "held"])

    workers.wait_state(free.id, JobState.SUCCEEDED)
    # The claim that took `free` would have taken `held` too, were its queue not paused.
    assert workers.job(held.id).state is JobState.QUEUED
    assert workers.job(held.id).attempt == 0
    more = effect.enqueue(key="free-2")
    workers.wait_state(more.id, JobState.SUCCEEDED)
    assert workers.effects() == ["free-1", "free-2"]
    assert workers.job(held.id).state is JobState.QUEUED

    assert store.set_queue_paused("held", False, "test")
    workers.wait_state(held.id, JobState.SUCCEEDED)
    assert workers.effects() == ["free-1", "free-2", "held-1"]


# -- backpressure ------------------------------------------------------------------------------


@pytest.fixture
def app(backend_url: str) -> Iterator[Conveyor]:
    """An app on a fresh database of each backend, with ``mail`` bounded at 2 waiting jobs."""
    app = Conveyor(backend_url)

    @app.job(name="mail", queue="mail")
    def mail(ctx: object, to: str) -> str:
        return to

    @app.job(name="other", queue="other")
    def other(ctx: object) -> None:
        return None

    app.configure_queue("mail", max_queued=2)
    yield app
    app.close()


def count(app: Conveyor, queue: str = "mail") -> int:
    return app.store.count_jobs(JobFilter(queue=queue))


def test_queue_full_names_depth_and_limit_and_writes_nothing(app: Conveyor) -> None:
    mail = app.get("mail")
    mail.enqueue(to="a")
    mail.enqueue(to="b", delay=3600)  # scheduled jobs wait too
    with pytest.raises(QueueFull) as caught:
        mail.enqueue(to="c")
    assert caught.value.queue == "mail"
    assert (caught.value.depth, caught.value.limit) == (2, 2)
    assert "2 jobs waiting" in str(caught.value)
    assert "max_queued=2" in str(caught.value)
    assert count(app) == 2
    # Other queues are not bounded.
    app.get("other").enqueue()
    app.get("other").enqueue()
    app.get("other").enqueue()
    assert count(app, "other") == 3


def test_bulk_enqueue_counts_every_job_it_adds(app: Conveyor) -> None:
    mail = app.get("mail")
    mail.enqueue(to="a")
    with pytest.raises(QueueFull) as caught:
        mail.enqueue_many([{"to": "b"}, {"to": "c"}])
    assert (caught.value.depth, caught.value.limit) == (1, 2)
    assert count(app) == 1
    assert len(mail.enqueue_many([{"to": "b"}])) == 1
    assert count(app) == 2


def test_async_enqueue_is_bounded_too(app: Conveyor) -> None:
    mail = app.get("mail")

    async def scenario() -> tuple[QueueFull, QueueFull]:
        try:
            await mail.enqueue_async(to="a")
            await mail.enqueue_many_async([{"to": "b"}])
            with pytest.raises(QueueFull) as single:
                await mail.enqueue_async(to="c")
            with pytest.raises(QueueFull) as bulk:
                await mail.enqueue_many_async([{"to": "c"}])
            return single.value, bulk.value
        finally:
            await app.aclose()

    single, bulk = asyncio.run(scenario())
    assert (single.depth, single.limit) == (2, 2)
    assert (bulk.depth, bulk.limit) == (2, 2)
    assert count(app) == 2


def test_enqueue_on_the_callers_connection_is_bounded(app: Conveyor, backend_url: str) -> None:
    mail = app.get("mail")
    mail.enqueue_many([{"to": "a"}, {"to": "b"}])
    conn: Any
    if backend_url.startswith("sqlite"):
        conn = sqlite3.connect(backend_url.removeprefix("sqlite:///"))
    else:
        conn = psycopg.connect(backend_url)
    try:
        with pytest.raises(QueueFull):
            mail.enqueue(to="c", connection=conn)
        # Waiting inside the caller's transaction could hold the lock workers need: refused.
        with pytest.raises(ConfigurationError, match="wait_for_room cannot be combined"):
            mail.enqueue(to="c", connection=conn, wait_for_room="1s")
        conn.commit()
    finally:
        conn.close()
    assert count(app) == 2


def test_running_and_finished_jobs_leave_room(app: Conveyor) -> None:
    mail = app.get("mail")
    mail.enqueue_many([{"to": "a"}, {"to": "b"}])
    claimed = app.store.claim_jobs(
        ClaimParams(worker_id="w", queues=("mail",), names=("mail",), limit=1, lease_seconds=30)
    )
    assert len(claimed) == 1
    mail.enqueue(to="c")
    assert count(app) == 3


def test_wait_for_room_gives_up_after_its_timeout(app: Conveyor) -> None:
    mail = app.get("mail")
    mail.enqueue_many([{"to": "a"}, {"to": "b"}])
    started = time.monotonic()
    with pytest.raises(QueueFull):
        mail.enqueue(to="c", wait_for_room="300ms")
    assert time.monotonic() - started >= 0.3  # it did wait (a lower bound, not a speed claim)

    async def scenario() -> None:
        try:
            with pytest.raises(QueueFull):
                await mail.enqueue_async(to="c", wait_for_room=0.2)
        finally:
            await app.aclose()

    asyncio.run(scenario())
    assert count(app) == 2


def test_a_batch_larger_than_the_limit_fails_at_once(app: Conveyor) -> None:
    with pytest.raises(QueueFull):
        app.get("mail").enqueue_many([{"to": "a"}] * 3, wait_for_room="1h")
    assert count(app) == 0


@pytest.mark.slow
def test_wait_for_room_succeeds_once_a_worker_makes_room(workers: Workers) -> None:
    app = workers.app
    app.configure_queue("work", max_queued=2)
    effect = app.get("effect")
    effect.enqueue_many([{"key": "a"}, {"key": "b"}])
    with pytest.raises(QueueFull):
        effect.enqueue(key="c")
    workers.start()
    handle = effect.enqueue(key="c", wait_for_room="30s")
    workers.wait_state(handle.id, JobState.SUCCEEDED)

    async def scenario() -> list[int]:
        try:
            many = effect.enqueue_many([{"key": "d"}, {"key": "e"}], wait_for_room="30s")
            last = await effect.enqueue_async(key="f", wait_for_room="30s")
            return [h.id for h in many] + [last.id]
        finally:
            await app.aclose()

    # Each one: with several slots, "f" may finish before "e".
    for job_id in asyncio.run(scenario()):
        workers.wait_state(job_id, JobState.SUCCEEDED)
    assert sorted(workers.effects()) == ["a", "b", "c", "d", "e", "f"]


# -- why is my job waiting? --------------------------------------------------------------------


def register(app: Conveyor, queues: tuple[str, ...], names: tuple[str, ...]) -> None:
    """A live worker row, as a worker process registers it."""
    worker_id = f"w-{len(queues)}-{len(names)}"
    app.store.put_worker(
        worker_id,
        WorkerInfo(id=worker_id, hostname="h", pid=os.getpid(), queues=queues, names=names),
    )


def codes(app: Conveyor, job_id: int) -> list[str]:
    return [r.code for r in explain(app, job_id)]


def test_why_a_missing_running_or_finished_job(app: Conveyor) -> None:
    assert codes(app, 999) == ["not_found"]
    job = app.get("other").enqueue()
    [claimed] = app.store.claim_jobs(
        ClaimParams(worker_id="w-9", queues=("other",), names=("other",), limit=1,
                    lease_seconds=30)
    )
    [reason] = explain(app, job.id)
    assert reason.code == "running" and "w-9" in reason.message
    app.store.cancel_jobs(JobFilter(ids=(job.id,)))
    [reason] = explain(app, job.id)
    assert reason.code == "finished" and "cancelled" in reason.message
    assert claimed.id == job.id


def test_why_names_each_rule(app: Conveyor) -> None:
    mail = app.get("mail")
    later = mail.enqueue(to="later", delay=3600)
    [reason] = [r for r in explain(app, later.id) if r.code == "scheduled"]
    assert "in 59m" in reason.message or "in 1h" in reason.message

    now = mail.enqueue(to="now")
    assert codes(app, now.id) == ["no_worker"]  # nothing runs at all
    register(app, ("other",), ("mail", "other"))
    [reason] = explain(app, now.id)
    assert reason.code == "no_worker" and "queue mail" in reason.message

    register(app, ("mail", "other"), ("other",))
    [reason] = explain(app, now.id)
    assert reason.code == "unknown_name" and "`mail`" in reason.message

    register(app, ("mail",), ("mail",))
    [reason] = explain(app, now.id)
    assert reason.code == "ready"

    app.store.set_queue_paused("mail", True, "alice")
    [reason] = explain(app, now.id)
    assert reason.code == "paused" and "alice" in reason.message
    assert "conveyor queues resume mail" in reason.message
    assert codes(app, later.id) == ["scheduled", "paused"]
    app.store.set_queue_paused("mail", False, "alice")

    app.queue_limits.clear()
    behind = mail.enqueue(to="behind")
    urgent = mail.enqueue(to="urgent", priority=5)
    assert codes(app, urgent.id) == ["ready"]
    [reason] = explain(app, behind.id)
    assert reason.code == "behind"
    assert "behind 2 ready jobs in queue mail" in reason.message


def test_why_a_retry_waiting_out_its_backoff(app: Conveyor) -> None:
    from conveyor.store.protocol import Completion, CompletionKind, ErrorInfo

    job = app.get("other").enqueue()
    [claimed] = app.store.claim_jobs(
        ClaimParams(worker_id="w", queues=("other",), names=("other",), limit=1,
                    lease_seconds=30)
    )
    app.store.complete_jobs([
        Completion(job.id, claimed.token, CompletionKind.RETRY, retry_delay=600,
                   error=ErrorInfo("ValueError", "boom"))
    ])
    reasons = explain(app, job.id)
    assert reasons[0].code == "retrying"
    assert "ValueError" in reasons[0].message and "in 9m" in reasons[0].message


def test_a_duplicate_of_a_waiting_job_is_answered_even_when_the_queue_is_full(
    app: Conveyor,
) -> None:
    mail = app.get("mail")
    first = mail.enqueue(to="a", unique_key="mail:a")
    mail.enqueue(to="b")
    # Full (2 of 2), but a duplicate adds nothing: it gets the holder, not QueueFull.
    again = mail.enqueue(to="a", unique_key="mail:a")
    assert (again.id, again.duplicate) == (first.id, True)
    # In bulk: the held key and a repeat inside the batch add nothing; a new key still does.
    with pytest.raises(QueueFull):
        mail.enqueue_many([{"to": "a", "unique_key": "mail:a"}, {"to": "c"}])
    dups = mail.enqueue_many([{"to": "a", "unique_key": "mail:a"}] * 2)
    assert [h.id for h in dups] == [first.id, first.id]

    async def from_async() -> int:
        try:
            handle = await mail.enqueue_async(to="a", unique_key="mail:a")
            return handle.id
        finally:
            await app.aclose()

    assert asyncio.run(from_async()) == first.id
    assert count(app) == 2
