"""SQLite only: the write lock's waits (issue 11, item 4).

A claim or heartbeat that waited for the write lock reads its clock once it holds it, so the
lease it writes is never already lapsed; Conveyor's own file lock is waited for at most the
busy timeout, with an error that says what to do.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from store_helpers import NAMES, QUEUE, WORKER, claim, heartbeat, insert_one

from conveyor.errors import ConfigurationError, StoreUnavailableError
from conveyor.store.protocol import ClaimParams
from conveyor.store.sqlite import SQLiteStore

T = TypeVar("T")
SHORT_LEASE = 0.5
HOLD = 1.5  # longer than the lease, shorter than the default busy timeout


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "conveyor.db")
    yield store
    store.close()


def while_foreign_writer_holds(path: Path, seconds: float, call: Callable[[], T]) -> T:
    """Run ``call`` in a thread while another connection holds SQLite's write lock."""
    foreign = sqlite3.connect(path, isolation_level=None)
    foreign.execute("BEGIN IMMEDIATE")
    answer: list[T] = []
    thread = threading.Thread(target=lambda: answer.append(call()))
    thread.start()
    time.sleep(seconds)
    foreign.execute("ROLLBACK")
    foreign.close()
    thread.join(timeout=30)
    assert answer, "the call did not return"
    return answer[0]


def test_a_claim_that_waited_for_the_lock_holds_a_live_lease(sqlite_store: SQLiteStore) -> None:
    job_id = insert_one(sqlite_store)
    claimed = while_foreign_writer_holds(
        sqlite_store.path, HOLD, lambda: claim(sqlite_store, lease=SHORT_LEASE)
    )
    assert [j.id for j in claimed] == [job_id]
    assert claimed[0].lease_until > sqlite_store.now()
    stored = sqlite_store.get_job(job_id)
    assert stored is not None and stored.lease_until is not None
    assert stored.lease_until > sqlite_store.now()
    assert sqlite_store.rescue_expired() == []


def test_a_heartbeat_that_waited_for_the_lock_renews_into_the_future(
    sqlite_store: SQLiteStore,
) -> None:
    insert_one(sqlite_store)
    (job,) = claim(sqlite_store, lease=SHORT_LEASE)
    held = while_foreign_writer_holds(
        sqlite_store.path,
        HOLD,
        lambda: heartbeat(sqlite_store, [(job.id, job.token)], lease=SHORT_LEASE),
    )
    assert held == frozenset({job.id})
    stored = sqlite_store.get_job(job.id)
    assert stored is not None and stored.lease_until is not None
    assert stored.lease_until > sqlite_store.now()


def test_waiting_for_conveyors_file_lock_is_bounded(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "conveyor.db", busy_timeout=0.3)
    try:
        job_id = insert_one(store)
        # Another Conveyor process holding the writer lock (stuck, or in a long transaction).
        fd = os.open(f"{store.path}-writer.lock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with pytest.raises(StoreUnavailableError) as caught:
                store.claim_jobs(ClaimParams(WORKER, (QUEUE,), NAMES, 1, 30.0))
            message = str(caught.value)
            assert "writer.lock" in message and "0.3s" in message
            assert "CONVEYOR_SQLITE_BUSY_TIMEOUT" in message and "safe to retry" in message
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        # Once the holder lets go, the next claim gets the lock (and the job).
        assert [j.id for j in claim(store)] == [job_id]
    finally:
        store.close()


def test_a_bad_busy_timeout_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_SQLITE_BUSY_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="CONVEYOR_SQLITE_BUSY_TIMEOUT"):
        SQLiteStore(tmp_path / "conveyor.db")
