"""A run-wide cancel and a claim in flight (decision 141).

``run_cancel_jobs`` skips the job rows another transaction holds (``FOR UPDATE SKIP LOCKED``),
taking the holder for one that finishes the job and advances the run itself. A claim in flight
holds the queued stage jobs it is taking too, and it finishes nothing: once it committed,
those jobs ran in the cancelled run (their ``given`` input means the stage never reads the
run's state) and nothing asked them to stop. ``cancel_run`` now ends with a second
transaction that waits for such claims and cancels what they took.

PostgreSQL only: on SQLite the claim holds the one write lock, so no cancel runs beside it.
"""

from __future__ import annotations

import asyncio
import json
import threading

import psycopg
import pytest
from run_helpers import claim_stage, fan, jobs_of, run_one, stage_of, start

from conveyor.models import JobState, RunState
from conveyor.store import Store, open_async_store
from conveyor.store.contract.run_records import ItemPolicy
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.sql import query
from conveyor.testing import eventually


def _state(store: Store, run_id: int) -> RunState | None:
    run = store.get_run(run_id)
    return None if run is None else run.state


def _cancel(store: Store, run_id: int, *, run_async: bool) -> bool:
    """``cancel_run`` through the sync store, or through an async one over it."""
    if not run_async:
        return store.cancel_run(run_id, by="test")

    async def cancel() -> bool:
        astore = open_async_store(store)
        try:
            return await astore.cancel_run(run_id, by="test")
        finally:
            await astore.release()

    return asyncio.run(cancel())


@pytest.mark.parametrize("run_async", [False, True], ids=["sync", "async"])
def test_a_claim_in_flight_does_not_outlive_a_run_wide_cancel(
    store: Store, run_async: bool
) -> None:
    if not isinstance(store, PostgresStore):
        pytest.skip("SQLite's claim holds the one write lock: no cancel runs beside it")
    run_id = start(store, *fan(ItemPolicy.FAIL))
    run_one(store, "a", None)
    [expander] = claim_stage(store, "e")
    assert store.expand_stage(expander.id, expander.token, [json.dumps(i) for i in range(5)])
    cancelled: list[bool] = []
    with psycopg.connect(store.url) as claiming:  # a worker's claim, not yet committed
        claimed = claiming.execute(
            query("claim_jobs", store.schema),
            {"queues": ["runs"], "names": ["p.e"], "limit": 1, "worker_id": "w-in-flight",
             "lease_seconds": 30.0},
        ).fetchall()
        assert len(claimed) == 1
        cancel = threading.Thread(
            target=lambda: cancelled.append(_cancel(store, run_id, run_async=run_async))
        )
        cancel.start()
        # The cancel's first transaction commits without the claimed job (the run reads as
        # cancelled then); its second waits for the claim, which commits as this block ends.
        eventually(lambda: _state(store, run_id) is RunState.CANCELLED, timeout=30)
        assert cancel.is_alive()  # waiting for the claim
    cancel.join(timeout=30)
    assert not cancel.is_alive() and cancelled == [True]
    assert jobs_of(store, "e", JobState.RUNNING) == []
    assert len(jobs_of(store, "e", JobState.CANCELLED)) == 5
    run = store.get_run(run_id)
    assert run is not None and run.state is RunState.CANCELLED
    assert stage_of(store, run_id, "e").items_left == 0


def test_a_cancel_without_claims_in_flight_waits_for_nothing(store: Store) -> None:
    run_id = start(store, *fan(ItemPolicy.FAIL))
    run_one(store, "a", None)
    [expander] = claim_stage(store, "e")
    assert store.expand_stage(expander.id, expander.token, [json.dumps(i) for i in range(3)])
    assert store.cancel_run(run_id, by="test")
    assert len(jobs_of(store, "e", JobState.CANCELLED)) == 3
    assert stage_of(store, run_id, "e").items_left == 0
    assert not store.cancel_run(run_id, by="test")  # once
