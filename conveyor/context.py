"""The context a handler receives as its first argument."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import ConveyorError


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
    _progress: tuple[float, str | None] | None = field(default=None, repr=False)
    _progress_dirty: bool = field(default=False, repr=False)
    _open_transaction: Callable[[], Any] | None = field(default=None, repr=False)
    _open_transaction_async: Callable[[], Awaitable[Any]] | None = field(default=None, repr=False)
    _transaction: Any = field(default=None, repr=False)
    _logger: logging.LoggerAdapter[logging.Logger] | None = field(default=None, repr=False)

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

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry this job's id, name and attempt (made on first use)."""
        if self._logger is None:
            self._logger = job_logger(self.name, self.job_id, self.attempt)
        return self._logger

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


def job_logger(name: str, job_id: int, attempt: int) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records carry the job's id, name and attempt."""
    extra: dict[str, Any] = {"job_id": job_id, "job_name": name, "attempt": attempt}
    return logging.LoggerAdapter(logging.getLogger(f"conveyor.job.{name}"), extra)
