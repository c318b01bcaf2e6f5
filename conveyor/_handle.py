"""Handles returned by enqueue: the job's id and a way to wait for its result."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.errors import (
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobReplacedError,
    ResultTimeoutError,
)
from conveyor.models import Job, JobState

if TYPE_CHECKING:
    from conveyor.app import Conveyor

_FIRST_POLL = 0.01
_MAX_POLL = 0.25


@dataclass(frozen=True)
class JobHandle:
    """A job that was enqueued: its id, its state at enqueue, and access to its outcome.

    For a unique job whose key was already held, nothing was written: ``duplicate`` is True and
    the handle is the *holding* job's (its id, name and current state), so ``result()`` waits
    for the holder. See docs/unique-jobs.md.

    A job is its id *and* its creation time (``created_at``): every read checks both and raises
    :class:`JobReplacedError` rather than answer for another job that now has the id. SQLite
    can hand an id out again when the transaction that enqueued a job rolls back
    (``enqueue(connection=...)``), so a handle from that enqueue must not read the next job.
    """

    app: Conveyor
    id: int
    name: str
    state: JobState
    duplicate: bool = False
    """True when this enqueue was a duplicate of the holding job and wrote nothing."""
    held_until: float | None = None
    """When a duplicate's holder (a succeeded job) releases the key, in epoch seconds.

    None while the holder is still active (scheduled, queued, running, retrying: the hold lasts
    until it ends) or when it holds the key forever, and for jobs that are not duplicates.
    """
    created_at: float | None = None
    """When the job was created (epoch seconds, as the store reads it back); with ``id`` it
    names one job. None only for a handle built without it, which then checks the id alone."""

    def refresh(self) -> Job:
        """The job as it is now.

        Raises :class:`JobNotFoundError` if it no longer exists (pruned or discarded), and
        :class:`JobReplacedError` if its id now belongs to another job.
        """
        return self._check(self.app.store.get_job(self.id))

    def _check(self, job: Job | None) -> Job:
        """``job`` if it is this handle's job; the error that says why not otherwise."""
        if job is None:
            raise JobNotFoundError(f"job {self.id} does not exist (it may have been pruned)")
        if self.created_at is not None and job.created_at != self.created_at:
            raise JobReplacedError(
                f"job {self.id} is no longer the job this handle was given: that job "
                f"({self.name}, created {_when(self.created_at)}) does not exist, and id "
                f"{self.id} now belongs to another job ({job.name}, created "
                f"{_when(job.created_at)}). If it was enqueued with connection=, the "
                "transaction that enqueued it rolled back (commit it before waiting for the "
                "result); otherwise it was discarded or pruned"
            )
        return job

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job to finish and return its result.

        Raises :class:`JobFailedError` if it ended in ``dead``, :class:`JobCancelledError` if
        cancelled, and :class:`ResultTimeoutError` if ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _FIRST_POLL
        while True:
            job = self.refresh()
            if job.state.is_final:
                return _outcome(job)
            if deadline is not None and time.monotonic() >= deadline:
                raise _timeout(job, timeout)
            time.sleep(pause if deadline is None else min(pause, deadline - time.monotonic()))
            pause = min(_MAX_POLL, pause * 1.5)

    async def result_async(self, timeout: float | None = None) -> Any:
        """The awaitable twin of :meth:`result`; never blocks the event loop."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        pause = _FIRST_POLL
        while True:
            job = self._check(await self.app.async_store.get_job(self.id))
            if job.state.is_final:
                return _outcome(job)
            if deadline is not None and loop.time() >= deadline:
                raise _timeout(job, timeout)
            await asyncio.sleep(pause if deadline is None else min(pause, deadline - loop.time()))
            pause = min(_MAX_POLL, pause * 1.5)


    def stream(self, timeout: float | None = None, *, poll: float = 0.2) -> Iterator[Any]:
        """Each chunk the job emits (``ctx.emit``), in order, as it is emitted: text chunks
        as ``str``, others as their JSON value. Ends once the job is final and every chunk
        was given (so it may end at once with what a finished job emitted), or raises
        :class:`ResultTimeoutError` after ``timeout`` seconds. Chunks of every attempt are
        given; a chunk's attempt is in ``conveyor jobs output``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        after = 0
        while True:
            job = self.refresh()  # read first: a final state means every chunk is stored
            while chunks := self.app.store.read_output(self.id, after):
                for chunk in chunks:
                    yield json.loads(chunk.chunk_json)
                after = chunks[-1].seq
            if job.state.is_final:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise _timeout(job, timeout)
            time.sleep(poll)

    async def stream_async(
        self, timeout: float | None = None, *, poll: float = 0.2
    ) -> AsyncIterator[Any]:
        """The async twin of :meth:`stream`; the reads run on a thread."""
        deadline = None if timeout is None else time.monotonic() + timeout
        after = 0
        store = self.app.store
        while True:
            job = self._check(await asyncio.to_thread(store.get_job, self.id))
            while chunks := await asyncio.to_thread(store.read_output, self.id, after):
                for chunk in chunks:
                    yield json.loads(chunk.chunk_json)
                after = chunks[-1].seq
            if job.state.is_final:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise _timeout(job, timeout)
            await asyncio.sleep(poll)


def _when(at: float) -> str:
    """An epoch time as ISO 8601 UTC, to the microsecond (two jobs' times may be close)."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")


def _outcome(job: Job) -> Any:
    if job.state is JobState.SUCCEEDED:
        return job.result
    if job.state is JobState.DEAD:
        raise JobFailedError(job.id, job.error_type, job.error_message)
    raise JobCancelledError(job.id)


def _timeout(job: Job, timeout: float | None) -> ResultTimeoutError:
    return ResultTimeoutError(
        f"job {job.id} ({job.name}) is still {job.state} after {timeout}s; is a worker running "
        f"for queue {job.queue!r}? (`conveyor queues` shows it)"
    )
