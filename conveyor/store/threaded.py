"""An :class:`AsyncStore` made from a synchronous store by running its verbs on one thread.

SQLite has no asynchronous driver worth the name, and its writes are serialised anyway, so a
single dedicated thread per process costs nothing in throughput and keeps the event loop free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from conveyor.models import Job, QueueControl, WorkerInfo
from conveyor.store.contract.usage import UsageRow
from conveyor.store.protocol import (
    AsyncStoreTransaction,
    ClaimedJob,
    ClaimParams,
    ClaimRound,
    Completion,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    NewJob,
    Retention,
    Store,
    StoreTransaction,
)
from conveyor.store.threaded_runs import ThreadedRunVerbs

T = TypeVar("T")


class ThreadedAsyncStore(ThreadedRunVerbs):
    """Runs a sync :class:`Store`'s verbs on a private thread, one call at a time."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conveyor-store")

    @property
    def sync(self) -> Store:
        """The wrapped synchronous store."""
        return self._store

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def insert_jobs(
        self, jobs: Sequence[NewJob], *, now: float | None = None
    ) -> list[InsertedJob]:
        """See :meth:`Store.insert_jobs`."""
        return await self._run(lambda: self._store.insert_jobs(jobs, now=now))

    async def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Runs inline: the caller's connection belongs to the caller's thread."""
        return self._store.insert_jobs_in(connection, jobs)

    async def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """See :meth:`Store.claim_jobs`."""
        return await self._run(lambda: self._store.claim_jobs(params))

    async def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """See :meth:`Store.complete_jobs`."""
        return await self._run(lambda: self._store.complete_jobs(completions, now=now))

    async def complete_and_claim(
        self, completions: Sequence[Completion], params: ClaimParams
    ) -> ClaimRound:
        """See :meth:`Store.complete_and_claim`."""
        return await self._run(lambda: self._store.complete_and_claim(completions, params))

    async def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """See :meth:`Store.heartbeat`."""
        return await self._run(lambda: self._store.heartbeat(params))

    async def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None,
        *, now: float | None = None,
    ) -> bool:
        """See :meth:`Store.set_progress`."""
        return await self._run(
            lambda: self._store.set_progress(job_id, token, fraction, message, now=now)
        )

    async def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.rescue_expired`."""
        return await self._run(lambda: self._store.rescue_expired(limit, now=now))

    async def cancel_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_expired`."""
        return await self._run(lambda: self._store.cancel_expired(limit, now=now))

    async def release_unheld(
        self, worker_id: str, held: Sequence[tuple[int, int]], *, now: float | None = None
    ) -> list[int]:
        """See :meth:`Store.release_unheld`."""
        return await self._run(lambda: self._store.release_unheld(worker_id, held, now=now))

    async def put_worker(
        self, worker_id: str, info: WorkerInfo | None, *, now: float | None = None
    ) -> None:
        """See :meth:`Store.put_worker`."""
        await self._run(lambda: self._store.put_worker(worker_id, info, now=now))

    async def get_job(self, job_id: int) -> Job | None:
        """See :meth:`Store.get_job`."""
        return await self._run(lambda: self._store.get_job(job_id))

    async def prune(
        self, retention: Retention, limit: int = 10_000, *, now: float | None = None
    ) -> int:
        """See :meth:`Store.prune`."""
        return await self._run(lambda: self._store.prune(retention, limit, now=now))

    async def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], *, now: float | None = None
    ) -> float | None:
        """See :meth:`Store.next_due_in`."""
        return await self._run(lambda: self._store.next_due_in(queues, names, now=now))

    async def set_queue_paused(
        self, name: str, paused: bool, by: str | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`Store.set_queue_paused`."""
        return await self._run(lambda: self._store.set_queue_paused(name, paused, by, now=now))

    async def queue_controls(self) -> list[QueueControl]:
        """See :meth:`Store.queue_controls`."""
        return await self._run(self._store.queue_controls)

    async def queue_depth(self, queue: str, cap: int) -> int:
        """See :meth:`Store.queue_depth`."""
        return await self._run(lambda: self._store.queue_depth(queue, cap))

    async def held_unique_keys(
        self, keys: Sequence[str], *, now: float | None = None
    ) -> frozenset[str]:
        """See :meth:`Store.held_unique_keys`."""
        return await self._run(lambda: self._store.held_unique_keys(keys, now=now))

    async def wait_for_change(self, timeout: float) -> bool:
        """Without a change signal, wait out the timeout (subclasses do better)."""
        await asyncio.sleep(timeout)
        return False

    async def once_seen(self, key: str) -> bool:
        """See :meth:`Store.once_seen`."""
        return await self._run(lambda: self._store.once_seen(key))

    async def record_usage(self, rows: Sequence[UsageRow]) -> None:
        """See :meth:`~conveyor.store.contract.usage.UsageVerbs.record_usage`, on the store's
        thread: between two claims, rather than on a thread of its own contending with them
        for the connection's lock and the interpreter's (docs/architecture.md, decision 107)."""
        await self._run(lambda: self._store.record_usage(rows))

    async def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`Store.record_once`."""
        return await self._run(lambda: self._store.record_once(key, job_id))

    async def begin(self) -> AsyncStoreTransaction:
        """The sync store's transaction, its calls run off the event loop."""
        return _ThreadedTransaction(await self._run(self._store.begin))

    async def release(self) -> None:
        """Nothing here belongs to an event loop."""

    async def close(self) -> None:
        """Close the store and stop the thread."""
        await self._run(self._store.close)
        self._pool.shutdown(wait=True)


class _ThreadedTransaction:
    """A sync :class:`StoreTransaction` with awaitable methods (run in a worker thread)."""

    def __init__(self, tx: StoreTransaction) -> None:
        self._tx = tx
        self.connection = tx.connection

    async def complete(self, completion: Completion, *, now: float | None = None) -> bool:
        return await asyncio.to_thread(lambda: self._tx.complete(completion, now=now))

    async def commit(self) -> None:
        await asyncio.to_thread(self._tx.commit)

    async def rollback(self) -> None:
        await asyncio.to_thread(self._tx.rollback)

    async def once_seen(self, key: str) -> bool:
        return await asyncio.to_thread(self._tx.once_seen, key)

    async def record_once(self, key: str, job_id: int) -> bool:
        return await asyncio.to_thread(self._tx.record_once, key, job_id)
