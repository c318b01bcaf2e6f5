"""The context a handler receives as its first argument."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pydantic_core

from conveyor._once import OnceConflictError, once_key
from conveyor.errors import ConveyorError, UsageError
from conveyor.middleware import trace_id

if TYPE_CHECKING:
    from conveyor.store.protocol import AsyncStore, Store

log = logging.getLogger("conveyor.worker")


@dataclass(eq=False)
class JobContext:
    """What a running job knows about itself.

    ``ctx.progress(0.5, "half way")`` records progress; it never blocks on the database (the
    worker's progress reporter writes the latest value every half second).
    """

    job_id: int
    name: str
    queue: str
    attempt: int
    max_attempts: int
    deadline: float | None
    """Epoch seconds after which the attempt is stopped, or None without a timeout."""
    worker_id: str
    created_at: float = 0.0
    """When the job was enqueued (epoch seconds); the same for every attempt."""
    schedule: str | None = None
    """The schedule that enqueued this job, or None."""
    slot: float | None = None
    """For a scheduled job: the slot it runs for (epoch seconds), e.g. the 03:00 it stands for
    even when it starts later; the same for every attempt."""
    tenant: str | None = None
    """Whose work this is (``enqueue(tenant=...)``), or None."""
    headers: dict[str, str] = field(default_factory=dict)
    """What middleware stored with the job at enqueue (a request id, trace context)."""
    _progress: tuple[float, str | None] | None = field(default=None, repr=False)
    _progress_dirty: bool = field(default=False, repr=False)
    _open_transaction: Callable[[], Any] | None = field(default=None, repr=False)
    _open_transaction_async: Callable[[], Awaitable[Any]] | None = field(default=None, repr=False)
    _transaction: Any = field(default=None, repr=False)
    _logger: logging.LoggerAdapter[logging.Logger] | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _async_store: AsyncStore | None = field(default=None, repr=False)
    _token: int = field(default=0, repr=False)
    """The attempt's fencing token (writes made for this attempt, e.g. steps, carry it)."""
    _settled: bool = field(default=False, repr=False)
    """Set when the handler already completed its job in the store (a fan-out's expander):
    the worker then writes no completion of its own."""
    _steps: dict[str, str] | None = field(default=None, repr=False)
    _max_output_bytes: int = field(default=1024 * 1024, repr=False)
    _output_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _units: dict[str, float] = field(default_factory=dict, repr=False)
    """What ``ctx.usage`` reported in this attempt, summed per unit."""
    _usage_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cpu: float | None = field(default=None, repr=False)
    """The handler thread's CPU seconds (sync handlers; set by the worker)."""

    @property
    def idempotency_key(self) -> str:
        """A key that is the same for every attempt of this job, and differs between jobs.

        Pass it to an external service that deduplicates requests, e.g. a payment
        provider's ``Idempotency-Key`` header, so a redelivered attempt repeats the request
        without repeating its effect. Built from the job's name, id and enqueue time (the
        time guards against ids reused after a database is recreated); a replayed job keeps
        its key. Providers forget keys after a while (Stripe: 24 hours).
        """
        return f"conveyor-{self.name}-{self.job_id}-{int(self.created_at * 1000)}"

    @contextmanager
    def once(self, *parts: str | int) -> Iterator[bool]:
        """Guard an effect so a redelivered attempt skips it: ``with ctx.once("charge", id)``.

        Yields ``first``: True when no committed record of the key built from ``parts``
        exists, so the block should perform the effect (``if first: ...``). When the block
        ends without an exception the key is recorded; when it raises, nothing is.

        Inside a handler that uses ``ctx.transaction`` (open when the block ends) the record
        is written in that transaction and commits with the handler's writes and the job's
        completion, so an effect written through the same transaction happens exactly once.
        If another transaction committed the key meanwhile, :class:`OnceConflictError` is
        raised: the whole transaction rolls back and the job is retried at once.

        Without a transaction the key is checked before the block and recorded in its own
        commit after it: a crash between the effect and the record repeats the effect.
        Keys are global (shared by every job); raises :class:`ArgumentError` for a part that
        is not ``str`` or ``int``. For sync handlers; async handlers use :meth:`once_async`.
        """
        key = once_key(parts)
        if self._store is None:
            raise ConveyorError(
                "ctx.once() is for sync handlers run by a worker; in an async handler use "
                "`async with ctx.once_async(...) as first:`"
            )
        tx = self._transaction
        first = not (tx.once_seen(key) if tx is not None else self._store.once_seen(key))
        yield first  # an exception from the block propagates from here: nothing is recorded
        if not first:
            return
        # The transaction open now, even if the block opened it: recording through another
        # connection would wait on that transaction's lock on SQLite.
        tx = self._transaction
        if tx is not None:
            if not tx.record_once(key, self.job_id):
                raise OnceConflictError(key)
        elif not self._store.record_once(key, self.job_id):
            self._raced(key)

    @asynccontextmanager
    async def once_async(self, *parts: str | int) -> AsyncIterator[bool]:
        """The async twin of :meth:`once`: ``async with ctx.once_async("charge", id) as first``.

        Uses the transaction of ``await ctx.transaction_async()`` when one is open.
        """
        key = once_key(parts)
        if self._async_store is None:
            raise ConveyorError(
                "ctx.once_async() is for async handlers run by a worker; in a sync handler use "
                "`with ctx.once(...) as first:`"
            )
        tx = self._transaction
        seen = await tx.once_seen(key) if tx is not None else await self._async_store.once_seen(key)
        first = not seen
        yield first
        if not first:
            return
        tx = self._transaction
        if tx is not None:
            if not await tx.record_once(key, self.job_id):
                raise OnceConflictError(key)
        elif not await self._async_store.record_once(key, self.job_id):
            self._raced(key)

    def _raced(self, key: str) -> None:
        # Without a transaction there is nothing to roll back: the effect already ran twice.
        log.warning(
            "job %s: ctx.once() key %r was recorded by another attempt while this one ran its "
            "block, so the effect ran twice; use ctx.once() inside ctx.transaction to prevent it",
            self.job_id,
            key,
        )

    @property
    def transaction(self) -> Any:
        """A database connection in a transaction that also marks this job succeeded.

        For sync handlers. Write the job's effects through it (a ``psycopg.Connection`` on
        PostgreSQL, a ``sqlite3.Connection`` on SQLite); when the handler returns, the job's
        completion is written in the same transaction and both commit together. If the handler
        raises, or the attempt lost its job meanwhile, everything is rolled back. Do not commit
        it yourself. On SQLite the transaction holds the database's single write lock until
        the handler returns, so keep such jobs short.
        """
        if self._transaction is None:
            if self._open_transaction is None:
                raise ConveyorError(
                    "ctx.transaction is for sync handlers; in an async handler use "
                    "`conn = await ctx.transaction_async()`"
                )
            self._transaction = self._open_transaction()
        return self._transaction.connection

    async def transaction_async(self) -> Any:
        """The async twin of :attr:`transaction` (a ``psycopg.AsyncConnection`` on PostgreSQL;
        on SQLite a ``sqlite3.Connection``, whose calls block the event loop)."""
        if self._transaction is None:
            if self._open_transaction_async is None:
                raise ConveyorError(
                    "ctx.transaction_async() is for async handlers; in a sync handler use "
                    "`ctx.transaction`"
                )
            self._transaction = await self._open_transaction_async()
        return self._transaction.connection

    def take_transaction(self) -> Any:
        """The transaction the handler opened, if any, handed over to the worker to finish."""
        tx, self._transaction = self._transaction, None
        return tx

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` once for this job and keep its result: a checkpoint.

        The first attempt that reaches ``ctx.step("download", fetch, url)`` calls ``fetch``
        and stores its result (JSON); a retry of the same job gets the stored value back
        without calling ``fn`` again, so the work before a failure is not redone. The value
        returned is always the stored JSON form (a pydantic model comes back as a dict, a
        tuple as a list), on the first attempt as on a retry, so the code after the step
        behaves the same. Names are per job and must be unique within it. A resumed pipeline
        stage is a new job and runs its steps afresh. For sync handlers; async handlers use
        :meth:`astep`. Raises :class:`ConveyorError` for a name that is not a non-empty
        string or a result JSON cannot hold.
        """
        if self._store is None:
            raise ConveyorError(
                "ctx.step() is for sync handlers run by a worker; in an async handler use "
                "`await ctx.astep(...)`"
            )
        steps = self._steps if self._steps is not None else self._store.load_steps(self.job_id)
        self._steps = steps
        key = step_name(name)
        if key in steps:
            return json.loads(steps[key])
        text = step_json(key, fn(*args, **kwargs))
        if self._store.save_step(self.job_id, self._token, key, text):
            steps[key] = text
        return json.loads(text)

    async def astep(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The async twin of :meth:`step`; ``fn`` may be ``async def`` (it is awaited) or
        plain (it is called on the loop, so keep it quick)."""
        if self._async_store is None:
            raise ConveyorError(
                "ctx.astep() is for async handlers run by a worker; in a sync handler use "
                "`ctx.step(...)`"
            )
        if self._steps is None:
            self._steps = await self._async_store.load_steps(self.job_id)
        steps, key = self._steps, step_name(name)
        if key in steps:
            return json.loads(steps[key])
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        text = step_json(key, value)
        if await self._async_store.save_step(self.job_id, self._token, key, text):
            steps[key] = text
        return json.loads(text)

    def emit(self, chunk: Any) -> None:
        """Append ``chunk`` to this job's output stream, readable while the job runs
        (``handle.stream()``, the job's event stream and page, ``conveyor jobs output``) and
        kept after it ends.

        A ``str`` is a text chunk; anything else is stored as JSON (a pydantic model as its
        dict). A job's chunks, across its attempts, may total the app's ``max_output_bytes``
        (1 MiB by default): past it :class:`~conveyor.errors.OutputLimitError` is raised and
        the chunk is not stored. Each call is one small write, so emit meaningful pieces (a
        line, a paragraph, a batch of tokens), not single characters. For sync handlers;
        async handlers use :meth:`aemit`.
        """
        if self._store is None:
            raise ConveyorError(
                "ctx.emit() is for sync handlers run by a worker; in an async handler use "
                "`await ctx.aemit(...)`"
            )
        self._append_output(self._store, chunk)

    async def aemit(self, chunk: Any) -> None:
        """The async twin of :meth:`emit` (the write runs on a thread, off the event loop)."""
        if self._async_store is None:
            raise ConveyorError(
                "ctx.aemit() is for async handlers run by a worker; in a sync handler use "
                "`ctx.emit(...)`"
            )
        await asyncio.to_thread(self._append_output, self._async_store.sync, chunk)

    def _append_output(self, store: Store, chunk: Any) -> None:
        try:
            text = pydantic_core.to_json(chunk).decode()
        except pydantic_core.PydanticSerializationError as exc:
            raise ConveyorError(
                f"ctx.emit() takes text or a value JSON can hold; got {type(chunk).__name__} "
                f"({exc})"
            ) from exc
        # One attempt writes its chunks one at a time, so their order is the order of calls.
        with self._output_lock:
            seq = store.append_output(
                self.job_id, self._token, self.attempt, text, self._max_output_bytes
            )
        if seq is None:
            log.debug("job %s no longer runs under this attempt; its output was dropped",
                      self.job_id)

    def usage(self, **units: float) -> None:
        """Report what this attempt consumed, in units of your own: ``ctx.usage(tokens=812,
        cost=0.0042)``. Calls add up: each unit is summed over the attempt and recorded with
        its wall time, CPU and memory when it ends (``conveyor usage``, the dashboard's usage
        page, :class:`~conveyor.monitor.rules.Budget` alerts).

        Unit names are Python identifiers; values are finite numbers (negative ones correct an
        earlier report). Anything else raises :class:`~conveyor.errors.UsageError` and
        records nothing of the call. Works the same in sync and async handlers (it writes
        nothing itself: the worker writes the attempt's usage in batches).
        """
        checked: dict[str, float] = {}
        for unit, value in units.items():
            if not unit.isidentifier():
                raise UsageError(
                    f"ctx.usage(): unit names are identifiers like tokens or cost, got {unit!r}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(
                    f"ctx.usage(): {unit} must be a number, got {type(value).__name__} "
                    f"{value!r}"
                )
            number = float(value)
            if not math.isfinite(number):
                raise UsageError(f"ctx.usage(): {unit} must be a finite number, got {value!r}")
            checked[unit] = number
        with self._usage_lock:
            for unit, number in checked.items():
                self._units[unit] = self._units.get(unit, 0.0) + number

    def take_units(self) -> dict[str, float]:
        """The units reported so far in this attempt (a copy)."""
        if not self._units:
            return {}  # the common case, without the lock (an empty dict is never shared)
        with self._usage_lock:
            return dict(self._units)

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry this job's fields (made on first use).

        Each record has ``job_id``, ``job_name``, ``queue``, ``attempt``, ``max_attempts``,
        ``worker_id``, ``tenant`` and ``trace_id`` attributes, which the worker's JSON log
        format writes as fields (see docs/observability.md).
        """
        if self._logger is None:
            self._logger = _JobLogger(
                logging.getLogger(f"conveyor.job.{self.name}"), self.log_fields()
            )
        return self._logger

    @property
    def trace_id(self) -> str | None:
        """The trace id stored with the job at enqueue (``traceparent`` or ``trace_id``
        header), or None."""
        return trace_id(self.headers)

    def log_fields(self) -> dict[str, Any]:
        """The job's fields as log record attributes (what ``ctx.logger`` attaches)."""
        return {
            "job_id": self.job_id,
            "job_name": self.name,
            "queue": self.queue,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "worker_id": self.worker_id,
            "tenant": self.tenant,
            "trace_id": self.trace_id,
        }

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure now would send the job to ``dead``."""
        return self.attempt >= self.max_attempts

    def time_left(self) -> float | None:
        """Seconds until the deadline (never negative), or None without a timeout."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.time())

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress as a fraction from 0 to 1, with an optional message."""
        if not isinstance(fraction, int | float) or not 0.0 <= float(fraction) <= 1.0:
            raise ConveyorError(
                f"ctx.progress() takes a fraction between 0 and 1, got {fraction!r}"
            )
        self._progress = (float(fraction), None if message is None else str(message)[:500])
        self._progress_dirty = True

    def take_progress(self) -> tuple[float, str | None] | None:
        """The progress reported since the last call, if any (used by the worker)."""
        if not self._progress_dirty:
            return None
        self._progress_dirty = False
        return self._progress


MAX_STEP_NAME = 200
"""Longest ``ctx.step`` name, in characters."""


def step_name(name: object) -> str:
    """``name`` if it can name a step; :class:`ConveyorError` otherwise."""
    if not isinstance(name, str) or not name or len(name) > MAX_STEP_NAME:
        raise ConveyorError(
            f"ctx.step() takes a name (a non-empty string of at most {MAX_STEP_NAME} "
            f"characters) first, e.g. ctx.step('download', fetch, url); got {name!r:.60}"
        )
    return name


def step_json(name: str, value: Any) -> str:
    """A step's result as the JSON it is stored as; :class:`ConveyorError` if it cannot be."""
    try:
        return json.dumps(pydantic_core.to_jsonable_python(value), allow_nan=False)
    except (TypeError, ValueError, pydantic_core.PydanticSerializationError) as exc:
        raise ConveyorError(
            f"ctx.step({name!r}) returned a {type(value).__name__}, which cannot be stored as "
            f"JSON ({exc}); return plain data (numbers, strings, lists, dicts) or a model"
        ) from exc


class _JobLogger(logging.LoggerAdapter[logging.Logger]):
    """Attaches the job's fields to each record, keeping the call's own ``extra=`` too (the
    stock adapter replaces a call's extra with its own before Python 3.13)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        """The message as it is; the job's fields merged under the call's ``extra``."""
        own = kwargs.get("extra")
        kwargs["extra"] = {**(self.extra or {}), **own} if own else self.extra
        return msg, kwargs
