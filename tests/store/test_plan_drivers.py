"""Every driver of plans runs a ``Statement(many=...)`` once per parameter set.

SQLite's completions use it (one ``executemany`` per statement shape); the PostgreSQL drivers,
sync and async, must run it the same way, or a plan that yields one would silently do nothing
there. The statement is the store's own ``record_once.sql``; the effect is read back through
the store's ``once_seen`` verb.
"""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor.store import Store, open_async_store
from conveyor.store.plan import Plan, Statement
from conveyor.store.sqlite import SQLiteStore
from conveyor.store.sqlite.connection import query

KEYS = ["many:a", "many:b", "many:c"]


def record_many(store: Store, keys: list[str]) -> Plan[int]:
    """Record ``keys`` with one many-statement; return the rows it handed back (none)."""
    if isinstance(store, SQLiteStore):
        sql = query("record_once")
        batch: list[dict[str, Any]] = [{"key": k, "job_id": None, "now": 0.0} for k in keys]
    else:
        sql = store.plans.q("record_once")  # type: ignore[attr-defined]
        batch = [{"key": k, "job_id": None} for k in keys]
    result = yield Statement(sql, many=batch)
    return len(result.rows)


def test_the_sync_driver_runs_each_parameter_set(store: Store) -> None:
    if isinstance(store, SQLiteStore):
        returned = store._write(lambda now: record_many(store, KEYS))
    else:
        run = store.run  # type: ignore[attr-defined]
        returned = run(record_many(store, KEYS), "recording once keys")
    assert returned == 0
    assert [store.once_seen(k) for k in KEYS] == [True, True, True]
    assert not store.once_seen("many:d")


def test_the_async_driver_runs_each_parameter_set(store: Store) -> None:
    if isinstance(store, SQLiteStore):
        return  # SQLite's async store runs the sync verbs on its thread: the test above

    async def scenario() -> int:
        astore = open_async_store(store)
        try:
            return await astore.run(  # type: ignore[attr-defined, no-any-return]
                record_many(store, KEYS), "recording once keys"
            )
        finally:
            await astore.release()

    assert asyncio.run(scenario()) == 0
    assert [store.once_seen(k) for k in KEYS] == [True, True, True]
