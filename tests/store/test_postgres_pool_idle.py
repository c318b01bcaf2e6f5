"""The PostgreSQL stores' pools give back connections a burst grew (issue 14, fleet idle load).

psycopg keeps a grown pool's connections for ten minutes by default; Conveyor's pools close an
unused one every :data:`~conveyor.store.postgres.store.POOL_MAX_IDLE` seconds, down to one.
The period is shortened here so that the shrink is seen in a second, on a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from conveyor.store.postgres import PostgresStore, async_store, store
from conveyor.store.postgres.async_store import AsyncPostgresStore
from conveyor.testing import eventually

GROWN = 4


def test_the_default_idle_period_is_a_minute() -> None:
    assert store.POOL_MAX_IDLE == 60.0
    assert async_store.POOL_MAX_IDLE is store.POOL_MAX_IDLE


def test_a_sync_pool_shrinks_back_after_a_burst(
    fresh_postgres_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "POOL_MAX_IDLE", 0.2)
    pg = PostgresStore(fresh_postgres_url(), pool_size=GROWN)
    try:
        with contextlib.ExitStack() as held:
            for _ in range(GROWN):
                held.enter_context(pg.pool.connection())
            assert pg.pool.get_stats()["pool_size"] == GROWN
        eventually(lambda: pg.pool.get_stats()["pool_size"] == 1 or None, timeout=10)
        assert pg.pool.max_idle == 0.2
    finally:
        pg.close()


def test_an_async_pool_shrinks_back_after_a_burst(
    fresh_postgres_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(async_store, "POOL_MAX_IDLE", 0.2)
    url = fresh_postgres_url()

    sync = PostgresStore(url, pool_size=GROWN)

    async def burst_then_idle() -> None:
        pg = AsyncPostgresStore(sync)
        try:
            pool = await pg._get_pool()
            async with contextlib.AsyncExitStack() as held:
                for _ in range(GROWN):
                    await held.enter_async_context(pool.connection())
                assert pool.get_stats()["pool_size"] == GROWN
            for _ in range(100):
                if pool.get_stats()["pool_size"] == 1:
                    break
                await asyncio.sleep(0.1)
            assert pool.get_stats()["pool_size"] == 1
            assert pool.max_idle == 0.2
        finally:
            await pg.close()

    try:
        asyncio.run(burst_then_idle())
    finally:
        sync.close()
