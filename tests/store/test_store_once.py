"""Conformance: ``ctx.once()`` records (seen/record, inside a transaction, pruning)."""

from __future__ import annotations

import asyncio
import threading
import time

from store_helpers import claim_one, insert_one

from conveyor.models import JobState
from conveyor.store import Store, open_async_store
from conveyor.store.protocol import Completion, CompletionKind, Retention


def test_a_key_is_unseen_until_recorded_and_recorded_only_once(store: Store) -> None:
    assert not store.once_seen("charge:1")
    assert store.record_once("charge:1", 7)
    assert store.once_seen("charge:1")
    assert not store.record_once("charge:1", 8)  # already there: not recorded again
    assert not store.once_seen("charge:2")


def test_record_in_a_transaction_is_invisible_until_commit(store: Store) -> None:
    tx = store.begin()
    try:
        assert not tx.once_seen("email:1")
        assert tx.record_once("email:1", 1)
        assert tx.once_seen("email:1")  # the transaction sees its own write
        assert not store.once_seen("email:1")  # nobody else does yet
    except BaseException:
        tx.rollback()
        raise
    tx.commit()
    assert store.once_seen("email:1")


def test_record_in_a_rolled_back_transaction_is_gone(store: Store) -> None:
    tx = store.begin()
    assert tx.record_once("email:2", 1)
    tx.rollback()
    assert not store.once_seen("email:2")
    assert store.record_once("email:2", 2)


def test_a_committed_key_is_seen_in_a_transaction_and_not_recorded_again(store: Store) -> None:
    assert store.record_once("charge:3", 1)
    tx = store.begin()
    try:
        assert tx.once_seen("charge:3")
        assert not tx.record_once("charge:3", 2)
        assert tx.record_once("charge:4", 2)  # the transaction is still usable
    except BaseException:
        tx.rollback()
        raise
    tx.commit()
    assert store.once_seen("charge:4")


def test_record_commits_with_the_jobs_completion(store: Store) -> None:
    job_id = insert_one(store)
    job = claim_one(store)
    tx = store.begin()
    try:
        assert tx.record_once("welcome:9", job_id)
        assert tx.complete(Completion(job.id, job.token, CompletionKind.SUCCEEDED))
    except BaseException:
        tx.rollback()
        raise
    tx.commit()
    finished = store.get_job(job_id)
    assert finished is not None and finished.state is JobState.SUCCEEDED
    assert store.once_seen("welcome:9")


def _race(store: Store, commit_first: bool) -> bool:
    """Two transactions record one key; the second waits for the first to end."""
    first = store.begin()
    assert first.record_once("race:1", 1)
    outcome: list[bool] = []

    def second() -> None:
        # On SQLite the second transaction cannot begin while the first holds the write
        # lock; on PostgreSQL its insert waits on the first's uncommitted row.
        tx = store.begin()
        try:
            outcome.append(tx.record_once("race:1", 2))
        finally:
            tx.commit()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    assert not outcome, "the second writer must wait for the first transaction"
    if commit_first:
        first.commit()
    else:
        first.rollback()
    thread.join(20)
    assert len(outcome) == 1
    return outcome[0]


def test_a_concurrent_record_waits_and_loses_to_a_commit(store: Store) -> None:
    assert _race(store, commit_first=True) is False
    assert store.once_seen("race:1")


def test_a_concurrent_record_waits_and_wins_after_a_rollback(store: Store) -> None:
    assert _race(store, commit_first=False) is True
    assert store.once_seen("race:1")


def test_prune_deletes_once_records_past_their_retention(store: Store) -> None:
    for n in range(3):
        assert store.record_once(f"old:{n}", n)
    later = store.now() + 0.05  # the caller's clock, advanced instead of sleeping
    assert store.prune(Retention(), now=later) == 0  # 30 days by default: all kept
    assert store.prune(Retention(once=0.01), limit=2, now=later) == 2
    assert store.prune(Retention(once=0.01), limit=2, now=later) == 1
    assert not any(store.once_seen(f"old:{n}") for n in range(3))
    assert store.record_once("old:0", 9)  # a pruned key can be recorded again


def test_async_store_seen_and_record(store: Store) -> None:
    async def scenario() -> tuple[bool, bool, bool, bool, bool]:
        astore = open_async_store(store)
        try:
            before = await astore.once_seen("async:1")
            recorded = await astore.record_once("async:1", 1)
            again = await astore.record_once("async:1", 2)
            tx = await astore.begin()
            try:
                in_tx = await tx.once_seen("async:1")
                new_in_tx = await tx.record_once("async:2", 3)
            finally:
                await tx.rollback()
            return before, recorded, again, in_tx, new_in_tx
        finally:
            await astore.release()

    assert asyncio.run(scenario()) == (False, True, False, True, True)
    assert not store.once_seen("async:2")  # rolled back
