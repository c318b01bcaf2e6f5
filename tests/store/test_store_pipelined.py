"""The pipelined transaction (PostgreSQL's limited round, decision 111) is still one transaction.

Its BEGIN travels with the first statement and its COMMIT in the write of the last Sync
(``conveyor/store/postgres/pipelined.py``), so what must hold is what ``conn.transaction()``
gave: every statement's effect is committed together, a failing statement (or COMMIT) rolls
back the earlier ones, and the connection goes back to the pool usable. Sync and async drivers, on a
direct connection and through PgBouncer in transaction mode. SQLite has no such path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.errors import ConveyorError
from conveyor.store import Store, open_async_store
from conveyor.store.plan import Plan, Statement
from conveyor.store.sqlite import SQLiteStore


def record(store: Store, keys: list[str], fail: bool = False) -> Plan[list[int]]:
    """Record ``keys`` one statement each (the first with ``many``), then optionally fail;
    returns the transaction id each statement after the first ran in."""
    sql = store.plans.q("record_once")  # type: ignore[attr-defined]
    yield Statement(sql, many=[{"key": keys[0], "job_id": None}])
    xids = []
    for key in keys[1:]:
        yield Statement(sql, {"key": key, "job_id": None})
        xids.append(int((yield Statement("SELECT txid_current()")).rows[0][0]))
    if fail:
        yield Statement("SELECT 1 / 0")
    return xids


def run_sync(store: Store, plan: Plan[list[int]]) -> list[int]:
    return store.run(plan, "recording", pipelined=True)  # type: ignore[attr-defined, no-any-return]


def run_async(store: Store, plan: Plan[list[int]]) -> list[int]:
    async def scenario() -> list[int]:
        astore = open_async_store(store)
        try:
            return await astore.run(  # type: ignore[attr-defined, no-any-return]
                plan, "recording", pipelined=True
            )
        finally:
            await astore.release()

    return asyncio.run(scenario())


RUNNERS: dict[str, Callable[[Store, Plan[list[int]]], list[int]]] = {
    "sync": run_sync,
    "async": run_async,
}


@pytest.fixture(params=sorted(RUNNERS))
def runner(request: Any, store: Store) -> Callable[[Store, Plan[list[int]]], list[int]]:
    if isinstance(store, SQLiteStore):
        pytest.skip("PostgreSQL's pipelined transaction; SQLite has no such path")
    return RUNNERS[request.param]


def test_every_statement_commits_together(store: Store, runner: Any) -> None:
    xids = runner(store, record(store, ["p:a", "p:b", "p:c"]))
    assert len(set(xids)) == 1, "all statements ran in one transaction"
    assert [store.once_seen(k) for k in ("p:a", "p:b", "p:c")] == [True, True, True]


def test_a_failing_statement_rolls_back_the_earlier_ones(store: Store, runner: Any) -> None:
    with pytest.raises(ConveyorError, match="recording"):
        runner(store, record(store, ["f:a", "f:b"], fail=True))
    assert not store.once_seen("f:a")
    assert not store.once_seen("f:b")
    # The connections went back to the pool outside any transaction: the next runs work.
    for _ in range(3):
        runner(store, record(store, [f"n:{_}", f"m:{_}"]))
    assert store.once_seen("n:2")


def test_a_commit_that_fails_is_raised_and_applies_nothing(store: Store, runner: Any) -> None:
    """The COMMIT travels with the Sync (decision 123): its own answer is still read and
    checked. A deferred constraint is judged at COMMIT, so this one fails there."""

    def deferred() -> Plan[list[int]]:
        yield Statement(
            "CREATE TEMP TABLE pipelined_deferred (k integer UNIQUE DEFERRABLE INITIALLY "
            "DEFERRED) ON COMMIT DROP"
        )
        yield Statement("INSERT INTO pipelined_deferred VALUES (1), (1)")
        yield Statement(store.plans.q("record_once"), {"key": "d:a", "job_id": None})  # type: ignore[attr-defined]
        return []

    with pytest.raises(ConveyorError, match="recording"):
        runner(store, deferred())
    assert not store.once_seen("d:a")
    runner(store, record(store, ["d:b", "d:c"]))  # the connection went back usable
    assert store.once_seen("d:c")


def test_a_copy_is_refused_before_it_is_sent(store: Store, runner: Any) -> None:
    def copying() -> Plan[None]:
        yield Statement("COPY nothing FROM STDIN", copy=[b""])

    with pytest.raises(RuntimeError, match="COPY"):
        runner(store, copying())
    assert store.once_seen("absent") is False
