"""Running one claimed job: decode, build the context, invoke, decide, complete.

``async def`` handlers run on the event loop; plain ``def`` handlers run on a bounded set of
threads (:mod:`conveyor.worker.job_threads`), never on the loop. The executor is a pipeline of
small steps; each returns a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from conveyor._context import JobContext
from conveyor._jobs import JobDefinition, JobOptions
from conveyor._lifecycle import (
    Lost,
    Outcome,
    Raised,
    Released,
    Settled,
    Succeeded,
    TimedOut,
    Undecodable,
    decide,
)
from conveyor.app import Conveyor
from conveyor.errors import ArgumentError, ConveyorError, MiddlewareError, UnknownJobError
from conveyor.middleware import AttemptEnd, AttemptStart, AttemptStatus, Middleware
from conveyor.models import SEQUENCE
from conveyor.pipelines.graph import node_args
from conveyor.store.protocol import ClaimedJob, Completion, CompletionKind
from conveyor.worker.completer import Completer
from conveyor.worker.job_threads import JobThreads

log = logging.getLogger("conveyor.worker")

_STATUS = {
    CompletionKind.SUCCEEDED: AttemptStatus.SUCCEEDED,
    CompletionKind.RETRY: AttemptStatus.RETRYING,
    CompletionKind.DEAD: AttemptStatus.DEAD,
    CompletionKind.CANCELLED: AttemptStatus.CANCELLED,
    CompletionKind.RELEASED: AttemptStatus.RELEASED,
    CompletionKind.LOST: AttemptStatus.RETRYING,
    CompletionKind.SNOOZED: AttemptStatus.SNOOZED,
}


class StopReason(enum.Enum):
    """Why the worker stopped an attempt itself."""

    RELEASED = "released"  # shutdown: hand back, attempt not charged
    LOST = "lost"  # the lease is gone: write nothing, the rescuer or a cancel owns the job


@dataclass(eq=False)
class Running:
    """An attempt in flight in this process."""

    job: ClaimedJob
    ctx: JobContext | None = None
    task: asyncio.Task[None] | None = None
    in_thread: bool = False
    stop_reason: StopReason | None = None
    in_run: bool = False
    """The job belongs to a pipeline or workflow run: its completion advances the run."""
    started: float = field(default_factory=time.monotonic)
    meta: dict[str, Any] = field(default_factory=dict)
    ended: bool = False
    """The attempt's end was decided (its completion queued, or nothing to write)."""


class Executor:
    """Starts attempts as tasks and reports their outcomes to the completer."""

    def __init__(
        self,
        app: Conveyor,
        completer: Completer,
        worker_id: str,
        concurrency: int,
        on_finished: Callable[[Running], None],
        on_stuck_thread: Callable[[Running], None],
        builtins: Sequence[Middleware] = (),
    ) -> None:
        self.app = app
        self._store = app.async_store
        self.completer = completer
        self.worker_id = worker_id
        self.running: dict[int, Running] = {}
        self.threads = JobThreads(asyncio.get_running_loop(), concurrency, "conveyor-job")
        self._on_finished = on_finished
        self._on_stuck_thread = on_stuck_thread
        self.completed = 0
        self.middleware = app.middleware.with_first(*builtins)
        """The app's middleware behind the worker's own (``builtins``, e.g. the job log)."""

    def start(self, job: ClaimedJob) -> Running:
        """Begin an attempt in a new task."""
        run = Running(job)
        self.running[job.id] = run
        run.task = asyncio.get_running_loop().create_task(
            self._attempt(run), name=f"conveyor-job-{job.id}"
        )
        return run

    def has_threads(self) -> bool:
        """True while any running attempt is a sync handler on the thread pool."""
        return any(run.in_thread for run in self.running.values())

    def stop(self, job_id: int, reason: StopReason) -> None:
        """Stop an attempt (cancel its task); a thread keeps running but its result is ignored."""
        run = self.running.get(job_id)
        if run is None or run.task is None or run.task.done():
            return
        run.stop_reason = reason
        run.task.cancel()

    async def _attempt(self, run: Running) -> None:
        job = run.job
        run.ctx = self._context(run)
        start = AttemptStart(run.ctx, run_at=job.run_at, started_at=job.started_at)
        try:
            await self.middleware.attempt(start, partial(self._run, run), partial(self._fail, run))
        except asyncio.CancelledError:
            # Stopped inside a middleware, outside the handler: end the attempt as the
            # handler's own stop would have (unless the handler already ended it).
            if not run.ended:
                self._end(run, None if run.stop_reason is StopReason.LOST else Released(), 0.0)
        finally:
            self.running.pop(job.id, None)
        self._on_finished(run)

    async def _run(self, run: Running) -> AttemptEnd:
        """The attempt itself, innermost in the middleware chain."""
        began = time.monotonic()
        outcome: Outcome | Settled | Lost | None
        try:
            outcome = await self._outcome(run)
        except asyncio.CancelledError:
            outcome = None if run.stop_reason is StopReason.LOST else Released()
            if run.ctx is not None and not run.in_thread:
                await _rollback_async(run.ctx)
        return self._end(run, outcome, time.monotonic() - began)

    async def _fail(self, run: Running, error: MiddlewareError) -> AttemptEnd:
        """A middleware stopped the attempt before it ran: a failure with its error."""
        return self._end(run, Raised(error), 0.0)

    def _end(
        self, run: Running, outcome: Outcome | Settled | Lost | None, duration: float
    ) -> AttemptEnd:
        """Queue the attempt's completion (at once: middleware after it delays nothing)."""
        job = run.job
        run.ended = True
        if outcome is None:
            return AttemptEnd(AttemptStatus.LOST, duration)
        if isinstance(outcome, Lost):
            log.warning("job %s: %s; its lease decides what happens next", job.id, outcome.reason)
            return AttemptEnd(AttemptStatus.LOST, duration, error_message=outcome.reason)
        self.completed += 1
        if isinstance(outcome, Settled):
            return AttemptEnd(AttemptStatus.SUCCEEDED, duration)
        definition = self.app.jobs.get(job.name)
        options = definition.options if definition else JobOptions()
        # The backoff is drawn only for an attempt that may be retried.
        delay = 0.0 if isinstance(outcome, Succeeded) else options.backoff.delay(job.attempt)
        completion = _in_run(decide(job, options, outcome, delay), run.in_run, job)
        self.completer.add(completion)
        error = completion.error
        return AttemptEnd(
            _STATUS[completion.kind],
            duration,
            error_type=None if error is None else error.type,
            error_message=None if error is None else error.message,
            timed_out=isinstance(outcome, TimedOut),
            retry_at=(
                time.time() + completion.retry_delay
                if completion.kind in (CompletionKind.RETRY, CompletionKind.SNOOZED) else None
            ),
        )

    def _context(self, run: Running) -> JobContext:
        """The handler's context, built before the middleware chain so middleware sees it."""
        job = run.job
        meta: dict[str, Any] = json.loads(job.meta_json) if job.meta_json != "{}" else {}
        run.meta = meta
        definition = self.app.jobs.get(job.name)
        timeout = job.timeout
        if timeout is None and definition is not None:
            timeout = definition.options.timeout
        ctx = JobContext(
            job_id=job.id,
            name=job.name,
            queue=job.queue,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            deadline=None if timeout is None else time.time() + timeout,
            worker_id=self.worker_id,
            created_at=job.created_at,
            tenant=job.tenant,
            _token=job.token,
            _max_output_bytes=self.app.max_output_bytes,
        )
        if meta:
            ctx.schedule, ctx.slot = meta.get("schedule"), meta.get("slot")
            headers = meta.get("headers")
            if isinstance(headers, dict):
                ctx.headers = headers
        return ctx

    async def _outcome(self, run: Running) -> Outcome | Settled | Lost:
        job = run.job
        own = node_args(run.meta)  # a workflow node's arguments live in its meta
        run.in_run = own is not None
        try:
            definition = self.app.get(job.name)
            run.in_run = run.in_run or definition.in_run
            kwargs = definition.args.decode(job.args_json if own is None else json.dumps(own))
        except (ArgumentError, UnknownJobError) as exc:
            log.error("job %s (%s) cannot be decoded: %s", job.id, job.name, exc)
            return Undecodable(exc)
        timeout = job.timeout if job.timeout is not None else definition.options.timeout
        assert run.ctx is not None
        if definition.is_async:
            run.ctx._open_transaction_async = self._store.begin
            run.ctx._async_store = self._store
            outcome = await self._run_async(definition, run.ctx, kwargs, timeout)
            return await self._settle_async(job, definition, run.ctx, outcome, run.in_run)
        run.ctx._open_transaction = self._store.sync.begin
        run.ctx._store = self._store.sync
        run.in_thread = True
        return await self._run_sync(run, definition, run.ctx, kwargs, timeout)

    async def _run_async(
        self,
        definition: JobDefinition[Any, Any],
        ctx: JobContext,
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Outcome:
        if timeout is None:
            try:
                return Succeeded(await definition.fn(ctx, **kwargs))
            except Exception as exc:
                return Raised(exc)
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                result = await definition.fn(ctx, **kwargs)
        except TimeoutError as exc:
            # Our deadline, or a TimeoutError the handler raised itself?
            return TimedOut(timeout or 0.0) if scope.expired() else Raised(exc)
        except Exception as exc:
            return Raised(exc)
        return Succeeded(result)

    async def _run_sync(
        self,
        run: Running,
        definition: JobDefinition[Any, Any],
        ctx: JobContext,
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Outcome | Settled | Lost:
        def call() -> Outcome | Settled | Lost:
            # The handler's transaction is finished on the thread that used it; this thread's
            # CPU clock is the attempt's CPU, whatever else the process runs meanwhile.
            began = time.thread_time()
            try:
                outcome = _call_sync(definition.fn, ctx, kwargs)
                return _settle_sync(run.job, definition, ctx, outcome, run.in_run)
            finally:
                ctx._cpu = time.thread_time() - began

        # In a copy of this task's context: what middleware set around the attempt (a trace
        # span, say) is current in the handler's thread too, as it is for async handlers.
        future = self.threads.submit(call)
        if timeout is None:
            return await future
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await future
        except TimeoutError:
            if not scope.expired():
                raise
            # A thread cannot be stopped from outside: the process must be replaced.
            self._on_stuck_thread(run)
            return TimedOut(timeout)

    async def _settle_async(
        self, job: ClaimedJob, definition: JobDefinition[Any, Any], ctx: JobContext,
        outcome: Outcome, in_run: bool,
    ) -> Outcome | Settled | Lost:
        tx = ctx.take_transaction()
        if ctx._settled:
            return Settled()
        if tx is None:
            return outcome
        completion = _transactional_completion(job, definition, outcome, in_run)
        if completion is None:
            await tx.rollback()
            return outcome
        try:
            if not await tx.complete(completion):
                await tx.rollback()
                return Lost("the attempt lost its job; its writes were rolled back")
            await tx.commit()
        except ConveyorError as exc:
            with contextlib.suppress(Exception):
                await tx.rollback()
            return Lost(f"its transaction could not be committed ({exc})")
        return Settled()

    def shutdown(self) -> None:
        """Take no more sync calls (running threads are not waited for)."""
        self.threads.shutdown()


def _call_sync(fn: Callable[..., Any], ctx: JobContext, kwargs: dict[str, Any]) -> Outcome:
    try:
        return Succeeded(fn(ctx, **kwargs))
    except Exception as exc:
        return Raised(exc)


def _transactional_completion(
    job: ClaimedJob, definition: JobDefinition[Any, Any], outcome: Outcome, in_run: bool
) -> Completion | None:
    """The success to commit with the handler's writes, or None to roll them back."""
    if not isinstance(outcome, Succeeded):
        return None
    completion = _in_run(decide(job, definition.options, outcome, 0.0), in_run, job)
    return completion if completion.kind is CompletionKind.SUCCEEDED else None


def _in_run(completion: Completion, in_run: bool, job: ClaimedJob) -> Completion:
    """Mark the completion of a job that belongs to a run (a pipeline stage's, a workflow
    node's) or to a sequence, so the store advances the run, or releases the next job of the
    key, in the transaction that applies it."""
    in_sequence = _in_sequence(job)
    if not in_run and not in_sequence:
        return completion
    return completion.marked(in_run=in_run, in_sequence=in_sequence)


def _in_sequence(job: ClaimedJob) -> bool:
    """True for a job of a sequence (its meta carries the key; plain jobs have ``{}``)."""
    if job.meta_json == "{}" or SEQUENCE not in job.meta_json:
        return False
    meta = json.loads(job.meta_json)
    return isinstance(meta, dict) and isinstance(meta.get(SEQUENCE), str)


def _settle_sync(
    job: ClaimedJob, definition: JobDefinition[Any, Any], ctx: JobContext, outcome: Outcome,
    in_run: bool,
) -> Outcome | Settled | Lost:
    """Finish a transaction the sync handler opened through ``ctx.transaction``."""
    tx = ctx.take_transaction()
    if ctx._settled:
        return Settled()
    if tx is None:
        return outcome
    completion = _transactional_completion(job, definition, outcome, in_run)
    if completion is None:
        tx.rollback()
        return outcome
    try:
        if not tx.complete(completion):
            tx.rollback()
            return Lost("the attempt lost its job; its writes were rolled back")
        tx.commit()
    except ConveyorError as exc:
        with contextlib.suppress(Exception):
            tx.rollback()
        return Lost(f"its transaction could not be committed ({exc})")
    return Settled()


async def _rollback_async(ctx: JobContext) -> None:
    tx = ctx.take_transaction()
    if tx is not None:
        with contextlib.suppress(Exception):
            await tx.rollback()
