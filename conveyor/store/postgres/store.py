"""The synchronous PostgreSQL store: a psycopg connection pool running the shared plans."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar, cast

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row

from conveyor.errors import ConfigurationError, ConveyorError, MigrationError
from conveyor.models import Attempt, Job, QueueControl, QueueStats, WorkerInfo
from conveyor.store import claim_passes, limits, run_plans
from conveyor.store.connections import driver_connection
from conveyor.store.contract.defaults import DerivedVerbs
from conveyor.store.postgres.claim_round import (
    complete_and_claim_plain,
    complete_look_and_claim_plain,
    complete_then_claim,
    look_and_claim_plain,
)
from conveyor.store.postgres.cursor_rows import has_rows
from conveyor.store.postgres.errors import is_driver_error, translate
from conveyor.store.postgres.generic_plan import run_generic, wants_generic
from conveyor.store.postgres.migrate import LATEST_VERSION, migrate_plan, version_plan
from conveyor.store.postgres.outbox_verbs import PostgresOutboxVerbs
from conveyor.store.postgres.pipelined import drive_pipelined
from conveyor.store.postgres.planner_settings import run_with_settings, settings_for
from conveyor.store.postgres.plans import Plan, Plans, Result, is_single
from conveyor.store.postgres.pooling import pooling
from conveyor.store.postgres.prune_plan import prune_plans
from conveyor.store.postgres.run_verbs import (
    STRAGGLERS,
    PostgresRunVerbs,
    cancelling,
    completing,
    expiring,
    rescuing,
    retrying,
    straggler_failed,
    stragglers,
)
from conveyor.store.postgres.session import SessionConnection, connect_kwargs
from conveyor.store.postgres.sql import check_schema
from conveyor.store.postgres.transaction import PostgresTransaction
from conveyor.store.postgres.watch_monitor import PostgresMonitorVerbs
from conveyor.store.postgres.watch_schedules import PostgresScheduleVerbs
from conveyor.store.postgres.web_verbs import PostgresWebVerbs
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
from conveyor.store.unheld import validate_held

T = TypeVar("T")
log = logging.getLogger("conveyor.store.postgres")

CONNECT_TIMEOUT = 5.0

POOL_MAX_IDLE = 60.0
"""Seconds a pooled connection may sit unused before the pool closes it (down to one).

psycopg's default is ten minutes: after a burst, every worker process of a fleet kept its
grown connections (about five each) that long, so the server's connection count hardly fell
while the fleet was idle. The pool closes at most one connection per period, so a pool of
five is back to one about four minutes after the burst.
"""


def drive(conn: psycopg.Connection[Any], plan: Plan[T]) -> T:
    """Run a plan's statements on ``conn`` (inside the caller's transaction, if any)."""
    try:
        statement = next(plan)
        # Tuples whatever row factory the caller's connection was made with.
        with conn.cursor(row_factory=tuple_row) as cur:
            while True:
                if statement.many is not None:
                    cur.executemany(statement.sql, statement.many)
                    result = Result([], cur.rowcount)
                elif statement.copy is not None:
                    with cur.copy(statement.sql) as copy:
                        for block in statement.copy:
                            copy.write(block)
                    result = Result([], cur.rowcount)
                elif wants_generic(conn, statement):
                    # Its own transaction, planned once (decision 120): one round trip still.
                    result = run_generic(conn, statement)
                elif settings := settings_for(conn, statement):
                    # Planner settings for it alone, in its round trip (decisions 132, 133).
                    result = run_with_settings(conn, statement, settings)
                else:
                    cur.execute(statement.sql, statement.params or None)
                    result = Result(cur.fetchall() if has_rows(cur) else [], cur.rowcount)
                statement = plan.send(result)
                if is_single(plan):
                    raise RuntimeError(
                        f"plan {getattr(plan, '__name__', plan)} is not one statement"
                    )
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


class PostgresStore(
    DerivedVerbs,
    PostgresScheduleVerbs,
    PostgresMonitorVerbs,
    PostgresWebVerbs,
    PostgresOutboxVerbs,
    PostgresRunVerbs,
):
    """A :class:`~conveyor.store.protocol.Store` on PostgreSQL (psycopg 3)."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = "public",
        migrate: bool = True,
        pool_size: int = 12,
        pooler: str | None = None,
        listen_url: str | None = None,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.pooling = pooling(pooler, listen_url)
        self.schema = check_schema(schema)
        self.pass_hint = limits.PassHint()
        self.plans = Plans(self.schema)
        self.pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = (
            psycopg_pool.ConnectionPool(
                url,
                # A subclass only for how it connects; typed as its base, as every user sees it.
                connection_class=cast(type[psycopg.Connection[Any]], SessionConnection),
                min_size=1,
                max_size=pool_size,
                max_idle=POOL_MAX_IDLE,
                kwargs=self.connect_kwargs(autocommit=True, connect_timeout=int(CONNECT_TIMEOUT)),
                open=False,
                timeout=CONNECT_TIMEOUT,
                name="conveyor",
            )
        )
        self.pool.open(wait=False)
        if migrate:
            self.migrate()
        if self.pooling.transaction:
            self._warn_if_jit_on()

    def connect_kwargs(self, **extra: Any) -> dict[str, Any]:
        """The keyword arguments this store's pooled connections are opened with."""
        return connect_kwargs(self.url, pooled=self.pooling.transaction, **extra)

    def _warn_if_jit_on(self) -> None:
        # Behind a transaction pooler the startup option that turns JIT off cannot be sent
        # (see .pooling); say once, at start, when the pooler's server connections have it on.
        try:
            jit = self.run(self.plans.jit_setting(), "reading the jit setting")
        except ConveyorError:
            return  # the first real verb reports an unreachable server better
        if jit != "off":
            log.warning(
                "JIT is %s on the server connections behind the pooler; Conveyor's claims can "
                "spend most of their time compiling on a large table. Add connect_query='SET "
                "jit = off' to PgBouncer's database entry, or run ALTER ROLE <role> SET jit = off "
                "(docs/postgres.md, 'Running at scale')",
                jit,
            )

    def run(self, plan: Plan[T], where: str, *, pipelined: bool = False) -> T:
        """Run ``plan`` in one transaction on a pooled connection (:meth:`_run`); then, for
        each run it stopped, a transaction of its own that cancels the run's jobs a claim in
        flight held and the stop skipped (decision 141)."""
        with run_plans.collecting_stopped() as stopped:
            result = self._run(plan, where, pipelined=pipelined)
        for run_id, follow in stragglers(self.plans, stopped):
            try:
                self._run(follow, STRAGGLERS)
            except ConveyorError as exc:
                straggler_failed(run_id, exc)
        return result

    def _run(self, plan: Plan[T], where: str, *, pipelined: bool = False) -> T:
        """Run ``plan`` in one transaction on a pooled connection.

        A one-statement plan runs in autocommit: the statement is its own transaction, and
        BEGIN and COMMIT would only add two round trips. ``pipelined`` (the worker's limited
        round, decision 111) sends BEGIN with the plan's first statement
        (:mod:`.pipelined`); the plan must have no COPY.
        """
        try:
            if is_single(plan):
                # Autocommit leaves no transaction to end: the pool's context manager (which
                # commits or rolls back, and times the use) is only cost here. putconn still
                # discards a broken connection.
                conn = self.pool.getconn()
                try:
                    return drive(conn, plan)
                finally:
                    self.pool.putconn(conn)
            with self.pool.connection() as conn:
                if pipelined:
                    return drive_pipelined(conn, plan)
                with conn.transaction():
                    return drive(conn, plan)
        except psycopg_pool.PoolTimeout as exc:
            raise translate(exc, f"{where}; {self._why_unreachable()}") from exc
        except Exception as exc:
            if is_driver_error(exc):
                self._check_idle()
                raise translate(exc, where) from exc
            raise

    def _check_idle(self) -> None:
        # One broken connection usually means the others are broken too (server restart,
        # terminated backends): test the idle ones now so the next call gets a live one.
        try:
            self.pool.check()
        except Exception:  # a check that fails is only an optimisation that failed
            log.debug("pool check failed", exc_info=True)

    def _why_unreachable(self) -> str:
        # The pool only says it timed out; one direct attempt says why (refused, bad password).
        try:
            kwargs = self.connect_kwargs(connect_timeout=2)
            SessionConnection.connect(self.url, **kwargs).close()
        except psycopg.Error as exc:
            return f"connecting directly failed: {str(exc).strip()}"
        return "a direct connection works, so the pool is exhausted"

    def run_on(self, conn: Any, plan: Plan[T], where: str) -> T:
        """Run ``plan`` on the caller's connection, inside the caller's transaction.

        On an autocommit connection there is no caller's transaction, so a plan of several
        statements (whose locks are transaction-scoped) gets one of its own.
        """
        try:
            if conn.autocommit and not is_single(plan):
                with conn.transaction():
                    return drive(conn, plan)
            return drive(conn, plan)
        except Exception as exc:
            if is_driver_error(exc):
                raise translate(exc, where) from exc
            raise

    # -- schema and clock ---------------------------------------------------------------------

    def migrate(self) -> int:
        """Create or upgrade the schema under an advisory lock (safe from many processes)."""
        if self.run(version_plan(self.schema), "reading the schema version") == LATEST_VERSION:
            return LATEST_VERSION
        return self.run(migrate_plan(self.schema), "migrating")

    def check_schema(self) -> None:
        """Raise :class:`MigrationError` unless the schema is current."""
        version = self.run(version_plan(self.schema), "reading the schema version")
        if version != LATEST_VERSION:
            raise MigrationError(
                f"schema {self.schema!r} has version {version}; this Conveyor needs "
                f"{LATEST_VERSION}: run `conveyor migrate`"
            )

    def now(self) -> float:
        """The server's clock."""
        return self.run(self.plans.now(), "reading the clock")

    # -- the verbs ----------------------------------------------------------------------------

    def insert_jobs(self, jobs: Sequence[NewJob], *, now: float | None = None) -> list[InsertedJob]:
        """Insert jobs atomically in one statement that also sends the NOTIFY."""
        if not jobs:
            return []
        return self.run(self.plans.insert_jobs(jobs, now=now), "inserting jobs")

    def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert inside the caller's transaction (psycopg or SQLAlchemy connection/session)."""
        raw = driver_connection(connection)
        if not isinstance(raw, psycopg.Connection):
            raise ConfigurationError(
                "enqueue(connection=...) on PostgreSQL takes a psycopg.Connection or a "
                "SQLAlchemy Connection/Session using psycopg (postgresql+psycopg://), got "
                f"{type(raw).__name__}; from async code use enqueue_async(connection=...)"
            )
        self.check_same_database(raw.info.dbname)
        if not jobs:
            return []
        return self.run_on(raw, self.plans.insert_jobs(jobs), "inserting jobs")

    def check_same_database(self, dbname: str) -> None:
        """Refuse a caller's connection to another database than Conveyor's."""
        ours = conninfo_to_dict(self.url).get("dbname")
        if ours is not None and ours != dbname:
            raise ConfigurationError(
                f"enqueue(connection=...): that connection is to database {dbname!r}, not to "
                f"Conveyor's {ours!r}; the job would be written where no worker looks"
            )

    def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """See :meth:`Store.claim_jobs`: the passes of :func:`conveyor.store.claim_passes.claim`.

        The limited pass is a transaction (after a one-statement look when the hint says so);
        the plain claim is one autocommit statement. When the hint says to look first, the
        look and the plain claim are one statement (:func:`.claim_round.look_and_claim_plain`):
        the passes run only if the look finds a limited job.
        """
        if params.limited_names and self.pass_hint.look_first():
            waiting, claimed = self.run(
                look_and_claim_plain(self.plans, params), "claiming jobs"
            )
            self.pass_hint.after_look(waiting)
            if not waiting:
                return claimed
        return claim_passes.run(
            claim_passes.claim(params, self.pass_hint), self._limited_pass, self._plain_pass
        )

    def _limited_pass(self, step: claim_passes.LimitedPass) -> list[ClaimedJob]:
        if step.look_first and not self.run(
            self.plans.limited_waiting(step.params), "claiming jobs"
        ):
            return []
        return self.run(
            self.plans.claim_limited_jobs(step.params), "claiming jobs", pipelined=True
        )

    def _plain_pass(self, step: claim_passes.PlainPass) -> list[ClaimedJob]:
        return self.run(self.plans.claim_plain_jobs(step.params), "claiming jobs")

    def _stray_look_after_commit(self, step: claim_passes.LimitedPass) -> list[ClaimedJob]:
        try:
            return self._limited_pass(step)
        except ConveyorError as exc:
            # The completions are committed: report them; the next claim looks again.
            log.warning("looking for limited jobs failed (%s); the next claim retries", exc)
            return []

    def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """See :meth:`Store.complete_jobs`."""
        return self.run(completing(self.plans, completions, now), "completing jobs")

    def complete_and_claim(
        self, completions: Sequence[Completion], params: ClaimParams
    ) -> ClaimRound:
        """See :meth:`Store.complete_and_claim`.

        Without limited types: one statement, completions then the plain claim (a stray
        look for limited rows may follow, as in :meth:`claim_jobs`). With them: one
        transaction, completions first, then the limited pass and the plain claim; but when
        the hint says to look first, the round is one statement too: the completions, the
        look, and the plain claim when the look finds no limited job that could start (when
        it finds one, the claim's passes follow the committed completions).
        """
        if not completions:
            return ClaimRound([], self.claim_jobs(params))
        # A stage job's or a sequenced job's completion is a transaction (it advances
        # a run or frees a key), never the one-statement round.
        in_run = any(c.in_run or c.in_sequence for c in completions)
        if params.limited_names and not in_run and self.pass_hint.look_first():
            # The look a transaction would run after the completions, in the same statement
            # as the completions and the plain claim, which claims only when the look finds
            # no limited job that could start (the attempts being completed count as
            # finished). When it finds one, the completions are in and the passes follow.
            waiting, completed, claimed = self.run(
                complete_look_and_claim_plain(self.plans, completions, params),
                "completing and claiming jobs",
            )
            self.pass_hint.after_look(waiting)
            if waiting:
                claimed = claim_passes.run(
                    claim_passes.claim(params, self.pass_hint),
                    self._limited_pass,
                    self._plain_pass,
                )
            return ClaimRound(completed, claimed)
        if params.limited_names or in_run:
            # A stage job's completion advances its run: a transaction, not one statement.
            plan = complete_then_claim(self.plans, completions, params, self.pass_hint)
            # BEGIN travels with the completion (a run's advance here never COPYs jobs in).
            completed, claimed = self.run(
                plan, "completing and claiming jobs", pipelined=True
            )
            return ClaimRound(completed, claimed)
        completed, claimed = self.run(
            complete_and_claim_plain(self.plans, completions, params),
            "completing and claiming jobs",
        )
        claimed += claim_passes.run(
            claim_passes.stray_look(params, claimed, self.pass_hint),
            self._stray_look_after_commit,
            self._plain_pass,
        )
        return ClaimRound(completed, claimed)

    def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """See :meth:`Store.heartbeat`."""
        return self.run(self.plans.heartbeat(params), "renewing leases")

    def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None,
        *, now: float | None = None,
    ) -> bool:
        """See :meth:`Store.set_progress`."""
        return self.run(self.plans.set_progress(job_id, token, fraction, message, now), "progress")

    def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.rescue_expired`."""
        return self.run(rescuing(self.plans, limit, now), "rescuing expired leases")

    def cancel_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_expired`."""
        return self.run(expiring(self.plans, limit, now), "cancelling expired jobs")

    def release_unheld(
        self, worker_id: str, held: Sequence[tuple[int, int]], *, now: float | None = None
    ) -> list[int]:
        """See :meth:`Store.release_unheld`."""
        validate_held(worker_id, held)
        return self.run(self.plans.release_unheld(worker_id, held, now), "releasing unheld jobs")

    def expire_worker(self, worker_id: str, *, now: float | None = None) -> int:
        """See :meth:`Store.expire_worker`."""
        return self.run(self.plans.expire_worker(worker_id, now), "expiring a worker")

    def put_worker(
        self, worker_id: str, info: WorkerInfo | None, *, now: float | None = None
    ) -> None:
        """See :meth:`Store.put_worker`."""
        what = "deregistering a worker" if info is None else "registering a worker"
        self.run(self.plans.put_worker(worker_id, info, now), what)

    def live_workers(self, stale_after: float, *, now: float | None = None) -> list[WorkerInfo]:
        """See :meth:`Store.live_workers`."""
        return self.run(self.plans.live_workers(stale_after, now), "listing workers")

    def list_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[Job]:
        """See :meth:`Store.list_jobs`."""
        return self.run(self.plans.list_jobs(flt, now), "listing jobs")

    def count_jobs(self, flt: JobFilter, *, now: float | None = None) -> int:
        """See :meth:`Store.count_jobs`."""
        return self.run(self.plans.count_jobs(flt, now), "counting jobs")

    def list_attempts(self, job_id: int) -> list[Attempt]:
        """See :meth:`Store.list_attempts`."""
        return self.run(self.plans.list_attempts(job_id), "listing attempts")

    def queue_stats(self, *, now: float | None = None) -> list[QueueStats]:
        """See :meth:`Store.queue_stats`."""
        return self.run(self.plans.queue_stats(now), "reading queue stats")

    def retry_jobs(
        self, flt: JobFilter, *, replay: Replay | None = None, now: float | None = None
    ) -> list[int]:
        """See :meth:`Store.retry_jobs`."""
        if replay is not None:
            return self._replay_dead(flt, replay, now)
        return self.run(retrying(self.plans, flt, now), "retrying jobs")

    def cancel_jobs(self, flt: JobFilter, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_jobs`."""
        return self.run(cancelling(self.plans, flt, now), "cancelling jobs")

    def discard_jobs(self, flt: JobFilter) -> int:
        """See :meth:`Store.discard_jobs`."""
        return self.run(self.plans.discard_jobs(flt), "discarding jobs")

    def prune(self, retention: Retention, limit: int = 10_000, *, now: float | None = None) -> int:
        """See :meth:`Store.prune`."""
        return sum(
            self.run(plan, "pruning") for plan in prune_plans(self.plans, retention, limit, now)
        )

    def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], *, now: float | None = None
    ) -> float | None:
        """See :meth:`Store.next_due_in`."""
        return self.run(self.plans.next_due_in(queues, names, now), "reading the next due time")

    def set_queue_paused(
        self, name: str, paused: bool, by: str | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`Store.set_queue_paused`."""
        what = "pausing a queue" if paused else "resuming a queue"
        return self.run(self.plans.set_queue_paused(name, paused, by, now), what)

    def queue_controls(self) -> list[QueueControl]:
        """See :meth:`Store.queue_controls`."""
        return self.run(self.plans.queue_controls(), "reading queue controls")

    def queue_depth(self, queue: str, cap: int) -> int:
        """See :meth:`Store.queue_depth`."""
        return self.run(self.plans.queue_depth(queue, cap), "counting waiting jobs")

    def held_unique_keys(self, keys: Sequence[str], *, now: float | None = None) -> frozenset[str]:
        """See :meth:`Store.held_unique_keys`."""
        return self.run(self.plans.held_unique_keys(keys, now), "reading unique key holders")

    def limit_status(self, job_id: int, *, now: float | None = None) -> LimitStatus | None:
        """See :meth:`Store.limit_status`."""
        return self.run(self.plans.limit_status(job_id, now), "reading a job's limits")

    def count_ahead(self, job_id: int, cap: int, *, now: float | None = None) -> int:
        """See :meth:`Store.count_ahead`."""
        return self.run(self.plans.count_ahead(job_id, cap, now), "counting jobs ahead")

    def once_seen(self, key: str) -> bool:
        """See :meth:`Store.once_seen`."""
        return self.run(self.plans.once_seen(key), "reading a once record")

    def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`Store.record_once`."""
        return self.run(self.plans.record_once(key, job_id), "recording a once key")

    def begin(self) -> PostgresTransaction:
        """A transaction for ``ctx.transaction``; see :mod:`conveyor.store.postgres.transaction`."""
        return PostgresTransaction(self)

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()
