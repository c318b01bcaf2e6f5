"""A run that stops and a claim in flight (decision 141).

``run_cancel_jobs`` skips the job rows another transaction holds (``FOR UPDATE SKIP LOCKED``),
taking the holder for one that finishes the job and advances the run itself. A claim in flight
holds the queued stage jobs it is taking too, and it finishes nothing: once it committed,
those jobs ran in the stopped run (their ``given`` input means the stage never reads the run's
state) and nothing asked them to stop. The PostgreSQL stores now follow a transaction that
stopped a run with one that waits for such claims and cancels what they took.

PostgreSQL only: on SQLite the claim holds the one write lock, so nothing stops a run beside it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from run_helpers import BOOM, claim_stage, done, fan, jobs_of, run_one, stage_of, start

from conveyor.models import JobState, RunState
from conveyor.store import Store, open_async_store
from conveyor.store.contract.run_records import ItemPolicy
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.sql import query
from conveyor.store.protocol import CompletionKind
from conveyor.testing import eventually


def _fan_out(store: Store, items: int) -> int:
    """A run of a -> e (``items`` items, on_item_failure="fail") -> f, its items queued."""
    run_id = start(store, *fan(ItemPolicy.FAIL))
    run_one(store, "a", None)
    [expander] = claim_stage(store, "e")
    assert store.expand_stage(
        expander.id, expander.token, [json.dumps(i) for i in range(items)]
    )
    return run_id


def _claim_one(conn: psycopg.Connection[Any], store: PostgresStore) -> None:
    """A worker's claim of one item on ``conn``, in its transaction, not yet committed."""
    claimed = conn.execute(
        query("claim_jobs", store.schema),
        {"queues": ["runs"], "names": ["p.e"], "limit": 1, "worker_id": "w-in-flight",
         "lease_seconds": 30.0},
    ).fetchall()
    assert len(claimed) == 1


def _state(store: Store, run_id: int) -> RunState | None:
    run = store.get_run(run_id)
    return None if run is None else run.state


def _through(store: Store, run_async: bool, call: Callable[[Any], Any]) -> Any:
    """``call(store)``, or ``await call(async_store)`` on an async store over ``store``."""
    if not run_async:
        return call(store)

    async def through_async() -> Any:
        astore = open_async_store(store)
        try:
            return await call(astore)
        finally:
            await astore.release()

    return asyncio.run(through_async())


def _stop_beside_a_claim(
    store: PostgresStore, stop: Callable[[], None], stopped: Callable[[], bool]
) -> None:
    """Run ``stop`` (it stops the run) on a thread while another connection holds a worker's
    claim of one of the run's items, not yet committed: the stop's first transaction commits
    without the claimed job (``stopped`` then holds); its second waits for the claim, which
    commits as the claiming connection closes, and then ends."""
    with psycopg.connect(store.url) as claiming:
        _claim_one(claiming, store)
        stopping = threading.Thread(target=stop)
        stopping.start()
        eventually(lambda: stopped() or None, timeout=30)
        assert stopping.is_alive()  # its second pass waits for the claim
    stopping.join(timeout=30)
    assert not stopping.is_alive()


@pytest.mark.parametrize("run_async", [False, True], ids=["sync", "async"])
def test_a_claim_in_flight_does_not_outlive_a_run_wide_cancel(
    store: Store, run_async: bool
) -> None:
    if not isinstance(store, PostgresStore):
        pytest.skip("SQLite's claim holds the one write lock: no cancel runs beside it")
    run_id = _fan_out(store, 5)
    cancelled: list[bool] = []
    _stop_beside_a_claim(
        store,
        lambda: cancelled.append(
            _through(store, run_async, lambda s: s.cancel_run(run_id, by="test"))
        ),
        lambda: _state(store, run_id) is RunState.CANCELLED,
    )
    assert cancelled == [True]
    assert jobs_of(store, "e", JobState.RUNNING) == []
    assert len(jobs_of(store, "e", JobState.CANCELLED)) == 5
    run = store.get_run(run_id)
    assert run is not None and run.state is RunState.CANCELLED
    assert stage_of(store, run_id, "e").items_left == 0


def test_a_cancel_without_claims_in_flight_waits_for_nothing(store: Store) -> None:
    run_id = _fan_out(store, 3)
    assert store.cancel_run(run_id, by="test")
    assert len(jobs_of(store, "e", JobState.CANCELLED)) == 3
    assert stage_of(store, run_id, "e").items_left == 0
    assert not store.cancel_run(run_id, by="test")  # once


@pytest.mark.parametrize("run_async", [False, True], ids=["sync", "async"])
def test_a_claim_in_flight_does_not_outlive_a_run_that_fails(
    store: Store, run_async: bool
) -> None:
    # The same window when the run stops by itself: an item fails under
    # on_item_failure="fail" in a worker's completion, which cancels the queued siblings
    # (decision 141: the store follows that commit with the same second pass).
    if not isinstance(store, PostgresStore):
        pytest.skip("SQLite's claim holds the one write lock: no completion runs beside it")
    run_id = _fan_out(store, 5)
    [failing] = claim_stage(store, "e", limit=1)

    def fail_item() -> None:
        completion = done(failing, kind=CompletionKind.DEAD, error=BOOM)
        _through(store, run_async, lambda s: s.complete_jobs([completion]))

    _stop_beside_a_claim(store, fail_item, lambda: _state(store, run_id) is RunState.FAILED)
    assert jobs_of(store, "e", JobState.RUNNING) == []
    # The three still queued and the one the claim took; the fifth item is the dead one.
    assert len(jobs_of(store, "e", JobState.CANCELLED)) == 4
    assert stage_of(store, run_id, "e").items_left == 0
