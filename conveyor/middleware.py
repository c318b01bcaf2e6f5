"""Middleware: code of yours that runs around every enqueue and every attempt.

``Conveyor(middleware=[Audit(), Timing()])`` installs them in list order: the first is the
outermost, so it sees an attempt first and its end last (like a web framework's middleware
stack). A middleware subclasses :class:`Middleware` and overrides what it needs:

* :meth:`Middleware.on_enqueue` sees each job before it is written and may add string
  ``headers`` to it (a request id, trace context); they are stored with the job and every
  attempt reads them back as ``ctx.headers``.
* :meth:`Middleware.after_enqueue` is told how that write went: the job's id (for a unique-key
  duplicate, the id of the job holding the key), or None when nothing was written. Keep what
  must live from one hook to the other (an open span) in ``job.state``.
* :meth:`Middleware.around_attempt` wraps each attempt, sync and async handlers alike (it runs
  on the worker's event loop): work before ``await call_next()`` runs before the handler,
  and ``call_next()`` returns how the attempt ended (:class:`AttemptEnd`).

A middleware can never lose or delay a job. An exception from ``on_enqueue`` or
``after_enqueue``, or from
``around_attempt`` after ``call_next()`` returned, is logged (at most once a minute per
middleware and hook), counted in :attr:`MiddlewareChain.errors`, and ignored: the job is written,
the attempt's outcome stands. An ``around_attempt`` that raises *before* calling ``call_next()``
(or returns without calling it) means the handler did not run: that is a failed attempt, recorded
with a :class:`~conveyor.errors.MiddlewareError` that names the middleware, and retried by the
job's policy like any failure. By the time ``call_next()`` returns, the attempt's completion is
already queued for writing, so slow code after it delays nothing but its own slot.
"""

from __future__ import annotations

import copy
import enum
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError, MiddlewareError

if TYPE_CHECKING:
    from conveyor._context import JobContext
    from conveyor.store.contract.records import NewJob

log = logging.getLogger("conveyor.middleware")

REPORT_EVERY = 60.0
"""Seconds between two logged errors of the same middleware and hook (the rest are counted)."""


class AttemptStatus(enum.StrEnum):
    """How an attempt ended, as middleware sees it."""

    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    """It failed (or timed out) and will run again at :attr:`AttemptEnd.retry_at`."""
    DEAD = "dead"
    """It failed for good: the job is in the dead-letter queue."""
    CANCELLED = "cancelled"
    """The handler raised ``Cancel``."""
    RELEASED = "released"
    """The worker is shutting down: the job was handed back, this attempt is not charged."""
    LOST = "lost"
    """The attempt no longer held its job (cancelled meanwhile, or its lease lapsed)."""
    SNOOZED = "snoozed"
    """The handler raised ``Snooze``: the job waits until :attr:`AttemptEnd.retry_at`, and
    this attempt is not charged."""


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """The end of one attempt, returned by ``call_next()``."""

    status: AttemptStatus
    duration: float
    """Seconds the attempt ran (the handler, its decoding and its transaction)."""
    error_type: str | None = None
    """The failure's exception type (e.g. ``"ValueError"``, ``"TimeoutError"``), or None."""
    error_message: str | None = None
    timed_out: bool = False
    """True when the attempt was stopped at its timeout."""
    retry_at: float | None = None
    """For ``RETRYING`` and ``SNOOZED``: when the next attempt is due (epoch seconds)."""


@dataclass(eq=False, slots=True)
class Enqueueing:
    """A job about to be written, as :meth:`Middleware.on_enqueue` sees it."""

    name: str
    queue: str
    tenant: str | None
    headers: dict[str, str] = field(default_factory=dict)
    """Add string entries here; they are stored with the job (``ctx.headers`` in attempts)."""
    state: dict[object, Any] = field(default_factory=dict, repr=False)
    """Per-job room for middleware, from ``on_enqueue`` to ``after_enqueue`` (an open span, a
    start time). Key it by your middleware instance (``job.state[self] = ...``) so two never
    collide. Lives in memory only: it is not stored with the job."""
    duplicate: bool = False
    """Set before ``after_enqueue``: True when the job's unique key was held, so nothing was
    written and the id given is the holding job's."""
    error: BaseException | None = None
    """Set before ``after_enqueue`` when the write failed (the id given is then None)."""
    _chain: MiddlewareChain | None = field(default=None, init=False, repr=False)


@dataclass(frozen=True, eq=False, slots=True)
class AttemptStart:
    """An attempt about to run, as :meth:`Middleware.around_attempt` sees it."""

    ctx: JobContext
    """The handler's context: job id, name, queue, attempt, tenant, headers, logger."""
    run_at: float
    """When the job was due (epoch seconds)."""
    started_at: float
    """When this attempt claimed it (epoch seconds)."""

    @property
    def queue_wait(self) -> float:
        """Seconds the job waited, due, before this attempt took it (never negative)."""
        return max(0.0, self.started_at - self.run_at)


CallNext = Callable[[], Awaitable[AttemptEnd]]
"""What ``around_attempt`` awaits to run the rest of the chain and the attempt."""


class Middleware:
    """Base class of middleware: override :meth:`on_enqueue`, :meth:`after_enqueue`,
    :meth:`around_attempt`, or any of them.

    One instance serves every job of the process, from several tasks and threads at once:
    keep per-attempt state in local variables and per-enqueue state in ``job.state``, not on
    ``self``.
    """

    def on_enqueue(self, job: Enqueueing) -> None:
        """Called once for each job before it is written (in the enqueuing thread).

        Add entries to ``job.headers`` to store them with the job. Keep it quick: it runs on
        every enqueue. An exception is logged and counted and its header changes undone; the
        job is still written.
        """

    def after_enqueue(self, job: Enqueueing, job_id: int | None) -> None:
        """Called once for each job :meth:`on_enqueue` saw, after the write was decided.

        ``job_id`` is the written job's id; for a unique-key duplicate it is the id of the job
        holding the key (``job.duplicate`` is True); with ``connection=`` the write is inside
        your transaction, which may still roll back. ``job_id`` is None when nothing was
        written: the write failed (``job.error`` holds the exception, which the caller gets
        too), a later job of the same batch failed to validate, another scheduler had already
        written the slot, or the job is a pipeline stage the store writes later (when its
        parents succeed). A job prepared (``prepare(...)``) but never handed to an enqueue
        call gets no call. Exceptions are logged and counted; the job stands.
        """

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        """Wrap one attempt: ``end = await call_next()`` runs it; return ``end``.

        Raising before ``call_next()`` fails the attempt (a ``MiddlewareError``); raising after
        it is logged and counted, and the attempt's outcome stands. The value returned is
        ignored: middleware observes outcomes, it cannot change them.
        """
        return await call_next()


class MiddlewareChain:
    """The middleware of an app, run in order, each one's errors kept from the jobs."""

    def __init__(self, items: Sequence[Middleware] = ()) -> None:
        for item in items:
            if not isinstance(item, Middleware):
                raise ConfigurationError(
                    f"middleware must be instances of conveyor.middleware.Middleware "
                    f"subclasses, got {item!r}; subclass Middleware and pass an instance"
                )
        self.items: tuple[Middleware, ...] = tuple(items)
        self.enqueue_first: tuple[Middleware, ...] = ()
        """Middleware whose ``on_enqueue`` alone runs before the items' (the worker's metrics,
        :meth:`observe_enqueues`); their ``around_attempt`` is not run by this chain."""
        self.errors: Counter[str] = Counter()
        """Errors raised by each middleware hook, keyed ``"ClassName.hook"``."""
        self._last_report: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self.items or self.enqueue_first)

    def observe_enqueues(self, item: Middleware) -> None:
        """Run ``item.on_enqueue`` first for every enqueue through this app from now on.

        The worker uses it for its metrics, whose ``around_attempt`` its executor already
        runs: adding the item to the chain itself would count every attempt twice.
        """
        if item not in self.enqueue_first:
            self.enqueue_first = (item, *self.enqueue_first)

    def with_first(self, *first: Middleware) -> MiddlewareChain:
        """A chain with ``first`` outermost, then these items (the worker's built-ins)."""
        chain = MiddlewareChain((*first, *self.items))
        chain.errors = self.errors  # one count per process, whoever runs the hook
        chain._last_report = self._last_report
        return chain

    def report(self, middleware: Middleware, hook: str, error: BaseException) -> None:
        """Count an error of ``middleware``'s ``hook``; log it unless one was logged lately."""
        key = f"{type(middleware).__qualname__}.{hook}"
        self.errors[key] += 1
        now = time.monotonic()
        last = self._last_report.get(key)
        if last is not None and now - last < REPORT_EVERY:
            return
        self._last_report[key] = now
        log.error(
            "middleware %s raised %s: %s (%d errors so far; the job goes on; the next error "
            "of this hook is logged after %.0fs)",
            key, type(error).__name__, error, self.errors[key], REPORT_EVERY,
            exc_info=error,
        )

    def enqueue(self, job: Enqueueing) -> None:
        """Run every ``on_enqueue``; a failing one's header changes are undone."""
        job._chain = self  # whoever writes the job later calls our after_enqueue hooks
        for item in (*self.enqueue_first, *self.items):
            before = copy.copy(job.headers)
            try:
                item.on_enqueue(job)
                _check_headers(job.headers)
            except Exception as exc:
                job.headers = before
                self.report(item, "on_enqueue", exc)

    def after_enqueue(self, job: Enqueueing, job_id: int | None) -> None:
        """Run every ``after_enqueue``, in the order ``on_enqueue`` ran; errors are reported."""
        for item in (*self.enqueue_first, *self.items):
            try:
                item.after_enqueue(job, job_id)
            except Exception as exc:
                self.report(item, "after_enqueue", exc)

    async def attempt(
        self,
        start: AttemptStart,
        run: CallNext,
        fail: Callable[[MiddlewareError], Awaitable[AttemptEnd]],
    ) -> AttemptEnd:
        """Run the chain around ``run`` (the attempt); ``fail`` records a middleware's refusal.

        Never raises but ``CancelledError``: every error of a middleware is reported here.
        """
        if not self.items:
            return await run()

        async def layer(index: int) -> AttemptEnd:
            if index == len(self.items):
                return await run()
            item = self.items[index]
            below: AttemptEnd | None = None

            async def call_next() -> AttemptEnd:
                nonlocal below
                if below is None:  # a second call returns the same end: one attempt, one run
                    below = await layer(index + 1)
                return below

            try:
                await item.around_attempt(start, call_next)
            except Exception as exc:
                self.report(item, "around_attempt", exc)
                if below is None:
                    return await fail(MiddlewareError(
                        f"middleware {_name(item)} raised {type(exc).__name__} before the attempt "
                        f"ran ({exc}); the handler did not run. Fix the middleware, or catch "
                        "the error in it"
                    ))
                return below
            if below is None:
                return await fail(MiddlewareError(
                    f"middleware {_name(item)}.around_attempt returned without awaiting "
                    "call_next(); the handler did not run. A middleware must await call_next() "
                    "once"
                ))
            return below

        return await layer(0)


def enqueued(job: NewJob, job_id: int, *, duplicate: bool = False) -> None:
    """Tell the middleware that saw ``job`` that it was written as ``job_id`` (or, for a
    ``duplicate``, that ``job_id`` holds its unique key). Each job is told once at most."""
    if job.enqueueing is not None:
        _settle(job.enqueueing, job_id, duplicate, None)


def not_enqueued(jobs: Iterable[NewJob], error: BaseException | None = None) -> None:
    """Tell the middleware that saw ``jobs`` that none was written (``error``: why it failed;
    None when nothing was written on purpose). Each job is told once at most."""
    for job in jobs:
        if job.enqueueing is not None:
            _settle(job.enqueueing, None, False, error)


def _settle(
    seen: object, job_id: int | None, duplicate: bool, error: BaseException | None
) -> None:
    if not isinstance(seen, Enqueueing) or seen._chain is None:
        return
    # Once: a prepared job written twice (or settled by a fallback path too) reports once.
    chain, seen._chain = seen._chain, None
    seen.duplicate = duplicate
    seen.error = error
    chain.after_enqueue(seen, job_id)


def _name(item: Middleware) -> str:
    # Only for an error's message: an attempt that goes well never builds it.
    return type(item).__qualname__


def _check_headers(headers: object) -> None:
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigurationError(
            f"job headers must map strings to strings, got {headers!r}; convert values with str()"
        )


def trace_id(headers: dict[str, str]) -> str | None:
    """The trace id in a job's headers: a W3C ``traceparent``'s, else a ``trace_id`` entry."""
    parent = headers.get("traceparent")
    if parent is not None:
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            return parts[1]
    return headers.get("trace_id")
