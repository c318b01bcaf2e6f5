"""A worker whose claim commits while its answer is lost (decision 123).

The worker reaches PostgreSQL through :class:`AnswerProxy`. The test has it withhold the answer
that carries the jobs' arguments (the claim's: the claim committed, the jobs show as running
under the worker), then terminates the claim's backend and cuts its connection, so the claim's
answer never arrives. The jobs must not wait out their lease, must not be charged, and must
run once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import psycopg
import pytest

from conveyor._lifecycle import CLAIM_UNANSWERED
from conveyor.errors import StoreError, StoreUnavailableError
from conveyor.models import AttemptOutcome, JobState
from conveyor.store import open_async_store, open_store
from conveyor.store.protocol import (
    AsyncStore,
    ClaimParams,
    ClaimRound,
    Completion,
    CompletionKind,
    JobFilter,
    NewJob,
)
from conveyor.testing import eventually
from conveyor.worker.completer import Completer

from .answer_proxy import AnswerProxy
from .conftest import Workers, load_itapp

LEASE = 120.0
"""Far longer than the test may take: the rescuer must not be what brings the jobs back."""
MARKER = "answer-lost-"
"""In the jobs' arguments: the one answer that carries it is the claim's."""


@pytest.fixture
def proxy(workers: Workers) -> Iterator[AnswerProxy]:
    """A proxy in front of the test's database; worker processes started after it use it."""
    answers = AnswerProxy(workers.app.url)
    workers.env["CONVEYOR_URL"] = answers.url
    yield answers
    workers.cleanup()  # first: a live worker would open connections as the proxy closes
    answers.close()


def _terminate_backends(url: str, ports: list[int]) -> int:
    """pg_terminate_backend of the connections that come from ``ports`` (the proxy's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND client_port = ANY(%s)",
            (ports,),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["postgres"], indirect=True)
@pytest.mark.parametrize("limited", [False, True], ids=["one-statement", "pipelined"])
def test_a_claim_whose_answer_is_lost_is_handed_back_uncharged(
    workers: Workers, proxy: AnswerProxy, limited: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``one-statement``: the claim is one statement, its own transaction (decision 120);
    ``pipelined``: a worker with limited types claims in a transaction of several statements,
    BEGIN sent with the first, COMMIT with the last Sync (decision 111)."""
    if limited:
        workers.env["IT_LOST_LIMITED"] = "1"
        monkeypatch.setenv("IT_LOST_LIMITED", "1")
    app = load_itapp(f"lost{int(limited)}", "lostapp")
    began = time.monotonic()
    workers.start("lostapp:app", concurrency=4, lease=LEASE, poll_interval=0.1, monitor=False)
    store = app.store  # a direct connection, not through the proxy
    eventually(lambda: store.live_workers(stale_after=60), timeout=15)
    proxy.hold(MARKER.encode())
    keys = [f"{MARKER}{i}" for i in range(3)]
    ids = sorted(h.id for h in app.get("effect").enqueue_many([{"key": k} for k in keys]))

    def claimed() -> list[str]:
        """The workers of the jobs once all are running (none before)."""
        jobs = store.get_jobs(ids)
        running = [j for j in jobs if j.state is JobState.RUNNING]
        return [j.worker_id or "" for j in running] if len(running) == len(ids) else []

    # The claim committed, and its answer sits in the proxy (the commit may show before the
    # answer reaches the proxy: wait for both).
    [owner, *_] = eventually(claimed, timeout=15)
    ports = eventually(proxy.held_ports, timeout=15)
    assert len(ports) == 1
    assert _terminate_backends(app.url, ports) == 1  # the claim's connection
    assert proxy.cut() == 1

    for job_id in ids:
        workers.wait_state(job_id, JobState.SUCCEEDED, timeout=15)
    assert time.monotonic() - began < LEASE / 4, "the jobs must not wait out their lease"
    assert sorted(workers.effects()) == keys  # each ran once
    for job in store.get_jobs(ids):
        assert job.attempt == 1, "the lost claim's attempt must not be charged"
        released, succeeded = store.list_attempts(job.id)
        assert released.outcome is AttemptOutcome.RELEASED
        assert released.error_type == CLAIM_UNANSWERED
        assert released.worker_id == owner
        assert succeeded.outcome is AttemptOutcome.SUCCEEDED
    assert store.count_jobs(JobFilter(states=(JobState.RUNNING,))) == 0
    app.close()


# -- the completer on both stores: the answer "lost" by the claimer itself ----------------------

WORKER = "w-1"


def _params(limit: int = 10) -> ClaimParams:
    return ClaimParams(WORKER, ("q",), ("j",), limit, LEASE)


def _lost(
    store: AsyncStore, error: Exception
) -> Callable[[list[Completion]], Awaitable[ClaimRound]]:
    """A claim that commits, then raises ``error`` as if its answer never arrived."""

    async def claim(completions: list[Completion]) -> ClaimRound:
        await store.complete_and_claim(completions, _params())
        raise error

    return claim


def test_the_completer_settles_a_claim_of_unknown_outcome(backend_url: str) -> None:
    sync = open_store(backend_url)
    ids = [i.id for i in sync.insert_jobs([NewJob("q", "j", "{}", max_attempts=1)] * 3)]

    async def scenario() -> tuple[Completer, ClaimRound]:
        store = open_async_store(sync)
        try:
            first = await store.claim_jobs(_params(limit=1))  # running here, finished below
            completer = Completer(store, worker_id=WORKER, running=lambda: [])
            completer.add(Completion(first[0].id, first[0].token, CompletionKind.SUCCEEDED))
            lost = _lost(store, StoreUnavailableError("the connection broke at the commit"))
            with pytest.raises(StoreUnavailableError):
                await completer.claim_with(lost)
            assert completer.unsure
            assert len(completer.pending) == 1  # kept: its outcome is as unknown
            # The next claim first hands back what the lost one took, then takes it again.
            round_ = await completer.claim_with(
                lambda done: store.complete_and_claim(done, _params())
            )
            return completer, round_
        finally:
            await store.release()

    completer, round_ = asyncio.run(scenario())
    assert not completer.unsure
    assert completer.released == 2
    assert sorted(j.id for j in round_.claimed) == ids[1:]
    assert {j.attempt for j in round_.claimed} == {1}  # a one-attempt job, not dead
    for job_id in ids[1:]:
        [released] = sync.list_attempts(job_id)
        assert released.outcome is AttemptOutcome.RELEASED
        assert released.error_type == CLAIM_UNANSWERED
    done = sync.get_job(ids[0])
    assert done is not None and done.state is JobState.SUCCEEDED
    sync.close()


def test_a_refused_claim_is_not_settled(backend_url: str) -> None:
    sync = open_store(backend_url)
    sync.insert_jobs([NewJob("q", "j", "{}", max_attempts=3)])

    async def scenario() -> Completer:
        store = open_async_store(sync)
        try:
            completer = Completer(store, worker_id=WORKER, running=lambda: [])
            refused = _lost(store, StoreError("refused; nothing was changed"))
            with pytest.raises(StoreError):
                await completer.claim_with(refused)
            return completer
        finally:
            await store.release()

    # A refusal rolled back, so there is nothing to settle (this one lies, to show it).
    assert not asyncio.run(scenario()).unsure
    sync.close()
