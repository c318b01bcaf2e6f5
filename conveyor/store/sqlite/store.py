"""The SQLite store: the embedded default, safe for many processes on one machine.

The database is a local file, so "the database's clock" is this machine's clock: every
process that shares the file shares it too.
"""

from __future__ import annotations

import json
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
    JobState,
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
from conveyor.store.sqlite import plans
from conveyor.store.sqlite.claims import SQLiteClaimVerbs
from conveyor.store.sqlite.connection import LATEST_VERSION, Database, query
from conveyor.store.sqlite.driver import drive
from conveyor.store.sqlite.outbox_verbs import SQLiteOutboxVerbs
from conveyor.store.sqlite.run_verbs import (
    SQLiteRunVerbs,
    advance_completed,
    cancelling,
    pruning,
    rescuing,
)
from conveyor.store.sqlite.transaction import SQLiteTransaction
from conveyor.store.sqlite.watch_monitor import SQLiteMonitorVerbs
from conveyor.store.sqlite.watch_schedules import SQLiteScheduleVerbs
from conveyor.store.sqlite.web_verbs import SQLiteWebVerbs
from conveyor.store.unique import UniqueBatch, has_unique, holders_from_rows, unique_keys

T = TypeVar("T")


class SQLiteStore(
    DerivedVerbs,
    SQLiteClaimVerbs,
    SQLiteScheduleVerbs,
    SQLiteMonitorVerbs,
    SQLiteWebVerbs,
    SQLiteOutboxVerbs,
    SQLiteRunVerbs,
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
        """Insert all jobs in one transaction."""
        if not jobs:
            return []
        with self.db.write(handoff=False) as conn:
            return self._insert(conn, jobs, now)

    def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert on the caller's ``sqlite3.Connection`` to the same file, in its transaction."""
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
        try:
            if jobs and has_unique(jobs):
                return self._insert_unique_in(connection, jobs)
            return self._insert(connection, jobs) if jobs else []
        except sqlite3.Error as exc:
            raise StoreError(f"the SQLite database refused the enqueue ({exc})") from exc

    def _insert_unique_in(
        self, conn: sqlite3.Connection, jobs: Sequence[NewJob]
    ) -> list[InsertedJob]:
        """Unique jobs on the caller's connection: check and insert under the write lock.

        The check must see every committed holder and keep other producers out until the
        caller commits, so the write lock is taken before the check. In autocommit mode there
        is no caller's transaction to join, so the insert gets an immediate one of its own.
        """
        if conn.isolation_level is None and not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
            try:
                inserted = self._insert(conn, jobs)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return inserted
        # A write that changes nothing takes the write lock (Python's sqlite3 opens the
        # transaction first). If the caller's transaction already read an older snapshot,
        # SQLite refuses the upgrade ("database is locked") rather than let a holder be missed.
        conn.execute(query("take_write_lock"))
        return self._insert(conn, jobs)

    def _insert(
        self, conn: sqlite3.Connection, jobs: Sequence[NewJob], at: float | None = None
    ) -> list[InsertedJob]:
        """Insert inside the write transaction open on ``conn``; unique keys are checked here.

        Without unique keys this is one statement. With them, the holders of the batch's keys
        are read first: under the write lock nothing can commit between the read and the insert.
        """
        now = self.now() if at is None else at  # the caller's clock, else the store's
        if not has_unique(jobs):
            return self._insert_rows(conn, jobs, now)
        found = conn.execute(
            query("unique_holders"), {"keys": json.dumps(unique_keys(jobs)), "now": now}
        ).fetchall()
        batch = UniqueBatch.split(jobs, holders_from_rows(found))
        inserted = self._insert_rows(conn, batch.to_insert, now) if batch.to_insert else []
        return batch.answer(inserted)

    def _insert_rows(
        self, conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
    ) -> list[InsertedJob]:
        """One INSERT ... SELECT over a JSON array: one statement however many jobs."""
        packed = json.dumps(
            [
                {
                    "queue": job.queue,
                    "name": job.name,
                    "args": job.args_json,
                    "priority": job.priority,
                    "max_attempts": job.max_attempts,
                    "run_at": job.run_at if job.run_at is not None else now + job.delay,
                    "timeout": job.timeout,
                    "unique_key": job.unique_key,
                    "unique_for": job.unique_for,
                    "tenant": job.tenant,
                    "meta": job.meta_json,
                    "limit_key": job.limit_key,
                    "limit_max": job.limit_max,
                    "rate_key": job.rate_key,
                    "rate_max": job.rate_max,
                    "rate_per": job.rate_per,
                }
                for job in jobs
            ]
        )
        found = conn.execute(query("insert_jobs"), {"jobs": packed, "now": now}).fetchall()
        # Ids are assigned in insertion order, which follows the input order.
        found.sort(key=lambda r: r[0])
        return [InsertedJob(id=r[0], state=JobState(r[1]), created_at=r[2]) for r in found]

    # -- working ------------------------------------------------------------------------------

    def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """See :meth:`Store.claim_jobs`: the passes of :func:`conveyor.store.claim_passes.claim`."""
        return claim_passes.run(
            claim_passes.claim(params, self.pass_hint),
            lambda step: self.claim_limited_jobs(step.params, look_first=step.look_first),
            lambda step: self.claim_plain_jobs(step.params),
        )

    def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """Apply outcomes for attempts still holding their job; refuse the rest."""
        if not completions:
            return []
        with self.db.write() as conn:
            return self._complete(conn, completions, now)

    def _complete(
        self, conn: sqlite3.Connection, completions: Sequence[Completion], at: float | None
    ) -> list[CompletionResult]:
        now = self.now() if at is None else at  # read under the write lock
        ids = json.dumps([c.job_id for c in completions])
        held = {r[0]: r for r in conn.execute(query("select_running"), {"ids": ids}).fetchall()}
        results = []
        by_statement: dict[str, list[dict[str, Any]]] = {}
        attempts: list[dict[str, Any]] = []
        for c in completions:
            row = held.pop(c.job_id, None)  # a second completion for one attempt is refused
            if row is None or row[1] != c.token:
                results.append(CompletionResult(c.job_id, accepted=False))
                continue
            statement, params = plans.update_for(c, now)
            by_statement.setdefault(statement, []).append(params)
            attempts.append(
                {
                    "job_id": c.job_id,
                    "attempt": row[2],
                    "token": c.token,
                    "worker_id": row[3],
                    "started_at": row[4],
                    "now": now,
                    "outcome": str(c.outcome),
                    "error_type": c.error.type if c.error else None,
                    "error_message": c.error.message if c.error else None,
                    "traceback": c.error.traceback if c.error else None,
                }
            )
            results.append(CompletionResult(c.job_id, accepted=True))
        # One executemany per statement shape keeps the loop in C.
        for statement, rows_ in by_statement.items():
            conn.executemany(query(statement), rows_)
        if attempts:
            conn.executemany(query("insert_attempt"), attempts)
        # Stage jobs' runs advance in this transaction (nothing happens for plain jobs).
        advance_completed(conn, completions, [r.accepted for r in results], now)
        return results

    def complete_and_claim(
        self, completions: Sequence[Completion], params: ClaimParams
    ) -> ClaimRound:
        """See :meth:`Store.complete_and_claim`: one immediate transaction for both."""
        if not completions:
            return ClaimRound([], self.claim_jobs(params))
        with self.db.write() as conn:
            completed = self._complete(conn, completions, params.now)
            # The claim's own writes join this transaction (Database.write nests).
            claimed = self.claim_jobs(params)
        return ClaimRound(completed, claimed)

    def begin(self) -> SQLiteTransaction:
        """A write transaction on a connection of its own, for ``ctx.transaction``.

        It holds SQLite's single write lock until it ends, so keep such jobs short.
        """
        return SQLiteTransaction(self)

    def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """Renew leases held under the given tokens and mark the worker seen."""
        tokens = dict(params.held)
        with self.db.write() as conn:
            # Under the write lock, as in claim_plain_jobs.
            now = self.now() if params.now is None else params.now
            conn.execute(query("touch_worker"), {"worker_id": params.worker_id, "now": now})
            if not tokens:
                return frozenset()
            renewed = conn.execute(
                query("heartbeat"),
                {
                    "now": now,
                    "lease_seconds": params.lease_seconds,
                    "worker_id": params.worker_id,
                    "held": json.dumps(list(tokens.items())),
                },
            ).fetchall()
        return frozenset(job_id for job_id, token in renewed if tokens.get(job_id) == token)

    def set_progress(self, job_id: int, token: int, fraction: float, message: str | None) -> bool:
        """See :meth:`Store.set_progress`."""
        return self._write(plans.set_progress, job_id, token, fraction, message)

    def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.rescue_expired` (:func:`conveyor._lifecycle.lost_attempt` decides)."""
        return self._write(rescuing, limit, now=now)

    def expire_worker(self, worker_id: str, *, now: float | None = None) -> int:
        """See :meth:`Store.expire_worker`."""
        return self._write(plans.expire_worker, worker_id, now=now)

    def register_worker(self, info: WorkerInfo) -> None:
        """See :meth:`Store.register_worker`."""
        self._write(plans.register_worker, info)

    def deregister_worker(self, worker_id: str) -> None:
        """See :meth:`Store.deregister_worker`."""
        self._write(plans.deregister_worker, worker_id)

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

    def pause_queue(self, name: str, by: str | None) -> bool:
        """See :meth:`Store.pause_queue`."""
        return self._write(plans.pause_queue, name, by)

    def resume_queue(self, name: str, by: str | None) -> bool:
        """See :meth:`Store.resume_queue`."""
        return self._write(plans.resume_queue, name, by)

    def paused_queues(self) -> frozenset[str]:
        """See :meth:`Store.paused_queues`."""
        return self._read(plans.paused_queues)

    def queue_control(self, name: str) -> QueueControl | None:
        """See :meth:`Store.queue_control`."""
        return self._read(plans.queue_control, name)

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
            return self._replay_dead(flt, replay.per_second, now)
        return self._write(plans.retry_jobs, flt, now=now)

    def cancel_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_jobs`."""
        return self._write(cancelling, flt, now=now)

    def discard_jobs(self, flt: JobFilter) -> int:
        """See :meth:`Store.discard_jobs`."""
        return self._write(plans.discard_jobs, flt)

    def prune(self, retention: Retention, limit: int = 10_000, *, now: float | None = None) -> int:
        """See :meth:`Store.prune`."""
        return self._write(pruning, retention, limit, now=now)

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
