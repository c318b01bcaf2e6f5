"""The SQLite store: the embedded default, safe for many processes on one machine.

The database is a local file, so "the database's clock" is this machine's clock: every
process that shares the file shares it too.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from conveyor.errors import (
    ConfigurationError,
    MigrationError,
    StoreError,
)
from conveyor.models import (
    Attempt,
    Job,
    QueueControl,
    QueueStats,
    WorkerInfo,
)
from conveyor.store import claim_passes, limits
from conveyor.store.contract.defaults import DerivedVerbs
from conveyor.store.plan import Plan
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    ClaimRound,
    Completion,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    JobFilter,
    LimitStatus,
    NewJob,
    Replay,
    Retention,
)
from conveyor.store.sqlite import job_plans, plans, run_verbs
from conveyor.store.sqlite.connection import LATEST_VERSION, Database
from conveyor.store.sqlite.driver import drive
from conveyor.store.sqlite.outbox_verbs import SQLiteOutboxVerbs
from conveyor.store.sqlite.transaction import SQLiteTransaction
from conveyor.store.sqlite.watch_monitor import SQLiteMonitorVerbs
from conveyor.store.sqlite.watch_schedules import SQLiteScheduleVerbs
from conveyor.store.sqlite.web_verbs import SQLiteWebVerbs
from conveyor.store.unheld import validate_held
from conveyor.store.unique import has_unique

T = TypeVar("T")


class SQLiteStore(
    DerivedVerbs,
    SQLiteScheduleVerbs,
    SQLiteMonitorVerbs,
    SQLiteWebVerbs,
    SQLiteOutboxVerbs,
    run_verbs.SQLiteRunVerbs,
):
    """A :class:`~conveyor.store.protocol.Store` on a SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        migrate: bool = True,
        busy_timeout: float | None = None,
    ):
        """Open (and by default migrate) the database file ``path``.

        ``busy_timeout`` is how long a write waits for the write lock, in seconds (default
        ``$CONVEYOR_SQLITE_BUSY_TIMEOUT``, else 15).
        """
        self.path = Path(path)
        self.db = Database(self.path, synchronous=synchronous, timeout=busy_timeout)
        self.pass_hint = limits.PassHint()
        self._checked = False
        if migrate:
            self.migrate()

    # -- schema and clock -------------------------------------------------------------------

    def migrate(self) -> int:
        """Create or upgrade the schema; return its version."""
        version = self.db.migrate()
        self._checked = True
        return version

    def check_schema(self) -> None:
        """Raise :class:`MigrationError` unless the schema is current."""
        if self._checked:
            return
        version = self.db.schema_version()
        if version != LATEST_VERSION:
            raise MigrationError(
                f"the database {str(self.path)!r} has schema version {version}, this Conveyor "
                f"needs {LATEST_VERSION}; run `conveyor migrate`"
            )
        self._checked = True

    def now(self) -> float:
        """This machine's clock (the database is a local file)."""
        return time.time()

    def data_version(self) -> int:
        """Changes whenever another connection commits; used for cheap wake-ups."""
        return self.db.data_version()

    # -- producing ----------------------------------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob], *, now: float | None = None) -> list[InsertedJob]:
        """Insert all jobs in one transaction (:func:`.job_plans.insert_jobs`)."""
        if not jobs:
            return []
        # A producer's insert does not take the handoff lock (see Database.write).
        with self.db.write(handoff=False) as conn:
            return drive(conn, job_plans.insert_jobs(self.now() if now is None else now, jobs))

    def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert on the caller's ``sqlite3.Connection`` to the same file, in its transaction.

        Unique jobs need the write lock before their holders are read, so that the check sees
        every committed holder and keeps other producers out until the caller commits. In
        autocommit mode there is no caller's transaction to join, so they get an immediate one
        of their own.
        """
        if not isinstance(connection, sqlite3.Connection):
            raise ConfigurationError(
                f"enqueue(connection=...) on the SQLite store takes a sqlite3.Connection to "
                f"{str(self.path)!r}, got {type(connection).__name__}"
            )
        row = connection.execute("PRAGMA database_list").fetchone()
        if row is None or Path(row[2]).resolve() != self.path.resolve():
            raise ConfigurationError(
                f"enqueue(connection=...): that connection is to {row[2] if row else '?'!r}, "
                f"not to Conveyor's database {str(self.path)!r}"
            )
        if not jobs:
            return []
        try:
            own_transaction = connection.isolation_level is None and not connection.in_transaction
            if not (own_transaction and has_unique(jobs)):
                plan = job_plans.insert_jobs(self.now(), jobs, take_lock=True)
                return drive(connection, plan)
            connection.execute("BEGIN IMMEDIATE")
            try:
                inserted = drive(connection, job_plans.insert_jobs(self.now(), jobs))
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return inserted
        except sqlite3.Error as exc:
            raise StoreError(f"the SQLite database refused the enqueue ({exc})") from exc

    # -- working ------------------------------------------------------------------------------

    def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """See :meth:`Store.claim_jobs`: the passes of :func:`conveyor.store.claim_passes.claim`,
        each in a write transaction of its own."""
        return claim_passes.run(
            claim_passes.claim(params, self.pass_hint), self._limited_pass, self._plain_pass
        )

    def _limited_pass(self, step: claim_passes.LimitedPass) -> list[ClaimedJob]:
        params = step.params
        if not job_plans.wants_jobs(params):
            return []
        if step.look_first and not self._read(job_plans.limited_waiting, params, now=params.now):
            return []
        return self._write(job_plans.claim_limited_jobs, params, now=params.now)

    def _plain_pass(self, step: claim_passes.PlainPass) -> list[ClaimedJob]:
        if not job_plans.wants_jobs(step.params):
            return []  # without taking the write lock
        return self._write(job_plans.claim_plain_jobs, step.params, now=step.params.now)

    def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """Apply outcomes for attempts still holding their job; refuse the rest."""
        if not completions:
            return []
        return self._write(run_verbs.completing, completions, now=now)

    def complete_and_claim(
        self, completions: Sequence[Completion], params: ClaimParams
    ) -> ClaimRound:
        """See :meth:`Store.complete_and_claim`: one immediate transaction for both."""
        if not completions:
            return ClaimRound([], self.claim_jobs(params))
        completed, claimed = self._write(
            run_verbs.completing_and_claiming, completions, params, self.pass_hint, now=params.now
        )
        return ClaimRound(completed, claimed)

    def begin(self) -> SQLiteTransaction:
        """A write transaction on a connection of its own, for ``ctx.transaction``.

        It holds SQLite's single write lock until it ends, so keep such jobs short.
        """
        return SQLiteTransaction(self)

    def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """Renew leases held under the given tokens and mark the worker seen."""
        return self._write(job_plans.heartbeat, params, now=params.now)

    def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None,
        *, now: float | None = None,
    ) -> bool:
        """See :meth:`Store.set_progress`."""
        return self._write(plans.set_progress, job_id, token, fraction, message, now=now)

    def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.rescue_expired` (:func:`conveyor._lifecycle.lost_attempt` decides)."""
        return self._write(run_verbs.rescuing, limit, now=now)

    def cancel_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_expired`."""
        return self._write(run_verbs.expiring, limit, now=now)

    def release_unheld(
        self, worker_id: str, held: Sequence[tuple[int, int]], *, now: float | None = None
    ) -> list[int]:
        """See :meth:`Store.release_unheld`."""
        validate_held(worker_id, held)
        return self._write(job_plans.release_unheld_jobs, worker_id, held, now=now)

    def expire_worker(self, worker_id: str, *, now: float | None = None) -> int:
        """See :meth:`Store.expire_worker`."""
        return self._write(plans.expire_worker, worker_id, now=now)

    def put_worker(
        self, worker_id: str, info: WorkerInfo | None, *, now: float | None = None
    ) -> None:
        """See :meth:`Store.put_worker`."""
        self._write(plans.put_worker, worker_id, info, now=now)

    def live_workers(self, stale_after: float, *, now: float | None = None) -> list[WorkerInfo]:
        """See :meth:`Store.live_workers`."""
        return self._read(plans.live_workers, stale_after, now=now)

    # -- inspecting ---------------------------------------------------------------------------

    def list_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[Job]:
        """See :meth:`Store.list_jobs`."""
        return self._read(plans.list_jobs, flt, now=now)

    def count_jobs(self, flt: JobFilter, *, now: float | None = None) -> int:
        """See :meth:`Store.count_jobs`."""
        return self._read(plans.count_jobs, flt, now=now)

    def list_attempts(self, job_id: int) -> list[Attempt]:
        """See :meth:`Store.list_attempts`."""
        return self._read(plans.list_attempts, job_id)

    def queue_stats(self, *, now: float | None = None) -> list[QueueStats]:
        """See :meth:`Store.queue_stats`."""
        return self._read(plans.queue_stats, now=now)

    def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], *, now: float | None = None
    ) -> float | None:
        """See :meth:`Store.next_due_in`."""
        return self._read(plans.next_due_in, queues, names, now=now)

    # -- queue controls, holds and limits -----------------------------------------------------

    def set_queue_paused(
        self, name: str, paused: bool, by: str | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`Store.set_queue_paused`."""
        return self._write(plans.set_queue_paused, name, paused, by, now=now)

    def queue_controls(self) -> list[QueueControl]:
        """See :meth:`Store.queue_controls`."""
        return self._read(plans.queue_controls)

    def queue_depth(self, queue: str, cap: int) -> int:
        """See :meth:`Store.queue_depth`."""
        return self._read(plans.queue_depth, queue, cap)

    def held_unique_keys(self, keys: Sequence[str], *, now: float | None = None) -> frozenset[str]:
        """See :meth:`Store.held_unique_keys`."""
        if not keys:
            return frozenset()
        return self._read(plans.held_unique_keys, keys, now=now)

    def limit_status(self, job_id: int, *, now: float | None = None) -> LimitStatus | None:
        """See :meth:`Store.limit_status`."""
        return self._read(plans.limit_status, job_id, now=now)

    def count_ahead(self, job_id: int, cap: int, *, now: float | None = None) -> int:
        """See :meth:`Store.count_ahead`."""
        return self._read(plans.count_ahead, job_id, cap, now=now)

    # -- acting -------------------------------------------------------------------------------

    def retry_jobs(
        self, flt: JobFilter, *, replay: Replay | None = None, now: float | None = None
    ) -> list[int]:
        """See :meth:`Store.retry_jobs`."""
        if replay is not None:
            return self._replay_dead(flt, replay, now)
        return self._write(plans.retry_jobs, flt, now=now)

    def cancel_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_jobs`."""
        return self._write(run_verbs.cancelling, flt, now=now)

    def discard_jobs(self, flt: JobFilter) -> int:
        """See :meth:`Store.discard_jobs`."""
        return self._write(plans.discard_jobs, flt)

    def prune(self, retention: Retention, limit: int = 10_000, *, now: float | None = None) -> int:
        """See :meth:`Store.prune`: four write transactions (jobs, the monitor's records,
        deliveries, finished runs), so none holds the lock long."""
        jobs = self._write(plans.prune, retention, limit, now=now)
        jobs += self.prune_watch(retention, limit, now) + self.prune_deliveries(limit)
        return jobs + self._write(run_verbs.prune_runs, retention, limit, now=now)

    # -- ctx.once() records -------------------------------------------------------------------

    def once_seen(self, key: str) -> bool:
        """See :meth:`Store.once_seen`."""
        return self._read(plans.once_seen, key)

    def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`Store.record_once`."""
        return self._write(plans.record_once, key, job_id)

    # -- running plans ------------------------------------------------------------------------

    def _write(self, plan: Callable[..., Plan[T]], *args: Any, now: float | None = None) -> T:
        """Run ``plan(now, *args)`` in a write transaction; the store's clock, when the caller
        gives none, is read under the write lock."""
        with self.db.write() as conn:
            return drive(conn, plan(self.now() if now is None else now, *args))

    def _read(self, plan: Callable[..., Plan[T]], *args: Any, now: float | None = None) -> T:
        """Run ``plan(now, *args)`` in one consistent read (the store's clock by default)."""
        with self.db.read() as conn:
            return drive(conn, plan(self.now() if now is None else now, *args))

    def close(self) -> None:
        """Close the connection."""
        self.db.close()
