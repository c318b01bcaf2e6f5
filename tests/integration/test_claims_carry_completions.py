"""The completer's background flush defers to a claim in flight: the claim loop claims again
as soon as the claim is back, carrying what finished meanwhile in that claim's transaction.

Without the deferral, on a busy SQLite file (a claim waits for the write lock longer than
``FLUSH_INTERVAL``) half a process's rounds were a flush of their own and a bare claim.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from conveyor.models import JobState
from conveyor.store import Store, open_async_store, open_store
from conveyor.store.protocol import (
    AsyncStore,
    ClaimParams,
    ClaimRound,
    Completion,
    CompletionKind,
    NewJob,
)
from conveyor.worker.completer import FLUSH_INTERVAL, Completer

WORKER = "w-carry"


def _params(limit: int) -> ClaimParams:
    return ClaimParams(WORKER, ("q",), ("j",), limit, 60.0)


@contextlib.asynccontextmanager
async def flushing(sync: Store) -> AsyncIterator[tuple[AsyncStore, Completer]]:
    """The async store over ``sync`` and a completer whose background flush runs meanwhile."""
    store = open_async_store(sync)
    completer = Completer(store, worker_id=WORKER)
    stop = asyncio.Event()
    flusher = asyncio.create_task(completer.run(stop))
    try:
        yield store, completer
    finally:
        stop.set()
        completer.close()
        await flusher
        await store.release()


def test_a_claim_in_flight_carries_what_finished_meanwhile(backend_url: str) -> None:
    sync = open_store(backend_url)
    ids = [j.id for j in sync.insert_jobs([NewJob("q", "j", "{}", max_attempts=3)] * 3)]

    async def scenario() -> tuple[JobState, int, ClaimRound]:
        async with flushing(sync) as (store, completer):
            [first] = await store.claim_jobs(_params(1))
            in_flight, release = asyncio.Event(), asyncio.Event()

            async def slow_claim(done: list[Completion]) -> ClaimRound:
                in_flight.set()
                await release.wait()  # a claim waiting for the write lock
                return await store.complete_and_claim(done, _params(1))

            async def claim_loop() -> ClaimRound:
                # As the worker's loop does: the next claim follows the first one's return
                # (its slot freed meanwhile), with no pause between them.
                await completer.claim_with(slow_claim)
                return await completer.claim_with(
                    lambda done: store.complete_and_claim(done, _params(1))
                )

            loop = asyncio.create_task(claim_loop())
            await in_flight.wait()
            completer.add(Completion(first.id, first.token, CompletionKind.SUCCEEDED))
            # Many flush intervals: the background flush would have written it by now.
            await asyncio.sleep(FLUSH_INTERVAL * 10)
            meanwhile = await store.get_job(first.id)
            assert meanwhile is not None
            pending = len(completer.pending)
            release.set()
            carried = await loop  # the loop's next claim carried it
            return meanwhile.state, pending, carried

    state, pending, carried = asyncio.run(scenario())
    assert state is JobState.RUNNING  # not written on its own while the claim was out
    assert pending == 1
    assert [r.job_id for r in carried.completed] == [ids[0]]
    assert carried.completed[0].accepted
    done = sync.get_job(ids[0])
    assert done is not None and done.state is JobState.SUCCEEDED
    sync.close()


def test_without_a_claim_the_background_flush_writes_completions(backend_url: str) -> None:
    sync = open_store(backend_url)
    sync.insert_jobs([NewJob("q", "j", "{}", max_attempts=3)])

    async def scenario() -> int:
        async with flushing(sync) as (store, completer):
            [job] = await store.claim_jobs(_params(1))
            completer.add(Completion(job.id, job.token, CompletionKind.SUCCEEDED))
            while completer.pending:  # every slot busy: no claim comes to carry it
                await asyncio.sleep(FLUSH_INTERVAL)
            return job.id

    job_id = asyncio.run(asyncio.wait_for(scenario(), 30))
    done = sync.get_job(job_id)
    assert done is not None and done.state is JobState.SUCCEEDED
    sync.close()
