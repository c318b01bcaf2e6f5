"""The test modes of ``conveyor.testing`` on both stores: inline (each job runs in the caller at
enqueue), manual (jobs wait; ``assert_enqueued`` checks them; ``drain`` runs them, skipping
backoff), and what a drain counts. Drains run in this process: no worker process starts."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from conveyor import ArgumentError, Backoff, Conveyor, Permanent
from conveyor.errors import ConfigurationError, JobFailedError
from conveyor.models import JobState
from conveyor.testing import (
    assert_enqueued,
    drain,
    enqueued,
    refute_enqueued,
)


@dataclass
class Kit:
    """An app on the test's fresh database, with jobs that record their calls."""

    app: Conveyor
    calls: list[tuple[str, Any]] = field(default_factory=list)
    failures_left: dict[int, int] = field(default_factory=dict)


@pytest.fixture
def kit(store_url: str) -> Iterator[Kit]:
    app = Conveyor(url=store_url)
    kit = Kit(app)
    slow = Backoff(base=3600, cap=3600)  # a real wait would be an hour: only a skip passes

    @app.job(queue="emails", name="send_welcome")
    def send_welcome(ctx: Any, user_id: int) -> str:
        kit.calls.append(("send_welcome", user_id))
        return f"welcomed {user_id}"

    @app.job(queue="reports", name="build_report")
    async def build_report(ctx: Any, account_id: int) -> dict[str, int]:
        kit.calls.append(("build_report", account_id))
        return {"account_id": account_id}

    @app.job(name="flaky", retries=4, backoff=slow)
    def flaky(ctx: Any, key: int) -> int:
        kit.calls.append(("flaky", ctx.attempt))
        if kit.failures_left.get(key, 0) > 0:
            kit.failures_left[key] -= 1
            raise RuntimeError(f"flaky {key} failed")
        return ctx.attempt

    @app.job(name="doomed", retries=2, backoff=slow)
    async def doomed(ctx: Any, permanent: bool = False) -> None:
        kit.calls.append(("doomed", ctx.attempt))
        if permanent:
            raise Permanent("this can never work")
        raise RuntimeError("always fails")

    @app.job(name="charge", unique="charge:{order_id}", unique_for="1h")
    def charge(ctx: Any, order_id: int) -> int:
        kit.calls.append(("charge", order_id))
        return order_id

    @app.job(name="signup")
    def signup(ctx: Any, user_id: int) -> None:
        kit.calls.append(("signup", user_id))
        send_welcome.enqueue(user_id=user_id)  # a job that enqueues another

    try:
        yield kit
    finally:
        app.close()


# -- inline -----------------------------------------------------------------------------------


def test_inline_runs_a_sync_job_before_enqueue_returns(kit: Kit) -> None:
    with kit.app.testing(mode="inline"):
        handle = kit.app.get("send_welcome").enqueue(user_id=7)
        assert kit.calls == [("send_welcome", 7)]
        assert handle.result(timeout=0) == "welcomed 7"


def test_inline_runs_an_async_job_at_enqueue_async(kit: Kit) -> None:
    async def main() -> Any:
        with kit.app.testing(mode="inline"):
            handle = await kit.app.get("build_report").enqueue_async(account_id=3)
            assert kit.calls == [("build_report", 3)]
            result = await handle.result_async(timeout=0)
        await kit.app.aclose()
        return result

    assert asyncio.run(main()) == {"account_id": 3}


def test_inline_sync_enqueue_inside_an_event_loop_still_runs_the_job(kit: Kit) -> None:
    async def main() -> Any:
        with kit.app.testing(mode="inline"):
            return kit.app.get("send_welcome").enqueue(user_id=9).result(timeout=0)

    assert asyncio.run(main()) == "welcomed 9"


def test_inline_validates_arguments_and_writes_nothing_on_a_mistake(kit: Kit) -> None:
    with kit.app.testing(mode="inline"), pytest.raises(ArgumentError):
        kit.app.get("send_welcome").enqueue(user_id="not a number")
    assert kit.calls == []
    assert kit.app.store.list_jobs(_everything()) == []


def test_inline_retries_without_waiting_out_the_backoff(kit: Kit) -> None:
    kit.failures_left[1] = 3
    with kit.app.testing(mode="inline"):
        handle = kit.app.get("flaky").enqueue(key=1)
    # Three failures, each with an hour's backoff, then success on the fourth attempt.
    assert handle.result(timeout=0) == 4
    assert [attempt for _, attempt in kit.calls] == [1, 2, 3, 4]
    assert len(kit.app.store.list_attempts(handle.id)) == 4


def test_inline_sends_an_exhausted_job_to_the_dead_letter_queue(kit: Kit) -> None:
    with kit.app.testing(mode="inline"):
        handle = kit.app.get("doomed").enqueue()
    assert handle.refresh().state is JobState.DEAD
    assert kit.calls == [("doomed", 1), ("doomed", 2), ("doomed", 3)]
    with pytest.raises(JobFailedError):
        handle.result(timeout=0)


def test_inline_honours_permanent_failures(kit: Kit) -> None:
    with kit.app.testing(mode="inline"):
        handle = kit.app.get("doomed").enqueue(permanent=True)
    assert handle.refresh().state is JobState.DEAD
    assert kit.calls == [("doomed", 1)]


def test_inline_honours_unique_keys(kit: Kit) -> None:
    charge = kit.app.get("charge")
    with kit.app.testing(mode="inline"):
        first = charge.enqueue(order_id=5)
        again = charge.enqueue(order_id=5)  # the key is held for an hour after success
        other = charge.enqueue(order_id=6)
    assert again.duplicate and again.id == first.id
    assert not other.duplicate
    assert kit.calls == [("charge", 5), ("charge", 6)]


def test_inline_runs_the_jobs_a_job_enqueues(kit: Kit) -> None:
    with kit.app.testing(mode="inline"):
        kit.app.get("signup").enqueue(user_id=4)
        assert kit.calls == [("signup", 4), ("send_welcome", 4)]
    refute_enqueued(kit.app.get("send_welcome"))


def test_inline_runs_delayed_jobs_at_once(kit: Kit) -> None:
    with kit.app.testing(mode="inline"):
        handle = kit.app.get("send_welcome").enqueue(user_id=2, delay="1h")
    assert handle.result(timeout=0) == "welcomed 2"


def test_inline_runs_a_transactional_job_once_it_is_committed(kit: Kit, store_url: str) -> None:
    send_welcome = kit.app.get("send_welcome")
    with kit.app.testing(mode="inline") as session:
        with _connection(kit.app, store_url) as commit:
            handle = send_welcome.enqueue(user_id=1, connection=commit.conn)
            assert kit.calls == []  # not committed yet: no other connection can see it
            commit()
        assert session.drain().succeeded == 1
    assert handle.result(timeout=0) == "welcomed 1"


# -- manual -----------------------------------------------------------------------------------


def test_manual_records_jobs_without_running_them(kit: Kit) -> None:
    send_welcome = kit.app.get("send_welcome")
    with kit.app.testing(mode="manual") as session:
        send_welcome.enqueue(user_id=1)
        send_welcome.enqueue(user_id=2, queue="vip")
        assert kit.calls == []
        assert [j.args for j in enqueued(send_welcome)] == [{"user_id": 1}, {"user_id": 2}]
        session.assert_enqueued(send_welcome, count=2)
        assert_enqueued(send_welcome, args={"user_id": 2}, queue="vip", count=1)
        assert_enqueued(send_welcome, args={"user_id": 1}, queue="emails")
        refute_enqueued(send_welcome, args={"user_id": 3})
        refute_enqueued(send_welcome, args={"user_id": 1}, queue="vip")
        refute_enqueued(kit.app.get("build_report"))


def test_assert_enqueued_says_what_does_wait_when_it_fails(kit: Kit) -> None:
    send_welcome = kit.app.get("send_welcome")
    with kit.app.testing(mode="manual"):
        send_welcome.enqueue(user_id=1)
        with pytest.raises(AssertionError, match=r"found 0; waiting send_welcome jobs: #\d+ "
                           r"args=\{'user_id': 1\} queue='emails'"):
            assert_enqueued(send_welcome, args={"user_id": 2})
        with pytest.raises(AssertionError, match="expected exactly 2 enqueued job"):
            assert_enqueued(send_welcome, count=2)
        with pytest.raises(AssertionError, match="expected no enqueued job send_welcome"):
            refute_enqueued(send_welcome)
        with pytest.raises(TypeError, match=r"decorated with @app\.job"):
            assert_enqueued("send_welcome")  # type: ignore[arg-type]


def test_a_rolled_back_enqueue_is_not_enqueued(kit: Kit, store_url: str) -> None:
    send_welcome = kit.app.get("send_welcome")
    with kit.app.testing(mode="manual"):
        with _connection(kit.app, store_url) as commit:
            send_welcome.enqueue(user_id=1, connection=commit.conn)
        refute_enqueued(send_welcome)  # the block ended without commit(): rolled back


def test_manual_drain_runs_the_jobs_and_skips_backoff(kit: Kit) -> None:
    kit.failures_left[1] = 2
    with kit.app.testing(mode="manual") as session:
        kit.app.get("flaky").enqueue(key=1)
        kit.app.get("doomed").enqueue()
        kit.app.get("send_welcome").enqueue(user_id=5)
        result = session.drain()
        refute_enqueued(kit.app.get("flaky"))
    # flaky: 3 attempts; doomed: 3 attempts; send_welcome: 1.
    assert (result.attempts, result.succeeded, result.dead, result.waiting) == (7, 2, 1, 0)


def test_drain_async_runs_jobs_on_the_callers_loop(kit: Kit) -> None:
    async def main() -> Any:
        with kit.app.testing(mode="manual") as session:
            await kit.app.get("build_report").enqueue_async(account_id=1)
            kit.failures_left[2] = 1
            await kit.app.get("flaky").enqueue_many_async([{"key": 2}])
            result = await session.drain_async()
        await kit.app.aclose()
        return result

    result = asyncio.run(main())
    assert (result.attempts, result.succeeded) == (3, 2)


def test_drain_leaves_scheduled_jobs_unless_asked(kit: Kit) -> None:
    send_welcome = kit.app.get("send_welcome")
    with kit.app.testing(mode="manual") as session:
        send_welcome.enqueue(user_id=1, delay="1h")
        assert session.drain().attempts == 0
        assert_enqueued(send_welcome, count=1)
        assert session.drain(with_scheduled=True).succeeded == 1
        refute_enqueued(send_welcome)


def test_a_drain_counts_only_the_jobs_it_ran(kit: Kit) -> None:
    send_welcome = kit.app.get("send_welcome")
    send_welcome.enqueue(user_id=1)
    send_welcome.enqueue(user_id=2)
    first = drain(kit.app)
    assert (first.succeeded, len(first.job_ids)) == (2, 2)
    kit.app.get("doomed").enqueue(permanent=True)
    second = drain(kit.app, queues=["default"])
    assert (second.attempts, second.succeeded, second.dead) == (1, 0, 1)
    assert set(second.job_ids).isdisjoint(first.job_ids)


def test_a_drain_that_does_not_skip_backoff_leaves_later_retries_waiting(kit: Kit) -> None:
    kit.failures_left[1] = 1
    kit.app.get("flaky").enqueue(key=1)
    result = drain(kit.app)  # the retry is due in an hour: beyond the drain's horizon
    assert (result.attempts, result.succeeded, result.waiting) == (1, 0, 1)


# -- using the modes --------------------------------------------------------------------------


def test_an_unknown_mode_is_refused_with_the_known_ones(kit: Kit) -> None:
    with pytest.raises(ConfigurationError, match=r"mode='eager'\) is not a test mode; use one of: "
                       "'inline', 'manual'"):
        kit.app.testing(mode="eager")  # type: ignore[arg-type]


def test_test_modes_do_not_nest_and_leave_the_app_as_they_found_it(
    kit: Kit, tmp_path: Any
) -> None:
    url = kit.app.url
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with kit.app.testing(mode="manual", url=other):
        assert kit.app.url == other
        with pytest.raises(ConfigurationError, match="already in a test mode"):
            kit.app.testing(mode="inline").__enter__()
        kit.app.get("send_welcome").enqueue(user_id=1)
    assert kit.app.url == url and kit.app.enqueue_observer is None
    refute_enqueued(kit.app.get("send_welcome"))  # written to the other database


# -- helpers ----------------------------------------------------------------------------------


def _everything() -> Any:
    from conveyor.store.protocol import JobFilter

    return JobFilter()


class _Commit:
    """A driver connection to the test's database; call it to commit."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __call__(self) -> None:
        self.conn.commit()


class _connection:
    """Open a driver connection to the app's database in a transaction; roll back on exit
    unless it was committed."""

    def __init__(self, app: Conveyor, url: str) -> None:
        self.app, self.url = app, url

    def __enter__(self) -> _Commit:
        if self.url.startswith("sqlite"):
            self.raw: Any = sqlite3.connect(self.url.removeprefix("sqlite:///"))
        else:
            self.raw = psycopg.connect(self.url)
        return _Commit(self.raw)

    def __exit__(self, *exc: object) -> None:
        self.raw.rollback()
        self.raw.close()
