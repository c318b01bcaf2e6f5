"""A statement's planner settings hold for it alone (decision 132), on every PostgreSQL driver.

``Statement.settings`` are set just before the statement and put back just after it, in its
round trip: the statement sees them; the next statement, and the next use of the pooled
connection, see what was there before (the session's value, or an earlier ``SET LOCAL`` of
the same transaction). Sync and async, in autocommit, in a transaction and in the pipelined
transaction. SQLite has no planner settings and ignores them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor.store import Store, open_async_store
from conveyor.store.plan import Plan, Statement
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.async_store import drive_async
from conveyor.store.postgres.planner_settings import set_sql
from conveyor.store.postgres.store import drive
from conveyor.store.sqlite import SQLiteStore

SETTINGS = (("enable_sort", "off"), ("enable_bitmapscan", "off"))
SHOW = "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan')"

Seen = list[tuple[Any, ...]]


def probe(first: str = SHOW) -> Plan[Seen]:
    """What the settings read before, during and after a statement that carries them."""
    before = yield Statement(first)
    during = yield Statement(SHOW, settings=SETTINGS)
    after = yield Statement(SHOW)
    return [before.rows[0], during.rows[0], after.rows[0]]


def postgres(store: Store) -> PostgresStore:
    if isinstance(store, SQLiteStore):
        pytest.skip("planner settings are PostgreSQL's")
    assert isinstance(store, PostgresStore)
    return store


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_statement_runs_with_its_settings_and_the_next_without(
    store: Store, pipelined: bool
) -> None:
    pg = postgres(store)
    seen = pg.run(probe(), "probing", pipelined=pipelined)
    assert seen == [("on", "on"), ("off", "off"), ("on", "on")]
    # The connection went back to the pool with nothing left over.
    assert pg.run(probe(), "probing again") == seen


@pytest.mark.parametrize("pipelined", [False, True])
def test_the_async_drivers_do_the_same(store: Store, pipelined: bool) -> None:
    postgres(store)

    async def scenario() -> Seen:
        astore = open_async_store(store)
        try:
            return await astore.run(  # type: ignore[attr-defined, no-any-return]
                probe(), "probing", pipelined=pipelined
            )
        finally:
            await astore.release()

    assert asyncio.run(scenario()) == [("on", "on"), ("off", "off"), ("on", "on")]


def test_in_autocommit_the_settings_end_with_the_statement(store: Store) -> None:
    pg = postgres(store)

    def one() -> Plan[Seen]:
        during = yield Statement(SHOW, settings=SETTINGS)
        return during.rows

    with pg.pool.connection() as conn:
        assert conn.autocommit
        assert drive(conn, one()) == [("off", "off")]
        assert conn.execute(SHOW).fetchone() == ("on", "on")

    async def scenario() -> tuple[Seen, Any]:
        astore = open_async_store(store)
        try:
            pool = await astore._get_pool()  # type: ignore[attr-defined]
            async with pool.connection() as conn:
                assert conn.autocommit
                during = await drive_async(conn, one())
                after = await (await conn.execute(SHOW)).fetchone()
                return during, after
        finally:
            await astore.release()

    assert asyncio.run(scenario()) == ([("off", "off")], ("on", "on"))


def test_what_is_put_back_is_the_value_before_not_the_default(store: Store) -> None:
    # An earlier SET LOCAL of the same transaction survives the statement's settings.
    pg = postgres(store)
    earlier = "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', " \
        "'off', true)"

    def plan() -> Plan[Seen]:
        yield Statement(earlier)
        return (yield from probe())

    for pipelined in (False, True):
        assert pg.run(plan(), "probing", pipelined=pipelined) == [
            ("off", "off"), ("off", "off"), ("off", "off")
        ]


def test_only_the_codes_own_settings_are_spliced_into_sql() -> None:
    with pytest.raises(ValueError, match="not a planner setting"):
        set_sql((("enable_sort", "off'); DROP TABLE x; --"),))


def test_sqlite_ignores_them(store: Store) -> None:
    if not isinstance(store, SQLiteStore):
        pytest.skip("SQLite's side")

    def one() -> Plan[int]:
        found = yield Statement("SELECT 41 + 1", settings=SETTINGS)
        return int(found.rows[0][0])

    assert store._write(lambda now: one()) == 42


PLAN_CACHE = "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')"


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_generic_statement_in_a_transaction_is_planned_generically_for_itself_alone(
    store: Store, pipelined: bool
) -> None:
    # A worker's round that completes stage jobs or claims limited ones is a transaction,
    # and its plain claim was planned anew at every round there (decision 133).
    pg = postgres(store)

    def plan() -> Plan[Seen]:
        during = yield Statement(PLAN_CACHE, generic=True)
        after = yield Statement(PLAN_CACHE)
        return [during.rows[0], after.rows[0]]

    seen = pg.run(plan(), "probing", pipelined=pipelined)
    if pg.pooling.transaction:
        # Behind a transaction pooler nothing is prepared: no plan to keep, no settings.
        assert seen == [("auto", "on"), ("auto", "on")]
    else:
        assert seen == [("force_generic_plan", "off"), ("auto", "on")]
