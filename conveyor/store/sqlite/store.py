"""The SQLite store: the embedded default, safe for many processes on one machine.

The database is a local file, so "the database's clock" is this machine's clock: every
process that shares the file shares it too.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conveyor.errors import (
    ConfigurationError,
    MigrationError,
    StoreError,
    StoreUnavailableError,
)
from conveyor.lifecycle import WORKER_LOST, Action, lost_attempt, sources, target, transition
from conveyor.models import (
    Attempt,
    Job,
    JobState,
    QueueControl,
    QueueStats,
    WorkerInfo,
)
from conveyor.store import claim_passes, limits, rows
from conveyor.store.filters import SQLITE, where
from conveyor.store.paused import with_paused
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    ClaimRound,
    Completion,
    CompletionKind,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    JobFilter,
    LimitStatus,
    NewJob,
    Retention,
)
from conveyor.store.sqlite.connection import LATEST_VERSION, Database, connect, query
from conveyor.store.sqlite.notify_verbs import SQLiteNotifyVerbs
from conveyor.store.sqlite.watch_monitor import SQLiteMonitorVerbs
from conveyor.store.sqlite.watch_schedules import SQLiteScheduleVerbs
from conveyor.store.sqlite.web_verbs import SQLiteWebVerbs
from conveyor.store.unique import UniqueBatch, has_unique, holders_from_rows, unique_keys

# Which statement applies a completion: they differ in the columns they write (a handler's
# retry moves run_at, a rescue keeps it, a release un-charges the attempt); the state and the
# attempt change come from the completion itself (conveyor.lifecycle decides them).
_STATEMENT_OF = {
    CompletionKind.RETRY: "retry_job",
    CompletionKind.LOST: "rescue_job",
    CompletionKind.RELEASED: "release_job",
}


class SQLiteStore(SQLiteScheduleVerbs, SQLiteMonitorVerbs, SQLiteWebVerbs, SQLiteNotifyVerbs):
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

    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert all jobs in one transaction."""
        if not jobs:
            return []
        with self.db.write(handoff=False) as conn:
            return self._insert(conn, jobs)

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

    def _insert(self, conn: sqlite3.Connection, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert inside the write transaction open on ``conn``; unique keys are checked here.

        Without unique keys this is one statement. With them, the holders of the batch's keys
        are read first: under the write lock nothing can commit between the read and the insert.
        """
        if not has_unique(jobs):
            return self._insert_rows(conn, jobs)
        found = conn.execute(
            query("unique_holders"), {"keys": json.dumps(unique_keys(jobs)), "now": self.now()}
        ).fetchall()
        batch = UniqueBatch.split(jobs, holders_from_rows(found))
        inserted = self._insert_rows(conn, batch.to_insert) if batch.to_insert else []
        return batch.answer(inserted)

    def _insert_rows(self, conn: sqlite3.Connection, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """One INSERT ... SELECT over a JSON array: one statement however many jobs."""
        now = self.now()
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

    def claim_limited_jobs(
        self, params: ClaimParams, *, look_first: bool = True
    ) -> list[ClaimedJob]:
        """Claim limited jobs within their keys' budgets (see :mod:`conveyor.store.limits`).

        With ``look_first``, a read without the write lock looks for candidates first, so a
        worker with limited types but no limited job waiting never queues for the writer.
        Then one immediate transaction reads the candidates (again) and claims: the write lock
        serialises claimers, so the counts read there stay true until the claim commits.
        """
        if params.limit <= 0 or not params.queues or not params.names:
            return []
        names = json.dumps(list(params.names))
        window = limits.window(params.limit)
        if look_first:
            with self.db.read() as conn:
                if not _limited_candidates(conn, params.queues, names, self.now(), window):
                    return []
        with self.db.write() as conn:
            now = self.now()
            candidates = _limited_candidates(conn, params.queues, names, now, window)
            if not candidates:
                return []
            spent = conn.execute(
                query("limited_spent"),
                {
                    "limit_keys": json.dumps(limits.limit_keys(candidates)),
                    "rate_keys": json.dumps(limits.rate_keys(candidates)),
                    "now": now,
                },
            ).fetchall()
            running, starts = limits.spent_from_rows(spent)
            decision = limits.choose(candidates, running, starts, now, params.limit)
            if not decision.chosen:
                return []
            claimed = conn.execute(
                query("claim_jobs"),
                {
                    "worker_id": params.worker_id,
                    "now": now,
                    "lease_seconds": params.lease_seconds,
                    "ids": json.dumps(decision.chosen),
                },
            ).fetchall()
            recorded = [decision.starts[r[0]] for r in claimed if r[0] in decision.starts]
            if recorded:
                conn.execute(
                    query("limited_expire_starts"),
                    {"keys": json.dumps(sorted({s.key for s in recorded})), "now": now},
                )
                conn.execute(
                    query("limited_record_start"),
                    {
                        "now": now,
                        "starts": json.dumps([[s.key, s.expires_at, s.rate_max] for s in recorded]),
                    },
                )
        claimed.sort(key=lambda r: (-r[7], r[13], r[0]))
        return [rows.claimed_from_row(r) for r in claimed]

    def claim_plain_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """Claim the best ``limit`` ready jobs across the given queues.

        Each queue's candidates are read in fair order (claim_candidates.sql: each tenant's
        head through the ready index, no sort of a backlog, first only as deep as a tenant
        can contribute when all have work, read again in full when that could be inexact),
        merged across queues by priority, turn, run_at and id, and the winners updated in the
        same immediate transaction. Paused
        queues are read in that transaction too, so a claim never starts a job of a queue whose
        pause committed before it.
        """
        if params.limit <= 0 or not params.queues or not params.names:
            return []
        names = json.dumps(list(params.names))
        with self.db.write() as conn:
            # "Now" is read once the write lock is held: a claim that waited for it must not
            # start its lease in the past (the rescuer would take the job at once).
            now = self.now()
            paused = {r[0] for r in conn.execute(query("paused_queues")).fetchall()}
            open_queues = [q for q in dict.fromkeys(params.queues) if q not in paused]
            alone = len(open_queues) == 1
            found: dict[str, list[tuple[int, int, float, int, str, int]]] = {}
            for queue in open_queues:
                found[queue] = self._candidates(conn, queue, alone, now, names, params.limit)
            while True:
                # (id, priority, run_at, turn, tenant, read): the fair order of docs/queues.md
                # across queues. A tenant that read fewer than ``limit`` jobs and has all of
                # them chosen may have more that should have been: read its queue's full heads
                # and merge again (once per queue at most).
                winners = sorted(
                    ((c, queue) for queue, rows_ in found.items() for c in rows_),
                    key=lambda w: (-w[0][1], w[0][3], w[0][2], w[0][0]),
                )[: params.limit]
                taken = Counter((queue, c[4]) for c, queue in winners)
                short = {
                    queue
                    for c, queue in winners
                    if c[5] < params.limit and taken[(queue, c[4])] >= c[5]
                }
                if not short:
                    break
                for queue in short:
                    found[queue] = self._candidates(
                        conn, queue, alone, now, names, params.limit, full=True
                    )
            chosen = [c[0] for c, _ in winners]
            if not chosen:
                return []
            claimed = conn.execute(
                query("claim_jobs"),
                {
                    "worker_id": params.worker_id,
                    "now": now,
                    "lease_seconds": params.lease_seconds,
                    "ids": json.dumps(chosen),
                },
            ).fetchall()
        # RETURNING order is unspecified; restore the claim order.
        place = {job_id: i for i, job_id in enumerate(chosen)}
        claimed.sort(key=lambda r: place[r[0]])
        return [rows.claimed_from_row(r) for r in claimed]

    def _candidates(
        self,
        conn: sqlite3.Connection,
        queue: str,
        alone: bool,
        now: float,
        names: str,
        limit: int,
        *,
        full: bool = False,
    ) -> list[tuple[int, int, float, int, str, int]]:
        """``queue``'s best ``limit`` ready plain jobs in fair order, with tenant and reads.

        The short read (``full`` false) reads fewer jobs per tenant; see claim_plain_jobs for
        when its answer stands.
        """
        name = "claim_candidates" if full else _candidates_query(conn, queue, alone=alone)
        return conn.execute(
            query(name),
            {"now": now, "queue": queue, "names": names, "limit": limit, "full": full},
        ).fetchall()

    def complete_jobs(self, completions: Sequence[Completion]) -> list[CompletionResult]:
        """Apply outcomes for attempts still holding their job; refuse the rest."""
        if not completions:
            return []
        with self.db.write() as conn:
            return self._complete(conn, completions)

    def _complete(
        self, conn: sqlite3.Connection, completions: Sequence[Completion]
    ) -> list[CompletionResult]:
        now = self.now()
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
            statement, params = _update_for(c, now)
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
        return results

    def complete_and_claim(
        self, completions: Sequence[Completion], params: ClaimParams
    ) -> ClaimRound:
        """See :meth:`Store.complete_and_claim`: one immediate transaction for both."""
        if not completions:
            return ClaimRound([], self.claim_jobs(params))
        with self.db.write() as conn:
            completed = self._complete(conn, completions)
            # The claim's own writes join this transaction (Database.write nests).
            claimed = self.claim_jobs(params)
        return ClaimRound(completed, claimed)

    def begin(self) -> SQLiteTransaction:
        """A write transaction on a connection of its own, for ``ctx.transaction``.

        It holds SQLite's single write lock until it ends, so keep such jobs short.
        """
        return SQLiteTransaction(self)

    @staticmethod
    def _apply(conn: sqlite3.Connection, c: Completion, now: float) -> None:
        statement, params = _update_for(c, now)
        conn.execute(query(statement), params)

    def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """Renew leases held under the given tokens and mark the worker seen."""
        tokens = dict(params.held)
        with self.db.write() as conn:
            now = self.now()  # under the write lock, as in claim_plain_jobs
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
        """Store progress for the attempt holding ``token``."""
        with self.db.write() as conn:
            cur = conn.execute(
                query("set_progress"),
                {"id": job_id, "token": token, "fraction": fraction, "message": message},
            )
        return cur.rowcount == 1

    def rescue_expired(self, limit: int = 1000) -> list[int]:
        """Count lapsed attempts as failed: retry in the job's old place (its run_at is kept),
        or ``dead`` when attempts are spent (see :func:`conveyor.lifecycle.lost_attempt`)."""
        rescued = []
        with self.db.write() as conn:
            # Under the write lock: a clock read before waiting for it would judge leases by
            # a moment already past (harmless here, it rescues less, but one rule for all).
            now = self.now()
            expired = conn.execute(query("select_expired"), {"now": now, "limit": limit})
            for job_id, token, attempt, max_attempts, worker_id, started_at in expired.fetchall():
                completion = lost_attempt(job_id, token, attempt, max_attempts, worker_id)
                self._apply(conn, completion, now)
                _record_attempt(
                    conn,
                    job_id=job_id,
                    attempt=attempt,
                    token=token,
                    worker_id=worker_id,
                    started_at=started_at,
                    now=now,
                    outcome=completion.outcome,
                    error_type=WORKER_LOST,
                    error_message=completion.error.message if completion.error else None,
                    traceback=None,
                )
                rescued.append(job_id)
        return rescued

    def expire_worker(self, worker_id: str) -> int:
        """Lapse a dead worker's leases and forget the worker."""
        now = self.now()
        with self.db.write() as conn:
            cur = conn.execute(query("expire_worker"), {"worker_id": worker_id, "now": now})
            conn.execute(query("delete_worker"), {"worker_id": worker_id})
        return cur.rowcount

    def register_worker(self, info: WorkerInfo) -> None:
        """Insert or refresh a worker row."""
        with self.db.write() as conn:
            conn.execute(
                query("upsert_worker"),
                {
                    "id": info.id,
                    "hostname": info.hostname,
                    "pid": info.pid,
                    "queues": json.dumps(list(info.queues)),
                    "names": json.dumps(list(info.names)),
                    "now": self.now(),
                },
            )

    def deregister_worker(self, worker_id: str) -> None:
        """Remove a worker row."""
        with self.db.write() as conn:
            conn.execute(query("delete_worker"), {"worker_id": worker_id})

    def live_workers(self, stale_after: float) -> list[WorkerInfo]:
        """Workers seen within ``stale_after`` seconds."""
        with self.db.read() as conn:
            found = conn.execute(query("live_workers"), {"since": self.now() - stale_after})
            return [rows.worker_from_row(r) for r in found.fetchall()]

    # -- inspecting ---------------------------------------------------------------------------

    def get_job(self, job_id: int) -> Job | None:
        """One job by id."""
        found = self.get_jobs([job_id])
        return found[0] if found else None

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """Jobs by id, newest first; missing ids are skipped."""
        if not job_ids:
            return []
        return self.list_jobs(JobFilter(ids=tuple(job_ids)))

    def list_jobs(self, flt: JobFilter) -> list[Job]:
        """Jobs matching ``flt``, newest first."""
        clause, params = where(SQLITE, flt, self.now())
        columns = rows.JOB_COLUMNS if flt.payloads else rows.LIST_COLUMNS
        sql = f"SELECT {columns} FROM conveyor_jobs WHERE {clause} ORDER BY id DESC"
        if flt.limit is not None:
            sql += " LIMIT :f_limit"
            params["f_limit"] = flt.limit
        with self.db.read() as conn:
            return [rows.job_from_row(r) for r in conn.execute(sql, params).fetchall()]

    def count_jobs(self, flt: JobFilter) -> int:
        """Number of jobs matching ``flt``."""
        clause, params = where(SQLITE, flt, self.now(), paginate=False)
        with self.db.read() as conn:
            row = conn.execute(f"SELECT COUNT(*) FROM conveyor_jobs WHERE {clause}", params)
            return int(row.fetchone()[0])

    def list_attempts(self, job_id: int) -> list[Attempt]:
        """A job's attempts, oldest first."""
        with self.db.read() as conn:
            found = conn.execute(query("list_attempts"), {"job_id": job_id}).fetchall()
        return [rows.attempt_from_row(r) for r in found]

    def queue_stats(self) -> list[QueueStats]:
        """Per-queue counts, ages and last-hour outcomes."""
        now = self.now()
        with self.db.read() as conn:
            counts = conn.execute(query("queue_counts"), {"now": now}).fetchall()
            failures = dict(conn.execute(query("queue_failures"), {"now": now}).fetchall())
            waiting: dict[str, list[str]] = {}
            for queue, name in conn.execute(query("waiting_names"), {"now": now}).fetchall():
                waiting.setdefault(queue, []).append(name)
            paused = {r[0] for r in conn.execute(query("paused_queues")).fetchall()}
        stats = [
            QueueStats(
                queue=r[0],
                queued=r[1] or 0,
                scheduled=r[2] or 0,
                running=r[3] or 0,
                retrying=r[4] or 0,
                dead=r[5] or 0,
                oldest_queued_age=None if r[6] is None else max(0.0, now - r[6]),
                succeeded_last_hour=r[7] or 0,
                failed_last_hour=failures.get(r[0], 0),
                waiting_names=tuple(waiting.get(r[0], ())),
                paused=r[0] in paused,
            )
            for r in counts
        ]
        return with_paused(stats, paused)

    def next_due_in(self, queues: Sequence[str], names: Sequence[str]) -> float | None:
        """Seconds until the earliest pending job is due, or None if there is none."""
        now = self.now()
        with self.db.read() as conn:
            row = conn.execute(
                query("next_due"),
                {
                    "queues": json.dumps(list(queues)),
                    "names": json.dumps(list(names)),
                    "now": now,
                    "limited_recheck": limits.RECHECK_SECONDS,
                },
            ).fetchone()
        if row[0] is None:
            return None
        return max(0.0, float(row[0]) - now)

    # -- queue controls -----------------------------------------------------------------------

    def pause_queue(self, name: str, by: str | None) -> bool:
        """See :meth:`Store.pause_queue`."""
        with self.db.write() as conn:
            cur = conn.execute(query("pause_queue"), {"name": name, "now": self.now(), "by": by})
        return cur.rowcount == 1

    def resume_queue(self, name: str, by: str | None) -> bool:
        """See :meth:`Store.resume_queue`."""
        with self.db.write() as conn:
            cur = conn.execute(query("resume_queue"), {"name": name, "now": self.now(), "by": by})
        return cur.rowcount == 1

    def paused_queues(self) -> frozenset[str]:
        """See :meth:`Store.paused_queues`."""
        with self.db.read() as conn:
            return frozenset(r[0] for r in conn.execute(query("paused_queues")).fetchall())

    def queue_control(self, name: str) -> QueueControl | None:
        """See :meth:`Store.queue_control`."""
        with self.db.read() as conn:
            row = conn.execute(query("queue_control"), {"name": name}).fetchone()
        if row is None:
            return None
        return QueueControl(name=row[0], paused=bool(row[1]), changed_at=row[2], changed_by=row[3])

    def queue_depth(self, queue: str, cap: int) -> int:
        """See :meth:`Store.queue_depth`."""
        with self.db.read() as conn:
            row = conn.execute(query("queue_depth"), {"queue": queue, "cap": cap}).fetchone()
        return int(row[0])

    def held_unique_keys(self, keys: Sequence[str]) -> frozenset[str]:
        """See :meth:`Store.held_unique_keys`."""
        if not keys:
            return frozenset()
        with self.db.read() as conn:
            found = conn.execute(
                query("unique_holders"), {"keys": json.dumps(sorted(keys)), "now": self.now()}
            ).fetchall()
        return frozenset(row[0] for row in found)

    def limit_status(self, job_id: int) -> LimitStatus | None:
        """See :meth:`Store.limit_status`."""
        with self.db.read() as conn:
            job = conn.execute(query("limit_status_job"), {"id": job_id}).fetchone()
            if job is None:
                return None
            running, starts = [], []
            if job[0] is not None:
                running = conn.execute(query("limit_status_running"), {"key": job[0]}).fetchall()
            if job[2] is not None:
                starts = conn.execute(
                    query("limit_status_starts"), {"key": job[2], "now": self.now()}
                ).fetchall()
        return limits.status_from_rows(job, running, starts)

    def count_ahead(self, job_id: int, cap: int) -> int:
        """See :meth:`Store.count_ahead`."""
        with self.db.read() as conn:
            row = conn.execute(
                query("count_ahead"), {"id": job_id, "now": self.now(), "cap": cap}
            ).fetchone()
        return int(row[0])

    # -- acting -------------------------------------------------------------------------------

    def retry_jobs(self, flt: JobFilter) -> list[int]:
        """Make matching dead/cancelled/scheduled/retrying/queued jobs run now."""
        now = self.now()
        clause, params = where(SQLITE, flt, now)
        params |= {"lc_from": json.dumps(sources(Action.RETRY_NOW))}
        with self.db.write() as conn:
            found = conn.execute(
                f"SELECT id, state FROM conveyor_jobs WHERE {clause} "
                "AND state IN (SELECT value FROM json_each(:lc_from)) ORDER BY id",
                params,
            ).fetchall()
            ids = [r[0] for r in found]
            rows_ = [(r[0], transition(JobState(r[1]), Action.RETRY_NOW)) for r in found]
            fresh = json.dumps([i for i, t in rows_ if t.fresh_attempts])
            waiting = json.dumps([i for i, t in rows_ if not t.fresh_attempts])
            state = str(target(Action.RETRY_NOW))
            # Fresh attempts for finished jobs; their attempt history stays.
            conn.execute(
                "UPDATE conveyor_jobs SET state = :state, attempt = 0, run_at = :now, "
                "finished_at = NULL, result = NULL, lease_until = NULL, worker_id = NULL "
                "WHERE id IN (SELECT value FROM json_each(:ids))",
                {"now": now, "ids": fresh, "state": state},
            )
            conn.execute(
                "UPDATE conveyor_jobs SET state = :state, run_at = :now "
                "WHERE id IN (SELECT value FROM json_each(:ids))",
                {"now": now, "ids": waiting, "state": state},
            )
        return ids

    def cancel_jobs(self, flt: JobFilter) -> list[int]:
        """Cancel matching unfinished jobs; a running attempt's later completion is refused."""
        now = self.now()
        clause, params = where(SQLITE, flt, now)
        params |= {"lc_from": json.dumps(sources(Action.CANCEL))}
        with self.db.write() as conn:
            found = conn.execute(
                "SELECT id, state, token, attempt, worker_id, started_at FROM conveyor_jobs "
                f"WHERE {clause} AND state IN (SELECT value FROM json_each(:lc_from)) ORDER BY id",
                params,
            ).fetchall()
            for job_id, state, token, attempt, worker_id, started_at in found:
                outcome = transition(JobState(state), Action.CANCEL).outcome
                if outcome is not None:  # a running attempt is recorded as cancelled
                    _record_attempt(
                        conn,
                        job_id=job_id,
                        attempt=attempt,
                        token=token,
                        worker_id=worker_id,
                        started_at=started_at,
                        now=now,
                        outcome=outcome,
                        error_type=None,
                        error_message="cancelled while running",
                        traceback=None,
                    )
            conn.execute(
                "UPDATE conveyor_jobs SET state = :state, finished_at = :now, "
                "lease_until = NULL WHERE id IN (SELECT value FROM json_each(:ids))",
                {
                    "now": now,
                    "ids": json.dumps([r[0] for r in found]),
                    "state": str(target(Action.CANCEL)),
                },
            )
        return [r[0] for r in found]

    def discard_jobs(self, flt: JobFilter) -> int:
        """Delete matching finished jobs with their attempts."""
        clause, params = where(SQLITE, flt, self.now())
        with self.db.write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM conveyor_jobs WHERE {clause} "
                    "AND state IN ('succeeded', 'dead', 'cancelled')",
                    params,
                ).fetchall()
            ]
            _delete(conn, ids)
        return len(ids)

    def prune(self, retention: Retention, limit: int = 10_000) -> int:
        """Delete finished jobs past their retention, at most ``limit`` per state."""
        now = self.now()
        total = 0
        with self.db.write() as conn:
            for state, keep in (
                (JobState.SUCCEEDED, retention.succeeded),
                (JobState.DEAD, retention.dead),
                (JobState.CANCELLED, retention.cancelled),
            ):
                ids = [
                    r[0]
                    for r in conn.execute(
                        query("select_prunable"),
                        # now: a succeeded job still holding its unique key is kept.
                        {"state": str(state), "cutoff": now - keep, "limit": limit, "now": now},
                    ).fetchall()
                ]
                _delete(conn, ids)
                total += len(ids)
            total += self._prune_once(conn, retention, now, limit)
            total += conn.execute(
                query("prune_rate_starts"), {"now": now, "limit": limit}
            ).rowcount
        return total

    @staticmethod
    def _prune_once(conn: sqlite3.Connection, retention: Retention, now: float, limit: int) -> int:
        cur = conn.execute(query("prune_once"), {"cutoff": now - retention.once, "limit": limit})
        return cur.rowcount

    # -- ctx.once() records -------------------------------------------------------------------

    def once_seen(self, key: str) -> bool:
        """See :meth:`Store.once_seen`."""
        with self.db.read() as conn:
            return conn.execute(query("once_seen"), {"key": key}).fetchone() is not None

    def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`Store.record_once`."""
        with self.db.write() as conn:
            return _record_once(conn, key, job_id, self.now())

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


def _candidates_query(conn: sqlite3.Connection, queue: str, *, alone: bool) -> str:
    """The query that reads ``queue``'s claim candidates in fair order.

    A queue claimed alone whose ready jobs all belong to one tenant group (the common case:
    no tenants at all) needs no turns: its fair order is priority, run_at, id, read straight
    from the ready index at a fifth of the cost of the fair read (two index probes decide).
    With other queues in the claim, turns are needed to merge across queues.
    """
    if alone:
        lowest, highest = conn.execute(query("claim_tenant_groups"), {"queue": queue}).fetchone()
        if lowest == highest:  # one tenant group, or no ready job at all
            return "claim_heads"
    return "claim_candidates"


def _limited_candidates(
    conn: sqlite3.Connection, queues: Sequence[str], names: str, now: float, window: int
) -> list[limits.Candidate]:
    """The first ``window`` ready limited jobs of ``queues`` in claim order.

    Each queue is read in index order and cut at the window; the merge takes the best.
    """
    found: list[tuple[Any, ...]] = []
    for queue in dict.fromkeys(queues):
        found += conn.execute(
            query("limited_candidates"),
            {"queue": queue, "names": names, "now": now, "window": window},
        ).fetchall()
    # Rows end with (priority, run_at); with the id that is the claim order across queues.
    found.sort(key=lambda r: (-r[6], r[7], r[0]))
    return [limits.Candidate.from_row(r) for r in found[:window]]


def _update_for(c: Completion, now: float) -> tuple[str, dict[str, Any]]:
    """The guarded statement (by query name) and parameters that apply one completion."""
    statement = _STATEMENT_OF.get(c.kind, "finish_job")
    params: dict[str, Any] = {"id": c.job_id, "token": c.token, "now": now, "state": str(c.state)}
    if statement == "release_job":
        return statement, params | {"attempt_delta": c.attempt_delta}
    params |= {
        "error_type": c.error.type if c.error else None,
        "error_message": c.error.message if c.error else None,
    }
    if statement == "retry_job":
        return statement, params | {"delay": c.retry_delay}
    if statement == "finish_job":
        return statement, params | {"result": c.result_json}
    return statement, params


def _delete(conn: sqlite3.Connection, ids: list[int]) -> None:
    if not ids:
        return
    packed = json.dumps(ids)
    conn.execute(
        "DELETE FROM conveyor_attempts WHERE job_id IN (SELECT value FROM json_each(?))", (packed,)
    )
    conn.execute(
        "DELETE FROM conveyor_jobs WHERE id IN (SELECT value FROM json_each(?))", (packed,)
    )


def _record_once(conn: sqlite3.Connection, key: str, job_id: int, now: float) -> bool:
    cur = conn.execute(query("record_once"), {"key": key, "job_id": job_id, "now": now})
    return cur.rowcount == 1


def _record_attempt(conn: sqlite3.Connection, **values: Any) -> None:
    values["outcome"] = str(values["outcome"])
    conn.execute(query("insert_attempt"), values)


class SQLiteTransaction:
    """An open write transaction a handler writes through, completed in the same commit."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.connection = connect(store.path, timeout=store.db.timeout)
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self.connection.close()
            raise StoreUnavailableError(
                f"could not open a write transaction on {str(store.path)!r} ({exc})"
            ) from exc

    def complete(self, completion: Completion) -> bool:
        """Apply the attempt's completion inside this transaction (guarded by its token)."""
        try:
            [result] = self._store._complete(self.connection, [completion])
        except sqlite3.Error as exc:
            raise StoreError(f"could not complete job {completion.job_id} ({exc})") from exc
        return result.accepted

    def commit(self) -> None:
        """Commit the handler's writes and the completion together, and close."""
        try:
            self.connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"the commit failed ({exc})") from exc
        finally:
            self.connection.close()

    def rollback(self) -> None:
        """Discard everything written in the transaction, and close."""
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        finally:
            self.connection.close()

    def once_seen(self, key: str) -> bool:
        """See :meth:`StoreTransaction.once_seen`."""
        try:
            found = self.connection.execute(query("once_seen"), {"key": key}).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"could not read the once record {key!r} ({exc})") from exc
        return found is not None

    def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`StoreTransaction.record_once`.

        This transaction holds SQLite's write lock, so no other writer can record ``key``
        between :meth:`once_seen` and here: inside it, a conflict means an earlier commit.
        """
        try:
            return _record_once(self.connection, key, job_id, self._store.now())
        except sqlite3.Error as exc:
            raise StoreError(f"could not record the once key {key!r} ({exc})") from exc
