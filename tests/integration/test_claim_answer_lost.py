"""A worker whose claim commits while its answer is lost (decision 123).

The worker reaches PostgreSQL through :class:`AnswerProxy`. The test has it withhold the answer
that carries the jobs' arguments (the claim's: the claim committed, the jobs show as running
under the worker), then terminates the worker's backends and cuts the claim's connection, so
the claim's answer never arrives. The jobs must not wait out their lease, must not be charged, and must run once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from conveyor._lifecycle import CLAIM_UNANSWERED
from conveyor.models import AttemptOutcome, JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .answer_proxy import AnswerProxy
from .conftest import Workers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("workers", ["postgres"], indirect=True),
]

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


def test_a_claim_whose_answer_is_lost_is_handed_back_uncharged(
    workers: Workers, proxy: AnswerProxy
) -> None:
    began = time.monotonic()
    workers.start(processes=1, concurrency=4, lease=LEASE, poll_interval=0.1, monitor=False)
    store = workers.app.store  # a direct connection, not through the proxy
    eventually(lambda: store.live_workers(stale_after=60), timeout=15)
    proxy.hold(MARKER.encode())
    keys = [f"{MARKER}{i}" for i in range(3)]
    handles = workers.app.get("effect").enqueue_many([{"key": k} for k in keys])
    ids = sorted(h.id for h in handles)

    def claimed() -> list[str] | None:
        jobs = store.get_jobs(ids)
        running = [j for j in jobs if j.state is JobState.RUNNING]
        return [j.worker_id or "" for j in running] if len(running) == len(ids) else None

    # The claim committed; its answer sits in the proxy.
    [owner, *_] = eventually(claimed, timeout=15)
    ports = proxy.held_ports()
    assert len(ports) == 1
    assert _terminate_backends(workers.app.url, ports) == 1  # the claim's connection
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
