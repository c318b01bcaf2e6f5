"""The test modes: ``app.testing(mode="inline")`` and ``app.testing(mode="manual")``, and the
checks of what was enqueued.

Both modes write jobs to a real store exactly as production does (argument validation and
encoding, unique keys, ``connection=`` transactions), so a test sees what a worker would.
Inline mode then runs them in the caller through a drain that skips backoff; manual mode
leaves them waiting for :meth:`TestSession.assert_enqueued` and :meth:`TestSession.drain`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from pydantic_core import to_jsonable_python

from conveyor._handle import JobHandle
from conveyor._jobs import JobDefinition
from conveyor._observers import DrainResult, TestMode
from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.models import Job, JobState
from conveyor.store.protocol import JobFilter
from conveyor.testing._drain import drain, drain_async

WAITING = (JobState.QUEUED, JobState.SCHEDULED, JobState.RETRYING)
"""The states of a job that is enqueued and not yet run (or waiting to run again)."""


class TestSession:
    """An app in a test mode for the length of a ``with`` block; made by ``app.testing()``.

    In ``inline`` mode each enqueue runs its jobs before it returns (and the jobs they
    enqueue, in turn), in this process, with retries made due at once: the handle's
    ``result()`` is ready when ``enqueue`` returns, and raises :class:`JobFailedError` for a
    job that ended dead. Jobs written through ``connection=`` exist only once the caller
    commits, so they run at the next enqueue or :meth:`drain` after the commit. In
    ``manual`` mode nothing runs until :meth:`drain`.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, app: Conveyor, mode: TestMode, *, url: str | None = None) -> None:
        self.app = app
        self.mode: TestMode = mode
        self.url = url
        self._saved_url: str | None = None
        self._lock = threading.Lock()
        self._draining = False

    def __repr__(self) -> str:
        return f"<TestSession {self.mode} {self.app.url}>"

    # -- entering and leaving -----------------------------------------------------------------

    def __enter__(self) -> TestSession:
        if self.app.enqueue_observer is not None:
            raise ConfigurationError(
                f"{self.app!r} is already in a test mode ({self.app.enqueue_observer!r}); "
                "leave that block before entering another"
            )
        if self.url is not None:
            self._saved_url = self.app.url
            self.app.close()
            self.app.url = self.url
        self.app.enqueue_observer = self
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.app.enqueue_observer = None
        if self._saved_url is not None:
            self.app.close()
            self.app.url, self._saved_url = self._saved_url, None

    # -- told of each enqueue -----------------------------------------------------------------

    def _claim_drain(self, handles: Sequence[JobHandle], in_transaction: bool) -> bool:
        """True when this enqueue should run a drain now (and marks one as running)."""
        if self.mode != "inline" or in_transaction or all(h.duplicate for h in handles):
            return False
        with self._lock:
            if self._draining:
                return False  # a job enqueued by a job: the drain running it picks it up
            self._draining = True
            return True

    def after_enqueue(self, handles: Sequence[JobHandle], *, in_transaction: bool) -> None:
        """Inline mode: run the new jobs now, in this thread (or, when an event loop runs
        here, in a helper thread with its own loop, which this call waits for)."""
        if not self._claim_drain(handles, in_transaction):
            return
        try:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                self._inline_drain()
                return
            with ThreadPoolExecutor(1, thread_name_prefix="conveyor-inline") as pool:
                pool.submit(self._inline_drain).result()
        finally:
            self._draining = False

    async def after_enqueue_async(
        self, handles: Sequence[JobHandle], *, in_transaction: bool
    ) -> None:
        """Inline mode: run the new jobs now, on this event loop."""
        if not self._claim_drain(handles, in_transaction):
            return
        try:
            await drain_async(
                self.app, concurrency=1, skip_backoff=True, with_scheduled=True, close=False
            )
        finally:
            self._draining = False

    def _inline_drain(self) -> None:
        # One job at a time, so a job's children run after it, in the order enqueued.
        drain(self.app, concurrency=1, skip_backoff=True, with_scheduled=True)

    # -- running what waits -------------------------------------------------------------------

    def drain(
        self,
        *,
        queues: Sequence[str] = (),
        skip_backoff: bool = True,
        with_scheduled: bool = False,
        timeout: float = 60.0,
    ) -> DrainResult:
        """Run the waiting jobs until none is ready; see :func:`conveyor.testing.drain`
        (here backoff is skipped unless ``skip_backoff=False``)."""
        with self._lock:
            self._draining = True
        try:
            return drain(
                self.app,
                queues=queues,
                skip_backoff=skip_backoff,
                with_scheduled=with_scheduled,
                timeout=timeout,
            )
        finally:
            self._draining = False

    async def drain_async(
        self,
        *,
        queues: Sequence[str] = (),
        skip_backoff: bool = True,
        with_scheduled: bool = False,
        timeout: float = 60.0,
    ) -> DrainResult:
        """The async twin of :meth:`drain`, on this event loop."""
        with self._lock:
            self._draining = True
        try:
            return await drain_async(
                self.app,
                queues=queues,
                skip_backoff=skip_backoff,
                with_scheduled=with_scheduled,
                timeout=timeout,
                close=False,
            )
        finally:
            self._draining = False

    # -- checking what was enqueued -----------------------------------------------------------

    def enqueued(
        self,
        job: JobDefinition[Any, Any],
        *,
        args: dict[str, Any] | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        """See :func:`enqueued`."""
        return enqueued(job, args=args, queue=queue)

    def assert_enqueued(
        self,
        job: JobDefinition[Any, Any],
        *,
        args: dict[str, Any] | None = None,
        queue: str | None = None,
        count: int | None = None,
    ) -> list[Job]:
        """See :func:`assert_enqueued`."""
        return assert_enqueued(job, args=args, queue=queue, count=count)

    def refute_enqueued(
        self,
        job: JobDefinition[Any, Any],
        *,
        args: dict[str, Any] | None = None,
        queue: str | None = None,
    ) -> None:
        """See :func:`refute_enqueued`."""
        refute_enqueued(job, args=args, queue=queue)


def _check_job(job: object, what: str) -> JobDefinition[Any, Any]:
    if not isinstance(job, JobDefinition):
        raise TypeError(
            f"{what}() takes the job itself (the function decorated with @app.job), "
            f"got {job!r}"
        )
    return job


def _matches(stored: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    """True when every expected argument is stored with that value (compared as JSON)."""
    if stored is None:
        return False
    wanted = to_jsonable_python(expected)
    return all(key in stored and stored[key] == value for key, value in wanted.items())


def enqueued(
    job: JobDefinition[Any, Any],
    *,
    args: dict[str, Any] | None = None,
    queue: str | None = None,
) -> list[Job]:
    """The jobs of type ``job`` waiting to run (queued, scheduled or retrying), oldest first.

    ``args`` keeps only jobs whose stored arguments include these (a subset: unnamed ones are
    not compared; values compare as their JSON form, so a ``datetime`` matches its stored
    ISO string); ``queue`` only jobs in that queue. Reads the job's app's store, where a job
    enqueued through ``connection=`` appears once its transaction commits.
    """
    definition = _check_job(job, "enqueued")
    found = definition.app.store.list_jobs(
        JobFilter(states=WAITING, name=definition.name, queue=queue)
    )
    return sorted(
        (j for j in found if args is None or _matches(j.args, args)), key=lambda j: j.id
    )


def _describe(definition: JobDefinition[Any, Any], args: dict[str, Any] | None,
              queue: str | None) -> str:
    text = definition.name
    if args is not None:
        text += f" with args {args!r}"
    if queue is not None:
        text += f" in queue {queue!r}"
    return text


def _waiting_summary(definition: JobDefinition[Any, Any]) -> str:
    waiting = enqueued(definition)
    if not waiting:
        return f"no {definition.name} job is waiting"
    listed = "; ".join(f"#{j.id} args={j.args!r} queue={j.queue!r}" for j in waiting[:10])
    more = f" (and {len(waiting) - 10} more)" if len(waiting) > 10 else ""
    return f"waiting {definition.name} jobs: {listed}{more}"


def assert_enqueued(
    job: JobDefinition[Any, Any],
    *,
    args: dict[str, Any] | None = None,
    queue: str | None = None,
    count: int | None = None,
) -> list[Job]:
    """Assert that jobs of type ``job`` wait to run: at least one, or exactly ``count``.

    ``args`` and ``queue`` narrow the match as in :func:`enqueued`. Returns the matching jobs;
    raises ``AssertionError`` that lists what does wait, so a near miss is plain to see.
    """
    definition = _check_job(job, "assert_enqueued")
    found = enqueued(definition, args=args, queue=queue)
    if count is None and found:
        return found
    if count is not None and len(found) == count:
        return found
    wanted = "at least one" if count is None else f"exactly {count}"
    raise AssertionError(
        f"expected {wanted} enqueued job {_describe(definition, args, queue)}, found "
        f"{len(found)}; {_waiting_summary(definition)}"
    )


def refute_enqueued(
    job: JobDefinition[Any, Any],
    *,
    args: dict[str, Any] | None = None,
    queue: str | None = None,
) -> None:
    """Assert that no job of type ``job`` (with these ``args``, in this ``queue``) waits to
    run; raises ``AssertionError`` listing the ones that do."""
    definition = _check_job(job, "refute_enqueued")
    found = enqueued(definition, args=args, queue=queue)
    if found:
        listed = "; ".join(f"#{j.id} args={j.args!r} queue={j.queue!r}" for j in found[:10])
        raise AssertionError(
            f"expected no enqueued job {_describe(definition, args, queue)}, found "
            f"{len(found)}: {listed}"
        )
