"""Draining: run an app's ready jobs in this process until none is left, then return.

A drain is a burst-mode :class:`~conveyor.worker.claim_loop.WorkerProcess` that also records
which jobs it ran (so its :class:`DrainResult` counts those alone) and, when it skips backoff,
makes the waiting retries of its queues due at once instead of waiting out their delays: the
test's clock jumps to the next retry rather than sleeping until it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Sequence

from conveyor._observers import DrainResult
from conveyor.app import Conveyor
from conveyor.models import JobState
from conveyor.store.protocol import AsyncStore, JobFilter
from conveyor.worker.claim_loop import WorkerProcess
from conveyor.worker.config import WorkerConfig
from conveyor.worker.executor import Executor, Running

_WAITING = (JobState.QUEUED, JobState.SCHEDULED, JobState.RETRYING)


class _DrainWorker(WorkerProcess):
    """A burst worker that remembers the jobs it ran and may skip the waits between tries."""

    def __init__(
        self,
        app: Conveyor,
        config: WorkerConfig,
        *,
        skip_backoff: bool,
        with_scheduled: bool,
    ) -> None:
        super().__init__(app, config, f"drain:{os.getpid()}:{secrets.token_hex(3)}")
        self.ran: set[int] = set()
        self.skip_backoff = skip_backoff
        self.pull_states = (JobState.RETRYING,) + ((JobState.SCHEDULED,) if with_scheduled else ())

    def _finished(self, run: Running) -> None:
        self.ran.add(run.job.id)
        super()._finished(run)

    async def _idle(
        self, store: AsyncStore, executor: Executor, open_queues: tuple[str, ...]
    ) -> None:
        if not self.skip_backoff or executor.running:
            await super()._idle(store, executor, open_queues)
            return
        assert self._completer is not None
        # The finished attempts must be written before their retries can be found and moved.
        await self._completer.flush()
        due = await store.next_due_in(open_queues, self.names)
        if due is not None and due <= 0:
            return  # something is ready now (a race with the last claim): claim again
        if due is not None and await asyncio.to_thread(self._pull_forward, store):
            return
        # Nothing waits that this drain may run now, and it never waits on the clock: done.
        self._stopping = True

    def _pull_forward(self, store: AsyncStore) -> bool:
        """Make this drain's waiting retries (and scheduled jobs, if asked) due now."""
        sync = store.sync
        waiting = sync.list_jobs(JobFilter(states=self.pull_states, payloads=False))
        ids = tuple(
            sorted(j.id for j in waiting if j.queue in self.queues and j.name in self.names)
        )
        if not ids:
            return False
        return bool(sync.retry_jobs(JobFilter(ids=ids, states=self.pull_states)))


async def drain_async(
    app: Conveyor,
    *,
    queues: Sequence[str] = (),
    concurrency: int = 8,
    timeout: float = 60.0,
    skip_backoff: bool = False,
    with_scheduled: bool = False,
    close: bool = True,
) -> DrainResult:
    """Run jobs on this event loop until no ready job is left; see :func:`drain`.

    ``close=False`` keeps the app's async connections of this loop open afterwards (for a
    caller that goes on using them, as the inline test mode does).
    """
    config = WorkerConfig(
        queues=tuple(queues), concurrency=concurrency, burst=True, poll_interval=0.05
    )
    worker = _DrainWorker(
        app, config, skip_backoff=skip_backoff, with_scheduled=with_scheduled
    )
    try:
        await asyncio.wait_for(worker.run(), timeout)
    finally:
        if close:
            await app.aclose()
    ran = tuple(sorted(worker.ran))
    jobs = await asyncio.to_thread(app.async_store.sync.get_jobs, ran) if ran else []

    def count(*states: JobState) -> int:
        return sum(1 for job in jobs if job.state in states)

    return DrainResult(
        attempts=int(worker.stats()["completed"]),
        succeeded=count(JobState.SUCCEEDED),
        dead=count(JobState.DEAD),
        cancelled=count(JobState.CANCELLED),
        waiting=count(*_WAITING),
        job_ids=ran,
    )


def drain(
    app: Conveyor,
    *,
    queues: Sequence[str] = (),
    concurrency: int = 8,
    timeout: float = 60.0,
    skip_backoff: bool = False,
    with_scheduled: bool = False,
) -> DrainResult:
    """Run the app's jobs in this process until no job is ready, then return what it ran.

    The result counts only the jobs this drain ran. Without ``skip_backoff``, retries due
    within a few seconds are waited for, so a job that fails and is retried is followed to its
    end. With ``skip_backoff=True`` no wait is real: each retry is made due as soon as nothing
    else is ready, so a job with four failing attempts drains in milliseconds.
    ``with_scheduled=True`` runs jobs enqueued with ``delay=`` or ``run_at=`` now as well.
    Only ``queues`` are served when given (default: every queue the app's jobs use).
    Raises ``TimeoutError`` after ``timeout`` seconds. Call from sync code (not inside a
    running event loop); from async code use :func:`drain_async`.
    """
    return asyncio.run(
        drain_async(
            app,
            queues=queues,
            concurrency=concurrency,
            timeout=timeout,
            skip_backoff=skip_backoff,
            with_scheduled=with_scheduled,
        )
    )
