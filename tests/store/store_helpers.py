"""Small builders shared by the store conformance tests (plain functions, no fixtures).

Kept out of ``conftest.py`` so that test modules, and the processes the concurrency tests
spawn, can import them by name.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from conveyor.store import Store, open_store
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    Completion,
    CompletionKind,
    ErrorInfo,
    HeartbeatParams,
    NewJob,
)
from conveyor.store.sql_script import statements
from conveyor.store.sqlite.connection import migrations

T = TypeVar("T")

QUEUE = "default"
NAME = "send_email"
NAMES = ("send_email", "resize", "report")
WORKER = "worker-1"
LEASE = 30.0


def new_job(
    name: str = NAME,
    queue: str = QUEUE,
    args: dict[str, Any] | None = None,
    *,
    max_attempts: int = 3,
    priority: int = 0,
    run_at: float | None = None,
    delay: float = 0.0,
    timeout: float | None = None,
    unique_key: str | None = None,
    tenant: str | None = None,
    meta: dict[str, Any] | None = None,
) -> NewJob:
    """A :class:`NewJob` with sensible defaults."""
    return NewJob(
        queue=queue,
        name=name,
        args_json=json.dumps(args if args is not None else {"user_id": 1}),
        max_attempts=max_attempts,
        priority=priority,
        run_at=run_at,
        delay=delay,
        timeout=timeout,
        unique_key=unique_key,
        tenant=tenant,
        meta_json=json.dumps(meta or {}),
    )


def insert(store: Store, *jobs: NewJob) -> list[int]:
    """Insert ``jobs`` (one default job when none are given) and return their ids."""
    return [i.id for i in store.insert_jobs(list(jobs) or [new_job()])]


def insert_one(store: Store, **kwargs: Any) -> int:
    """Insert one job built by :func:`new_job` and return its id."""
    return insert(store, new_job(**kwargs))[0]


def claim(
    store: Store,
    *,
    queues: tuple[str, ...] = (QUEUE,),
    names: tuple[str, ...] = NAMES,
    limit: int = 10,
    lease: float = LEASE,
    worker: str = WORKER,
    now: float | None = None,
) -> list[ClaimedJob]:
    """Claim ready jobs with :meth:`Store.claim_jobs` (at the caller's ``now`` if given)."""
    return store.claim_jobs(
        ClaimParams(
            worker_id=worker,
            queues=queues,
            names=names,
            limit=limit,
            lease_seconds=lease,
            now=now,
        )
    )


def claim_one(store: Store, **kwargs: Any) -> ClaimedJob:
    """Claim exactly one job (fails the test when none or several come back)."""
    claimed = claim(store, limit=1, **kwargs)
    assert len(claimed) == 1, f"expected one claimable job, got {claimed}"
    return claimed[0]


def complete(
    store: Store,
    job: ClaimedJob,
    kind: CompletionKind = CompletionKind.SUCCEEDED,
    *,
    token: int | None = None,
    result: Any = None,
    retry_delay: float = 0.0,
    error: ErrorInfo | None = None,
    now: float | None = None,
) -> bool:
    """Complete one claimed attempt (at the caller's ``now`` if given); return whether the
    store accepted it."""
    completion = Completion(
        job_id=job.id,
        token=job.token if token is None else token,
        kind=kind,
        result_json=None if result is None else json.dumps(result),
        retry_delay=retry_delay,
        error=error,
    )
    (outcome,) = store.complete_jobs([completion], now=now)
    assert outcome.job_id == job.id
    return outcome.accepted


def heartbeat(
    store: Store,
    held: list[tuple[int, int]],
    *,
    worker: str = WORKER,
    lease: float = LEASE,
    now: float | None = None,
) -> frozenset[int]:
    """Send one heartbeat for ``held`` (job id, token) pairs (at the caller's ``now``)."""
    return store.heartbeat(
        HeartbeatParams(worker_id=worker, held=tuple(held), lease_seconds=lease, now=now)
    )


def wait_until(probe: Callable[[], T | None], *, timeout: float = 5.0, interval: float = 0.01) -> T:
    """Poll ``probe`` until it returns something truthy, and return that (or fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


def lapse(store: Store, job: ClaimedJob) -> None:
    """Wait (briefly) until ``job``'s lease is in the past by the store's clock."""
    wait_until(lambda: store.now() > job.lease_until, timeout=5.0, interval=0.005)


def drain_in_process(url: str, worker: str, batch: int, start: Any, results: Any) -> None:
    """Run in a spawned process: claim and complete jobs until none is left.

    Waits on the ``start`` barrier so every process races from the same moment, then puts
    ``(worker, ids completed)`` on the ``results`` queue; each job's result names the worker.
    """
    done: list[int] = []
    try:
        store = open_store(url)
        start.wait(timeout=60)
        while True:
            claimed = claim(store, limit=batch, worker=worker)
            if not claimed:
                break
            results_of_batch = store.complete_jobs(
                [
                    Completion(
                        job_id=job.id,
                        token=job.token,
                        kind=CompletionKind.SUCCEEDED,
                        result_json=json.dumps({"worker": worker}),
                    )
                    for job in claimed
                ]
            )
            done.extend(r.job_id for r in results_of_batch if r.accepted)
        store.close()
    finally:
        results.put((worker, done))


def at_version(path: Path, version: int) -> sqlite3.Connection:
    """A database with the migrations up to ``version`` applied, as that release made it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE conveyor_schema_version ("
        "version INTEGER PRIMARY KEY, applied_at REAL NOT NULL) STRICT"
    )
    for number, sql in migrations():
        if number > version:
            break
        for statement in statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO conveyor_schema_version VALUES (?, ?)", (number, time.time()))
    return conn
