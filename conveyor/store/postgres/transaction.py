"""Transactions a handler writes through (``ctx.transaction``), completed in the same commit.

The handler's writes and the job's ``succeeded`` row commit together or not at all: this is
what makes "effects once" real for effects that live in the same database.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import psycopg

from conveyor.store.postgres.errors import is_driver_error, translate
from conveyor.store.postgres.run_verbs import completing
from conveyor.store.protocol import Completion

if TYPE_CHECKING:
    from conveyor.store.postgres.async_store import AsyncPostgresStore
    from conveyor.store.postgres.store import PostgresStore


class PostgresTransaction:
    """A pooled connection taken out of autocommit for the length of one attempt."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        try:
            self.connection: psycopg.Connection[Any] = store.pool.getconn()
            self.connection.autocommit = False
            # Start the transaction now, so a handler's own `with conn.transaction():` is a
            # savepoint inside it rather than a transaction that commits on its own.
            self.connection.execute("SELECT 1")
        except Exception as exc:
            if is_driver_error(exc):
                raise translate(exc, "opening a transaction") from exc
            raise

    def complete(self, completion: Completion) -> bool:
        """Apply the completion inside this transaction (guarded by the attempt's token)."""
        [result] = self._store.run_on(
            self.connection, completing(self._store.plans, [completion], None), "completing a job"
        )
        return result.accepted

    def commit(self) -> None:
        """Commit the handler's writes and the completion together."""
        try:
            self.connection.commit()
        except Exception as exc:
            if is_driver_error(exc):
                raise translate(exc, "committing") from exc
            raise
        finally:
            self._release()

    def rollback(self) -> None:
        """Discard the handler's writes."""
        with contextlib.suppress(psycopg.Error):
            self.connection.rollback()
        self._release()

    def once_seen(self, key: str) -> bool:
        """See :meth:`StoreTransaction.once_seen`."""
        return self._store.run_on(
            self.connection, self._store.plans.once_seen(key), "reading a once record"
        )

    def record_once(self, key: str, job_id: int) -> bool:
        """Record ``key`` in this transaction; False if another transaction committed it.

        ``ON CONFLICT DO NOTHING`` waits for a concurrent, uncommitted writer of the same key
        and then reports its outcome, and it leaves this transaction usable either way.
        """
        return self._store.run_on(
            self.connection, self._store.plans.record_once(key, job_id), "recording a once key"
        )

    def _release(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.connection.autocommit = True
        self._store.pool.putconn(self.connection)  # a broken connection is discarded


class AsyncPostgresTransaction:
    """The async twin of :class:`PostgresTransaction`."""

    def __init__(self, store: AsyncPostgresStore, connection: psycopg.AsyncConnection[Any]):
        self._store = store
        self.connection = connection

    @classmethod
    async def open(cls, store: AsyncPostgresStore) -> AsyncPostgresTransaction:
        """Take a connection from the async pool and leave autocommit."""
        try:
            pool = await store._get_pool()
            conn = await pool.getconn()
            await conn.set_autocommit(False)
            await conn.execute("SELECT 1")  # see PostgresTransaction.__init__
        except Exception as exc:
            if is_driver_error(exc):
                raise translate(exc, "opening a transaction") from exc
            raise
        return cls(store, conn)

    async def complete(self, completion: Completion) -> bool:
        """See :meth:`PostgresTransaction.complete`."""
        [result] = await self._store.run_on(
            self.connection, completing(self._store.plans, [completion], None), "completing a job"
        )
        return result.accepted

    async def commit(self) -> None:
        """See :meth:`PostgresTransaction.commit`."""
        try:
            await self.connection.commit()
        except Exception as exc:
            if is_driver_error(exc):
                raise translate(exc, "committing") from exc
            raise
        finally:
            await self._release()

    async def rollback(self) -> None:
        """See :meth:`PostgresTransaction.rollback`."""
        with contextlib.suppress(psycopg.Error):
            await self.connection.rollback()
        await self._release()

    async def once_seen(self, key: str) -> bool:
        """See :meth:`PostgresTransaction.once_seen`."""
        return await self._store.run_on(
            self.connection, self._store.plans.once_seen(key), "reading a once record"
        )

    async def record_once(self, key: str, job_id: int) -> bool:
        """See :meth:`PostgresTransaction.record_once`."""
        return await self._store.run_on(
            self.connection, self._store.plans.record_once(key, job_id), "recording a once key"
        )

    async def _release(self) -> None:
        with contextlib.suppress(psycopg.Error):
            await self.connection.set_autocommit(True)
        pool = await self._store._get_pool()
        await pool.putconn(self.connection)
