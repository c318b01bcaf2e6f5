"""The application object: registry of job types, store configuration and the enqueue API."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from conveyor._backpressure import (
    check_max_queued,
    ensure_room,
    ensure_room_async,
    wait_seconds,
)
from conveyor._durations import Duration, to_seconds
from conveyor._events import check_subscriber, prepare_event
from conveyor._handle import JobHandle
from conveyor._jobs import (
    DEFAULT_MAX_SNOOZES,
    DEFAULT_QUEUE,
    DEFAULT_RETRIES,
    UNSET,
    JobDefinition,
    JobOptions,
    Unset,
)
from conveyor._limits import Concurrency, Rate
from conveyor._names import check_job_name, check_queue
from conveyor._observers import TEST_MODES, EnqueueObserver, TestMode, TestSession
from conveyor._retries import Backoff
from conveyor._unique import UniqueFor
from conveyor._watching import Watching
from conveyor._webhooks import webhook_allow as check_webhook_allow
from conveyor._webhooks import webhook_settings
from conveyor._webhooks import webhook_timeout as check_webhook_timeout
from conveyor.errors import ConfigurationError, UnknownJobError
from conveyor.middleware import Middleware, MiddlewareChain, enqueued, not_enqueued
from conveyor.pipelines.declare import Pipeline
from conveyor.pipelines.handle import RunHandle
from conveyor.pipelines.workflow import Workflow
from conveyor.schedules.slots import trigger as trigger_slot
from conveyor.store import DEFAULT_URL, open_async_store, open_store
from conveyor.store.protocol import (
    AsyncStore,
    InsertedJob,
    JobBatch,
    NewJob,
    Retention,
    Store,
)
from conveyor.store.watch_types import SlotWritten

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT_ENV = "CONVEYOR_DEFAULT_TIMEOUT"


def check_default_timeout(value: Duration | None) -> float | None:
    """``default_timeout`` in seconds: ``value``, else ``$CONVEYOR_DEFAULT_TIMEOUT``, else None.

    Raises :class:`ConfigurationError` naming where a bad value came from.
    """
    what = "Conveyor(default_timeout=...)"
    if value is None:
        text = os.environ.get(DEFAULT_TIMEOUT_ENV, "").strip()
        if not text:
            return None
        value, what = text, DEFAULT_TIMEOUT_ENV
    seconds = to_seconds(value, what=what)
    if seconds == 0:
        raise ConfigurationError(
            f"{what} must be positive, such as '15m'; leave it unset for no default timeout"
        )
    return seconds

DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
"""What one job may emit with ``ctx.emit`` in all, across its attempts (UTF-8 JSON bytes)."""


class Conveyor(Watching):
    """A Conveyor application: declare jobs on it, enqueue them, run workers for it.

    ``url`` defaults to the ``CONVEYOR_URL`` environment variable, else ``sqlite:///conveyor.db``
    (a file in the current folder); ``postgresql://user@host/dbname`` selects PostgreSQL, where
    ``schema`` (default ``CONVEYOR_SCHEMA``, else ``public``) keeps Conveyor's tables apart from
    the application's. The store is opened on first use, once per process.

    ``webhook_secret`` (default ``CONVEYOR_WEBHOOK_SECRET``) signs the webhooks sent to jobs'
    ``notify_url``; without one they go unsigned. ``webhook_allow`` (default
    ``CONVEYOR_WEBHOOK_ALLOW``, comma-separated) lists the internal receivers ``notify_url`` may
    reach (networks like ``"10.0.0.0/8"`` or host names): any other non-public address is
    refused. ``webhook_timeout`` is each POST's deadline. ``webhook_backoff`` are the waits before
    each retry of a failed webhook (the last repeats). See docs/notifications.md.

    ``default_timeout`` (default ``CONVEYOR_DEFAULT_TIMEOUT``, else none) is the timeout of
    every job declared on this app without ``timeout=``; ``@app.job(timeout=None)`` still declares
    a job with no timeout, explicitly. Workers warn at start-up about job types with none at
    all. See docs/workers.md, "Timeouts".

    ``max_output_bytes`` bounds what one job may stream with ``ctx.emit`` (1 MiB by default).

    ``middleware`` (instances of :class:`~conveyor.middleware.Middleware` subclasses) run
    around every enqueue and every attempt, first one outermost. See docs/observability.md.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        retention: Retention | None = None,
        schema: str | None = None,
        webhook_secret: str | None = None,
        webhook_backoff: Sequence[Duration] | None = None,
        webhook_allow: Sequence[str] | None = None,
        webhook_timeout: Duration | None = None,
        default_timeout: Duration | None = None,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self.url = url or os.environ.get("CONVEYOR_URL") or DEFAULT_URL
        self.schema = schema
        self.pool_size: int | None = None
        """PostgreSQL connections per pool; workers raise it to fit their concurrency."""
        if isinstance(max_payload_bytes, bool) or not isinstance(max_payload_bytes, int) or (
            max_payload_bytes <= 0
        ):
            raise ConfigurationError(
                f"max_payload_bytes must be a positive int, got {max_payload_bytes!r}"
            )
        self.max_payload_bytes = max_payload_bytes
        if isinstance(max_output_bytes, bool) or not isinstance(max_output_bytes, int) or (
            max_output_bytes <= 0
        ):
            raise ConfigurationError(
                f"max_output_bytes must be a positive int, got {max_output_bytes!r}"
            )
        self.max_output_bytes = max_output_bytes
        self.retention = retention or Retention()
        self.webhook_secret, self.webhook_backoff = webhook_settings(
            webhook_secret, webhook_backoff
        )
        """Signs ``notify_url`` webhooks (None: unsigned) and spaces their retries."""
        self.webhook_allow = check_webhook_allow(webhook_allow)
        """Non-public destinations ``notify_url`` may reach anyway."""
        self.webhook_timeout = check_webhook_timeout(webhook_timeout)
        """Seconds each ``notify_url`` POST may take in all."""
        self.default_timeout = check_default_timeout(default_timeout)
        """Seconds every job declared without ``timeout=`` may run (None: no default)."""
        self.middleware = MiddlewareChain(middleware)
        """The app's middleware, in order, with their error counts."""
        self.jobs: dict[str, JobDefinition[Any, Any]] = {}
        self.subscribers: dict[str, list[JobDefinition[Any, Any]]] = {}
        """The job types subscribed to each event (``@app.job(on=...)``), in declaration order."""
        self.pipelines: dict[str, Pipeline] = {}
        """The pipelines declared with :meth:`pipeline`, by name."""
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._store: Store | None = None
        self._async_store: AsyncStore | None = None
        self._wakeups: list[Callable[[], None]] = []
        self.queue_limits: dict[str, int] = {}
        """``max_queued`` per queue, set with :meth:`configure_queue`."""
        self.connection_provider: Callable[[], object | None] | None = None
        """Asked by every sync enqueue given no ``connection=``: a driver connection whose open
        transaction the jobs should join, or None for the app's own (the Django integration
        sets it, so an enqueue inside ``transaction.atomic()`` commits with it)."""
        self.enqueue_observer: EnqueueObserver | None = None
        """Told of every enqueue after its jobs are written: the test session of
        :meth:`testing` while one is active, else None."""
        self._init_watching()

    def __repr__(self) -> str:
        return f"<Conveyor {self.url} jobs={len(self.jobs)}>"

    # -- declaring ----------------------------------------------------------------------------

    @overload
    def job(self, fn: F, /) -> JobDefinition[Any, Any]: ...

    @overload
    def job(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        queue: str = DEFAULT_QUEUE,
        priority: int = 0,
        retries: int = DEFAULT_RETRIES,
        backoff: Backoff | None = None,
        timeout: Duration | Unset | None = UNSET,
        retry_on: object = (),
        give_up_on: object = (),
        unique: str | None = None,
        unique_for: UniqueFor = None,
        limit: Concurrency | None = None,
        rate: Rate | None = None,
        max_snoozes: int | None = DEFAULT_MAX_SNOOZES,
        on: str | Sequence[str] | None = None,
        stall_after: Duration | None = None,
        sequence: str | None = None,
        on_dead: str = "block",
    ) -> Callable[[F], JobDefinition[Any, Any]]: ...

    def job(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        queue: str = DEFAULT_QUEUE,
        priority: int = 0,
        retries: int = DEFAULT_RETRIES,
        backoff: Backoff | None = None,
        timeout: Duration | Unset | None = UNSET,
        retry_on: object = (),
        give_up_on: object = (),
        unique: str | None = None,
        unique_for: UniqueFor = None,
        limit: Concurrency | None = None,
        rate: Rate | None = None,
        max_snoozes: int | None = DEFAULT_MAX_SNOOZES,
        on: str | Sequence[str] | None = None,
        stall_after: Duration | None = None,
        sequence: str | None = None,
        on_dead: str = "block",
    ) -> JobDefinition[Any, Any] | Callable[[F], JobDefinition[Any, Any]]:
        """Declare a job type. Use as ``@app.job`` or ``@app.job(queue=..., retries=...)``.

        The handler may be ``def`` or ``async def`` and takes the job context first. Options are
        validated now; a mistake raises :class:`ConfigurationError` at import time.

        ``unique="charge:{order_id}"`` makes the job unique by a key filled from the call's
        arguments: while a job holds the key, enqueueing another writes nothing and returns the
        holder's handle (``handle.duplicate``). ``unique_for`` (a duration or ``"forever"``)
        keeps the key held after the job succeeds. Keys are global strings shared by every job
        type. See docs/unique-jobs.md.

        ``limit=Concurrency(5, key="vendor:{vendor}")`` lets at most 5 jobs per key run at once
        across the cluster; ``rate=Rate(100, per="1m", key="{tenant}")`` lets at most 100 start
        in any minute per key. Jobs over a limit wait, queued. See docs/limits.md.

        ``timeout`` (a duration) stops an attempt that runs longer, as a failed attempt; left
        out, the app's ``default_timeout`` applies; ``timeout=None`` means no timeout at all.

        ``max_snoozes`` caps how often one job may ``raise Snooze(...)`` (default 100; None for
        no cap); past it the job goes to ``dead``. See docs/retries.md.

        ``on="order.placed"`` (or a list of event names) subscribes the job to events:
        :meth:`publish` enqueues it. Its parameters are checked against the event's other
        subscribers now. See docs/events.md.

        ``stall_after`` (a duration) flags a running job whose ``ctx.progress(...)`` has not
        changed for that long (or that reported none since it started) as stalled: in
        ``conveyor jobs show``, the dashboard and the ``StalledJobs`` alert rule. The job keeps
        running; see docs/observability.md.

        ``sequence="acct:{account_id}"`` runs the jobs whose key (filled from the call's
        arguments, like ``unique=``) is the same one at a time, in enqueue order, across all
        workers; a retrying or snoozed job keeps its place. ``on_dead="block"`` (the default)
        keeps the key's later jobs waiting behind a dead one until it is replayed or discarded;
        ``on_dead="continue"`` lets them go on. See docs/ordering.md.
        """
        options = JobOptions.build(
            queue=queue,
            priority=priority,
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            retry_on=retry_on,
            give_up_on=give_up_on,
            unique=unique,
            unique_for=unique_for,
            limit=limit,
            rate=rate,
            max_snoozes=max_snoozes,
            on=on,
            stall_after=stall_after,
            sequence=sequence,
            on_dead=on_dead,
        )

        def register(handler: Callable[..., Any]) -> JobDefinition[Any, Any]:
            if not callable(handler):
                raise ConfigurationError(f"@app.job decorates functions, got {handler!r}")
            # A handler defined inside a function has "<locals>" in its qualified name.
            default = f"{handler.__module__}.{handler.__qualname__}".replace("<locals>.", "")
            job_name = check_job_name(name or default)
            if job_name in self.jobs:
                raise ConfigurationError(
                    f"job name {job_name!r} is registered twice; give one of them name=..."
                )
            definition: JobDefinition[Any, Any] = JobDefinition(self, handler, job_name, options)
            for event in options.on:  # all checked before any is recorded
                check_subscriber(event, definition, self.subscribers.get(event, []))
            for event in options.on:
                self.subscribers.setdefault(event, []).append(definition)
            self.jobs[job_name] = definition
            return definition

        return register(fn) if fn is not None else register

    def pipeline(
        self, name: str, *, deadline: Duration | None = None, stall: Duration | None = None
    ) -> Pipeline:
        """Declare a pipeline: stages that run as jobs, each after its parents, with the
        shape checked at every seam. Add stages with ``@pipeline.stage(...)``; start a run
        with ``pipeline.start(**input)``. ``deadline`` is how long a run may take in all,
        ``stall`` how long it may go without a stage finishing. Raises
        :class:`ConfigurationError` for a bad or duplicate name. See docs/pipelines.md.
        """
        if name in self.pipelines:
            raise ConfigurationError(f"pipeline {name!r} is declared twice on this app")
        declared = Pipeline(self, name, deadline=deadline, stall=stall)
        self.pipelines[name] = declared
        return declared

    def workflow(self, name: str = "workflow") -> Workflow:
        """Build a graph of declared jobs at run time: ``a = wf.add(job, **args)``,
        ``wf.add(other, after=[a])``, then ``wf.start()``. The run is stored, watched,
        cancelled and resumed like a pipeline's; ``name`` is what lists show. See
        docs/pipelines.md."""
        return Workflow(self, name)

    def get(self, name: str) -> JobDefinition[Any, Any]:
        """The job type registered under ``name``; raises :class:`UnknownJobError`."""
        try:
            return self.jobs[name]
        except KeyError:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise UnknownJobError(
                f"no job named {name!r} is registered on this app (known: {known})"
            ) from None

    def testing(self, mode: TestMode = "inline", *, url: str | None = None) -> TestSession:
        """Put this app in a test mode for a ``with`` block (or a pytest fixture).

        ``mode="inline"`` runs each job in the caller as it is enqueued, with its real argument
        validation and encoding, unique keys, retries (without waiting out the backoff) and
        dead-letter decision; ``mode="manual"`` leaves enqueued jobs waiting so the test can
        check them (``assert_enqueued``) and run them (``drain``). ``url`` points the app at
        another database for the block (a fresh one per test), migrated on first use.
        Raises :class:`ConfigurationError` for an unknown mode. See docs/testing.md.
        """
        if mode not in TEST_MODES:
            raise ConfigurationError(
                f"app.testing(mode={mode!r}) is not a test mode; use one of: "
                + ", ".join(repr(m) for m in TEST_MODES)
            )
        # conveyor.testing sits in the top layer (it runs a worker in the caller), so the app
        # reaches it by name only when asked; the returned object is typed by the protocol.
        session: TestSession = importlib.import_module("conveyor.testing").TestSession(
            self, mode, url=url
        )
        return session

    # -- the store ----------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The synchronous store, opened once per process."""
        store = self._store
        if store is not None and self._pid == os.getpid():  # every job asks: no lock then
            return store
        with self._lock:
            if self._store is None or self._pid != os.getpid():
                self._store = open_store(self.url, schema=self.schema, pool_size=self.pool_size)
                self._async_store = None
                self._pid = os.getpid()
            return self._store

    @property
    def async_store(self) -> AsyncStore:
        """The asynchronous store beside :attr:`store`."""
        found = self._async_store
        if found is not None and self._pid == os.getpid():
            return found
        store = self.store
        with self._lock:
            if self._async_store is None:
                self._async_store = open_async_store(store)
            return self._async_store

    async def aclose(self) -> None:
        """Release the async connections of the running event loop (call before it ends).

        ``asyncio.run(main())`` where ``main`` enqueues with ``enqueue_async`` should end with
        ``await app.aclose()``, so no pool is left bound to a loop that is gone.
        """
        if self._async_store is not None:
            await self._async_store.release()

    def close(self) -> None:
        """Close this process's store connections."""
        with self._lock:
            if self._store is not None and self._pid == os.getpid():
                self._store.close()
            self._store = None
            self._async_store = None

    # -- enqueueing ---------------------------------------------------------------------------

    def add_wakeup(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each enqueue in this process (workers use it to claim soon)."""
        self._wakeups.append(callback)

    def remove_wakeup(self, callback: Callable[[], None]) -> None:
        """Undo :meth:`add_wakeup`."""
        if callback in self._wakeups:
            self._wakeups.remove(callback)

    def _notify_local(self) -> None:
        for callback in list(self._wakeups):
            callback()

    def trigger_schedule(
        self, name: str, *, by: str | None = None, store: Store | None = None
    ) -> SlotWritten:
        """Enqueue schedule ``name``'s job now, outside its timing; returns the ledger write.

        The run is a manual slot at the store's now, recorded with ``by`` (who asked); the
        schedule's own slots are unaffected and a paused schedule can be triggered too. A second
        trigger in the same second writes nothing (``written`` is False). ``store`` defaults to
        this app's store. Raises :class:`ConfigurationError` when the store has no schedule
        ``name`` or this app does not declare its job. ``conveyor schedules trigger`` and the
        dashboard call this.
        """
        target = store if store is not None else self.store
        written = trigger_slot(self, target, name, by=by, at=target.now())
        self._notify_local()
        return written

    def configure_queue(self, name: str, *, max_queued: int | None = None) -> None:
        """Set a queue's policy: ``max_queued`` bounds how many jobs may wait in it.

        An enqueue that would take the queue's waiting jobs (queued, scheduled, retrying) past
        ``max_queued`` raises :class:`~conveyor.QueueFull` and writes nothing, unless it passed
        ``wait_for_room="30s"``, which waits up to that long for workers to make room. The
        bound is checked just before the insert, not inside its transaction (that would
        serialise producers), so producers racing at the limit may overshoot it, each by at
        most the number of jobs it adds. With ``connection=`` the count cannot see jobs your
        open transaction added before, and ``wait_for_room`` is refused (waiting there could
        hold a lock the workers need). ``max_queued=None`` removes the limit. Raises
        :class:`ConfigurationError` for a bad name or a limit that is not a positive int.
        See docs/queues.md.
        """
        queue = check_queue(name)
        if max_queued is None:
            self.queue_limits.pop(queue, None)
        else:
            self.queue_limits[queue] = check_max_queued(max_queued)

    def enqueue_many(
        self,
        jobs: Sequence[NewJob],
        *,
        connection: object | None = None,
        wait_for_room: Duration | None = None,
    ) -> list[JobHandle]:
        """Insert prepared jobs (``definition.prepare(...)``) in one transaction.

        With ``connection``, the jobs are written inside that connection's open transaction
        and exist only if the caller commits it (see docs/postgres.md). A queue configured
        with ``max_queued`` that lacks room raises :class:`~conveyor.QueueFull`, after waiting
        up to ``wait_for_room`` for room when given (see :meth:`configure_queue`).
        """
        try:
            if connection is None and self.connection_provider is not None:
                connection = self.connection_provider()
            wait = self._room_wait(wait_for_room, connection)
            if self.queue_limits:
                ensure_room(self.store, jobs, self.queue_limits, wait)
            if connection is not None:
                inserted = self.store.insert_jobs_in(connection, jobs)
            else:
                inserted = self.store.insert_jobs(jobs)
        except BaseException as exc:
            not_enqueued(jobs, exc)  # middleware's after hooks see the failure (spans end)
            raise
        if not all(i.duplicate for i in inserted):
            self._notify_local()  # duplicates wrote nothing, so there is nothing to claim
        _settle_inserted(jobs, inserted)
        handles = self._handles(inserted, jobs)
        if self.enqueue_observer is not None:
            self.enqueue_observer.after_enqueue(handles, in_transaction=connection is not None)
        return handles

    @staticmethod
    def _room_wait(wait_for_room: Duration | None, connection: object | None) -> float | None:
        """``wait_for_room`` in seconds; refused with ``connection``, whose open transaction
        may hold the very lock (SQLite's writer) that workers need to make room."""
        wait = wait_seconds(wait_for_room)
        if wait is not None and connection is not None:
            raise ConfigurationError(
                "wait_for_room cannot be combined with connection=: waiting inside your open "
                "transaction could block the workers that would make room; check the queue "
                "before opening the transaction, or catch QueueFull"
            )
        return wait

    def _handles(self, inserted: Sequence[InsertedJob], jobs: Sequence[NewJob]) -> list[JobHandle]:
        """One handle per input job; a duplicate's handle is the holding job's."""
        if isinstance(jobs, JobBatch):
            # One name for all, and no job of the batch is built just to read it.
            name = jobs.template.name
            return [
                JobHandle(self, i.id, i.name or name, i.state, i.duplicate, i.held_until,
                          i.created_at)
                for i in inserted
            ]
        return [
            JobHandle(
                self,
                i.id,
                i.name or j.name,
                i.state,
                duplicate=i.duplicate,
                held_until=i.held_until,
                created_at=i.created_at,
            )
            for i, j in zip(inserted, jobs, strict=True)
        ]

    async def enqueue_many_async(
        self,
        jobs: Sequence[NewJob],
        *,
        connection: object | None = None,
        wait_for_room: Duration | None = None,
    ) -> list[JobHandle]:
        """The async twin of :meth:`enqueue_many`."""
        try:
            wait = self._room_wait(wait_for_room, connection)
            if self.queue_limits:
                await ensure_room_async(self.async_store, jobs, self.queue_limits, wait)
            if connection is not None:
                inserted = await self.async_store.insert_jobs_in(connection, jobs)
            else:
                inserted = await self.async_store.insert_jobs(jobs)
        except BaseException as exc:
            not_enqueued(jobs, exc)
            raise
        if not all(i.duplicate for i in inserted):
            self._notify_local()
        _settle_inserted(jobs, inserted)
        handles = self._handles(inserted, jobs)
        if self.enqueue_observer is not None:
            await self.enqueue_observer.after_enqueue_async(
                handles, in_transaction=connection is not None
            )
        return handles

    def enqueue(self, name: str, /, **kwargs: Any) -> JobHandle:
        """Enqueue a job by its registered name (as ``conveyor enqueue`` does)."""
        return self.get(name).enqueue(**kwargs)

    def publish(
        self,
        event: str,
        /,
        *,
        connection: object | None = None,
        allow_none: bool = False,
        **payload: Any,
    ) -> list[JobHandle]:
        """Enqueue one job for every job type subscribed to ``event`` (``@app.job(on=...)``),
        all in one transaction (the caller's with ``connection=``); return their handles.

        The payload is each subscriber's keyword arguments (enqueue options such as
        ``delay=`` or ``tenant=`` apply to every job). It is validated against every
        subscriber before anything is written. An event without subscribers raises
        :class:`ConfigurationError` unless ``allow_none=True``. See docs/events.md.
        """
        jobs = prepare_event(event, self.subscribers, payload, allow_none=allow_none)
        return self.enqueue_many(jobs, connection=connection) if jobs else []

    async def publish_async(
        self,
        event: str,
        /,
        *,
        connection: object | None = None,
        allow_none: bool = False,
        **payload: Any,
    ) -> list[JobHandle]:
        """The async twin of :meth:`publish`."""
        jobs = prepare_event(event, self.subscribers, payload, allow_none=allow_none)
        if not jobs:
            return []
        return await self.enqueue_many_async(jobs, connection=connection)

    def run(self, run_id: int) -> RunHandle:
        """A handle for an existing pipeline run (to wait for it, cancel or resume it);
        raises :class:`~conveyor.errors.RunNotFoundError` if there is no such run."""
        found = self.store.get_run(run_id, outputs=0)
        if found is None:
            from conveyor.errors import RunNotFoundError

            raise RunNotFoundError(f"run {run_id} does not exist (it may have been pruned)")
        return RunHandle(self, found.id, found.pipeline)

    def handle(self, job_id: int) -> JobHandle:
        """A handle for an existing job id (to wait for its result)."""
        job = self.store.get_job(job_id)
        if job is None:
            from conveyor.errors import JobNotFoundError

            raise JobNotFoundError(f"job {job_id} does not exist (it may have been pruned)")
        return JobHandle(self, job.id, job.name, job.state, created_at=job.created_at)


def _settle_inserted(jobs: Sequence[NewJob], inserted: Sequence[InsertedJob]) -> None:
    """Run the enqueue middleware's ``after_enqueue`` with each written job's id."""
    if isinstance(jobs, JobBatch):
        return  # a batch is never made with enqueue middleware (JobBatch refuses it)
    for job, row in zip(jobs, inserted, strict=True):
        if job.enqueueing is not None:  # the common case without middleware costs one test
            enqueued(job, row.id, duplicate=row.duplicate)
