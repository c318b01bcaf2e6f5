"""The asynchronous PostgreSQL store: an async pool running the shared plans, and a listener.

Workers wake on LISTEN/NOTIFY within milliseconds of an enqueue. The listener runs on its own
connection; when it drops (server restart, terminated backend) it reconnects with backoff and
LISTENs again, and until then ``wait_for_change`` falls back to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from typing import Any, TypeVar, cast

import psycopg
import psycopg_pool
from psycopg.rows import tuple_row

from conveyor.errors import ConfigurationError, ConveyorError
from conveyor.models import Job, QueueControl, WorkerInfo
from conveyor.store import claim_passes, limits, run_plans
from conveyor.store.connections import driver_connection_async
from conveyor.store.postgres.claim_round import (
    complete_and_claim_plain,
    complete_look_and_claim_plain,
    complete_then_claim,
    look_and_claim_plain,
)
from conveyor.store.postgres.cursor_rows import has_rows
from conveyor.store.postgres.errors import is_driver_error, translate
from conveyor.store.postgres.generic_plan import run_generic_async, wants_generic
from conveyor.store.postgres.pipelined import drive_pipelined_async
from conveyor.store.postgres.planner_settings import run_with_settings_async, settings_for
from conveyor.store.postgres.plans import Plan, Result, is_single
from conveyor.store.postgres.prune_plan import prune_plans
from conveyor.store.postgres.run_verbs import (
    STRAGGLERS,
    AsyncPostgresRunVerbs,
    completing,
    expiring,
    rescuing,
    straggler_failed,
    stragglers,
)
from conveyor.store.postgres.session import AsyncSessionConnection, connect_kwargs
from conveyor.store.postgres.store import CONNECT_TIMEOUT, POOL_MAX_IDLE, PostgresStore
from conveyor.store.postgres.transaction import AsyncPostgresTransaction
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    ClaimRound,
    Completion,
    CompletionResult,
    HeartbeatParams,
    InsertedJob,
    NewJob,
    Retention,
    Store,
)
from conveyor.store.unheld import validate_held

T = TypeVar("T")
log = logging.getLogger("conveyor.store.postgres")


async def drive_async(conn: psycopg.AsyncConnection[Any], plan: Plan[T]) -> T:
    """Run a plan's statements on an async connection (inside the caller's transaction)."""
    try:
        statement = next(plan)
        async with conn.cursor(row_factory=tuple_row) as cur:
            while True:
                if statement.many is not None:
                    await cur.executemany(statement.sql, statement.many)
                    result = Result([], cur.rowcount)
                elif statement.copy is not None:
                    async with cur.copy(statement.sql) as copy:
                        for block in statement.copy:
                            await copy.write(block)
                    result = Result([], cur.rowcount)
                elif wants_generic(conn, statement):
                    # Its own transaction, planned once (decision 120): one round trip still.
                    result = await run_generic_async(conn, statement)
                elif settings := settings_for(conn, statement):
                    # Planner settings for it alone, in its round trip (decisions 132, 133).
                    result = await run_with_settings_async(conn, statement, settings)
                else:
                    await cur.execute(statement.sql, statement.params or None)
                    rows = await cur.fetchall() if has_rows(cur) else []
                    result = Result(rows, cur.rowcount)
                statement = plan.send(result)
                if is_single(plan):
                    raise RuntimeError(
                        f"plan {getattr(plan, '__name__', plan)} is not one statement"
                    )
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


class AsyncPostgresStore(AsyncPostgresRunVerbs):
    """An :class:`~conveyor.store.protocol.AsyncStore` on PostgreSQL."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.plans = store.plans
        self.pass_hint = limits.PassHint()
        self._pool_size = store.pool_size
        self._pool: psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._changed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._guard: asyncio.Task[None] | None = None
        self._listening = False

    @property
    def listening(self) -> bool:
        """Whether a LISTEN connection is live now (an idle worker may then poll less often)."""
        return self._listening and self._listener is not None and not self._listener.done()

    @property
    def sync(self) -> Store:
        """The synchronous store beside this one."""
        return self._store

    async def _get_pool(self) -> psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        # Created lazily: an async pool belongs to the event loop that first uses it, so a new
        # loop (a second asyncio.run, as in repeated drain() calls) gets a new pool.
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool_loop is not loop:
            self._pool, self._listener, self._guard = None, None, None
            self._changed = asyncio.Event()
        if self._pool is None:
            self._pool_loop = loop
            pool = psycopg_pool.AsyncConnectionPool(
                self._store.url,
                connection_class=cast(type[psycopg.AsyncConnection[Any]], AsyncSessionConnection),
                min_size=1,
                max_size=self._pool_size,
                max_idle=POOL_MAX_IDLE,
                kwargs=self._store.connect_kwargs(
                    autocommit=True, connect_timeout=int(CONNECT_TIMEOUT)
                ),
                open=False,
                timeout=CONNECT_TIMEOUT,
                name="conveyor-async",
            )
            await pool.open(wait=False)
            self._pool = pool
            self._guard = asyncio.create_task(self._close_at_loop_end(pool), name="conveyor-pool")
        return self._pool

    async def _close_at_loop_end(self, pool: psycopg_pool.AsyncConnectionPool[Any]) -> None:
        """Wait until this task is cancelled, then close ``pool``.

        A loop that ends without :meth:`release` (``asyncio.run`` without ``await
        app.aclose()``) cancels every task. psycopg's pool workers catch a cancellation that
        arrives while they open a connection and go back to waiting for work, so the loop's
        end would wait for them forever; closing the pool sends each of them its stop.
        """
        try:
            await asyncio.get_running_loop().create_future()  # never set: only cancelled
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await pool.close(timeout=2.0)
            raise

    async def run(self, plan: Plan[T], where: str, *, pipelined: bool = False) -> T:
        """Run ``plan`` in one transaction on a pooled async connection (``pipelined``: as
        :meth:`PostgresStore.run`), then the runs it stopped as :meth:`PostgresStore.run`
        does (decision 141)."""
        with run_plans.collecting_stopped() as stopped:
            result = await self._run(plan, where, pipelined=pipelined)
        for run_id, follow in stragglers(self.plans, stopped):
            try:
                await self._run(follow, STRAGGLERS)
            except ConveyorError as exc:
                straggler_failed(run_id, exc)
        return result

    async def _run(self, plan: Plan[T], where: str, *, pipelined: bool = False) -> T:
        """Run ``plan`` in one transaction on a pooled async connection."""
        try:
            pool = await self._get_pool()
            if is_single(plan):  # no transaction to end: see PostgresStore.run
                conn = await pool.getconn()
                try:
                    return await drive_async(conn, plan)
                finally:
                    await pool.putconn(conn)
            async with pool.connection() as conn:
                if pipelined:
                    return await drive_pipelined_async(conn, plan)
                async with conn.transaction():
                    return await drive_async(conn, plan)
        except Exception as exc:
            if is_driver_error(exc):
                if self._pool is not None:
                    with contextlib.suppress(Exception):
                        await self._pool.check()  # see PostgresStore._check_idle
                raise translate(exc, where) from exc
            raise

    async def run_on(self, conn: Any, plan: Plan[T], where: str) -> T:
        """Run ``plan`` on the caller's async connection, inside its transaction (one of its
        own for a plan of several statements on an autocommit connection, as
        :meth:`PostgresStore.run_on`)."""
        try:
            if conn.autocommit and not is_single(plan):
                async with conn.transaction():
                    return await drive_async(conn, plan)
            return await drive_async(conn, plan)
        except Exception as exc:
            if is_driver_error(exc):
                raise translate(exc, where) from exc
            raise

    # -- wake-ups -----------------------------------------------------------------------------

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait for a NOTIFY on this schema's channel, or ``timeout`` seconds.

        Behind a transaction pooler without a direct ``listen_url`` nothing can LISTEN (see
        :mod:`.pooling`): this only waits, and the worker's poll interval finds new work.
        """
        await self._get_pool()  # resets the listener when the event loop changed
        target = self._store.pooling.listen_target(self._store.url)
        if target is None:
            await asyncio.sleep(timeout)
            return False
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(target), name="conveyor-listener")
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        self._changed.clear()
        return True

    async def _listen(self, url: str) -> None:
        failures = 0
        while True:
            try:
                # ``url`` is the store's own, or a direct connection past the pooler: never
                # pooled, so it may send the startup option and prepare as it likes.
                conn = await AsyncSessionConnection.connect(
                    url,
                    **connect_kwargs(url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT)),
                )
                async with conn:
                    await conn.execute(f'LISTEN "{self.plans.channel}"')
                    if failures:
                        log.info("listening for notifications again")
                    failures = 0
                    self._listening = True
                    # Anything may have been enqueued while we were not listening.
                    self._changed.set()
                    async for _ in conn.notifies():
                        self._changed.set()
            except asyncio.CancelledError:
                self._listening = False
                raise
            except Exception as exc:
                self._listening = False
                failures += 1
                delay = min(10.0, 0.1 * 2**failures) * random.uniform(0.8, 1.2)
                log.warning("notification listener lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    # -- the verbs ----------------------------------------------------------------------------

    async def insert_jobs(
        self, jobs: Sequence[NewJob], *, now: float | None = None
    ) -> list[InsertedJob]:
        """See :meth:`Store.insert_jobs`."""
        if not jobs:
            return []
        return await self.run(self.plans.insert_jobs(jobs, now=now), "inserting jobs")

    async def insert_jobs_in(self, connection: object, jobs: Sequence[NewJob]) -> list[InsertedJob]:
        """Insert inside the caller's transaction on an async (or sync) connection."""
        raw = await driver_connection_async(connection)
        if isinstance(raw, psycopg.Connection):
            return self._store.insert_jobs_in(raw, jobs)
        if not isinstance(raw, psycopg.AsyncConnection):
            raise ConfigurationError(
                "enqueue_async(connection=...) on PostgreSQL takes a psycopg AsyncConnection "
                "or a SQLAlchemy AsyncConnection/AsyncSession using psycopg "
                f"(postgresql+psycopg://), got {type(raw).__name__}"
            )
        self._store.check_same_database(raw.info.dbname)
        if not jobs:
            return []
        return await self.run_on(raw, self.plans.insert_jobs(jobs), "inserting jobs")

    async def claim_jobs(self, params: ClaimParams) -> list[ClaimedJob]:
        """See :meth:`PostgresStore.claim_jobs`."""
        if params.limited_names and self.pass_hint.look_first():
            waiting, claimed = await self.run(
                look_and_claim_plain(self.plans, params), "claiming jobs"
            )
            self.pass_hint.after_look(waiting)
            if not waiting:
                return claimed
        return await claim_passes.run_async(
            claim_passes.claim(params, self.pass_hint), self._limited_pass, self._plain_pass
        )

    async def _limited_pass(self, step: claim_passes.LimitedPass) -> list[ClaimedJob]:
        if step.look_first and not await self.run(
            self.plans.limited_waiting(step.params), "claiming jobs"
        ):
            return []
        return await self.run(
            self.plans.claim_limited_jobs(step.params), "claiming jobs", pipelined=True
        )

    async def _plain_pass(self, step: claim_passes.PlainPass) -> list[ClaimedJob]:
        return await self.run(self.plans.claim_plain_jobs(step.params), "claiming jobs")

    async def _stray_look_after_commit(self, step: claim_passes.LimitedPass) -> list[ClaimedJob]:
        try:
            return await self._limited_pass(step)
        except ConveyorError as exc:
            # The completions are committed: report them; the next claim looks again.
            log.warning("looking for limited jobs failed (%s); the next claim retries", exc)
            return []

    async def complete_jobs(
        self, completions: Sequence[Completion], *, now: float | None = None
    ) -> list[CompletionResult]:
        """See :meth:`Store.complete_jobs`."""
        return await self.run(completing(self.plans, completions, now), "completing jobs")

    async def complete_and_claim(
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
            return ClaimRound([], await self.claim_jobs(params))
        # A stage job's or a sequenced job's completion is a transaction (it advances
        # a run or frees a key), never the one-statement round.
        in_run = any(c.in_run or c.in_sequence for c in completions)
        if params.limited_names and not in_run and self.pass_hint.look_first():
            # The look a transaction would run after the completions, in the same statement
            # as the completions and the plain claim, which claims only when the look finds
            # no limited job that could start (the attempts being completed count as
            # finished). When it finds one, the completions are in and the passes follow.
            waiting, completed, claimed = await self.run(
                complete_look_and_claim_plain(self.plans, completions, params),
                "completing and claiming jobs",
            )
            self.pass_hint.after_look(waiting)
            if waiting:
                claimed = await claim_passes.run_async(
                    claim_passes.claim(params, self.pass_hint),
                    self._limited_pass,
                    self._plain_pass,
                )
            return ClaimRound(completed, claimed)
        if params.limited_names or in_run:
            # A stage job's completion advances its run: a transaction, not one statement.
            plan = complete_then_claim(self.plans, completions, params, self.pass_hint)
            # BEGIN travels with the completion (a run's advance here never COPYs jobs in).
            completed, claimed = await self.run(
                plan, "completing and claiming jobs", pipelined=True
            )
            return ClaimRound(completed, claimed)
        completed, claimed = await self.run(
            complete_and_claim_plain(self.plans, completions, params),
            "completing and claiming jobs",
        )
        claimed += await claim_passes.run_async(
            claim_passes.stray_look(params, claimed, self.pass_hint),
            self._stray_look_after_commit,
            self._plain_pass,
        )
        return ClaimRound(completed, claimed)

    async def heartbeat(self, params: HeartbeatParams) -> frozenset[int]:
        """See :meth:`Store.heartbeat`."""
        return await self.run(self.plans.heartbeat(params), "renewing leases")

    async def set_progress(
        self, job_id: int, token: int, fraction: float, message: str | None,
        *, now: float | None = None,
    ) -> bool:
        """See :meth:`Store.set_progress`."""
        return await self.run(
            self.plans.set_progress(job_id, token, fraction, message, now), "recording progress"
        )

    async def rescue_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.rescue_expired`."""
        return await self.run(rescuing(self.plans, limit, now), "rescuing expired leases")

    async def cancel_expired(self, limit: int = 1000, *, now: float | None = None) -> list[int]:
        """See :meth:`Store.cancel_expired`."""
        return await self.run(expiring(self.plans, limit, now), "cancelling expired jobs")

    async def release_unheld(
        self, worker_id: str, held: Sequence[tuple[int, int]], *, now: float | None = None
    ) -> list[int]:
        """See :meth:`Store.release_unheld`."""
        validate_held(worker_id, held)
        return await self.run(
            self.plans.release_unheld(worker_id, held, now), "releasing unheld jobs"
        )

    async def put_worker(
        self, worker_id: str, info: WorkerInfo | None, *, now: float | None = None
    ) -> None:
        """See :meth:`Store.put_worker`."""
        what = "deregistering a worker" if info is None else "registering a worker"
        await self.run(self.plans.put_worker(worker_id, info, now), what)

    async def get_job(self, job_id: int) -> Job | None:
        """See :meth:`Store.get_job`."""
        from conveyor.store.protocol import JobFilter

        found = await self.run(self.plans.list_jobs(JobFilter(ids=(job_id,))), "reading a job")
        return found[0] if found else None

    async def prune(
        self, retention: Retention, limit: int = 10_000, *, now: float | None = None
    ) -> int:
        """See :meth:`Store.prune`."""
        total = 0
        for plan in prune_plans(self.plans, retention, limit, now):
            total += await self.run(plan, "pruning")
        return total

    async def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], *, now: float | None = None
    ) -> float | None:
        """See :meth:`Store.next_due_in`."""
        return await self.run(
            self.plans.next_due_in(queues, names, now), "reading the next due time"
        )

    async def set_queue_paused(
        self, name: str, paused: bool, by: str | None, *, now: float | None = None
    ) -> bool:
        """See :meth:`Store.set_queue_paused`."""
        what = "pausing a queue" if paused else "resuming a queue"
        return await self.run(self.plans.set_queue_paused(name, paused, by, now), what)

    async def queue_controls(self) -> list[QueueControl]:
        """See :meth:`Store.queue_controls`."""
        return await self.run(self.plans.queue_controls(), "reading queue controls")

    async def queue_depth(self, queue: str, cap: int) -> int:
        """See :meth:`Store.queue_depth`."""
        return await self.run(self.plans.queue_depth(queue, cap), "counting waiting jobs")

    async def held_unique_keys(
        self, keys: Sequence[str], *, now: float | None = None
    ) -> frozenset[str]:
        """See :meth:`Store.held_unique_keys`."""
        return await self.run(self.plans.held_unique_keys(keys, now), "reading unique key holders")

    async def once_seen(self, key: str) -> bool:
        """See :meth:`Store.once_seen`."""
        return await self.run(self.plans.once_seen(key), "reading a once record")

    async def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`Store.record_once`."""
        return await self.run(self.plans.record_once(key, job_id), "recording a once key")

    async def begin(self) -> AsyncPostgresTransaction:
        """An async transaction for ``await ctx.transaction_async()``."""
        return await AsyncPostgresTransaction.open(self)

    async def release(self) -> None:
        """Stop the listener and close the async pool of this event loop."""
        await self.close()
        self._pool, self._listener, self._pool_loop, self._guard = None, None, None, None
        self._changed = asyncio.Event()

    async def close(self) -> None:
        """Stop the listener and close the async pool (the sync store stays open)."""
        for task in (self._listener, self._guard):
            if task is not None and not task.done():
                task.cancel()  # the guard closes the pool as it ends (and so does the line below)
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._pool is not None:
            await self._pool.close(timeout=2.0)
