"""The worker's claim statements run with generic plans on PostgreSQL (decision 120).

A statement marked ``generic`` runs in a transaction of its own with ``plan_cache_mode =
force_generic_plan`` set for that transaction only, prepared from its first run: the server
plans it once per connection, not at every claim. Shown on a real server through
``pg_prepared_statements`` (per session, so each store here has a one-connection pool), for
the sync and the async store.
The setting must not outlive the statement on the pooled connection, a failing statement must
leave the connection idle, and inside a caller's transaction the settings hold for the
statement alone (decision 133).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq
from store_helpers import new_job

from conveyor.store.plan import Plan, Statement
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.async_store import AsyncPostgresStore, drive_async
from conveyor.store.postgres.generic_plan import run_generic
from conveyor.store.postgres.store import drive
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    Completion,
    CompletionKind,
)

NAMES = ("limited", "plain")
ROUNDS = 8
BATCH = 5


def _params() -> ClaimParams:
    # A worker with a limited type: each round with completions looks for limited jobs first.
    return ClaimParams("w1", ("default",), NAMES, BATCH, 30, limited_names=("limited",))


def _done(claimed: list[ClaimedJob]) -> list[Completion]:
    return [Completion(c.id, c.token, CompletionKind.SUCCEEDED, result_json="1") for c in claimed]


def _plans(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    """(generic, custom) plan counts of this session's prepared statements, by text."""
    rows = conn.execute(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
    ).fetchall()
    return {text: (int(g), int(c)) for text, g, c in rows}


def _check(plans: dict[str, tuple[int, int]]) -> None:
    # The rounds: completions, the look for limited jobs and the plain claim, one statement.
    rounds = [
        v for k, v in plans.items()
        if k.startswith("WITH RECURSIVE c AS") and "look(waiting) AS" in k
    ]
    assert len(rounds) == 1, plans
    # Every run of it was generic: none was planned for its values.
    ((generic, custom),) = rounds
    assert custom == 0 and generic == ROUNDS, plans
    assert all(custom == 0 for _, custom in plans.values()), plans


def _seed(store: PostgresStore) -> None:
    store.insert_jobs([new_job("plain", "default") for _ in range(BATCH * (ROUNDS + 2))])


def test_sync_claim_rounds_plan_once(fresh_postgres_url: Callable[[], str]) -> None:
    store = PostgresStore(fresh_postgres_url(), pool_size=1)
    try:
        _seed(store)
        seen: set[int] = set()
        claimed = store.claim_jobs(_params())
        for _ in range(ROUNDS):
            seen.update(c.id for c in claimed)
            result = store.complete_and_claim(_done(claimed), _params())
            assert all(r.accepted for r in result.completed)
            claimed = result.claimed
            assert len(claimed) == BATCH and not seen & {c.id for c in claimed}
        with store.pool.connection() as conn:
            _check(_plans(conn))
            # The setting ended with its statement's transaction.
            assert conn.execute("SHOW plan_cache_mode").fetchone() == ("auto",)
    finally:
        store.close()


def test_async_claim_rounds_plan_once(fresh_postgres_url: Callable[[], str]) -> None:
    sync = PostgresStore(fresh_postgres_url(), pool_size=1)

    async def scenario() -> tuple[dict[str, tuple[int, int]], Any]:
        store = AsyncPostgresStore(sync)
        try:
            claimed = await store.claim_jobs(_params())
            for _ in range(ROUNDS):
                result = await store.complete_and_claim(_done(claimed), _params())
                assert all(r.accepted for r in result.completed)
                claimed = result.claimed
                assert len(claimed) == BATCH
            pool = await store._get_pool()
            async with pool.connection() as conn:
                rows = await (
                    await conn.execute(
                        "SELECT statement, generic_plans, custom_plans"
                        " FROM pg_prepared_statements"
                    )
                ).fetchall()
                mode = await (await conn.execute("SHOW plan_cache_mode")).fetchone()
            return {t: (int(g), int(c)) for t, g, c in rows}, mode
        finally:
            await store.release()

    try:
        _seed(sync)
        plans, mode = asyncio.run(scenario())
        _check(plans)
        assert mode == ("auto",)
    finally:
        sync.close()


def _failing() -> Plan[int]:
    result = yield Statement("SELECT 1 / %(zero)s::int", {"zero": 0}, generic=True)
    return len(result.rows)


def _answering() -> Plan[list[Any]]:
    result = yield Statement("SELECT current_setting('plan_cache_mode')", generic=True)
    return result.rows


def test_a_failing_generic_statement_leaves_the_connection_idle(
    fresh_postgres_url: Callable[[], str],
) -> None:
    url = fresh_postgres_url()
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            drive(conn, _failing())
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute("SHOW plan_cache_mode").fetchone() == ("auto",)
        # The statement itself saw the setting.
        assert drive(conn, _answering()) == [("force_generic_plan",)]

    async def scenario() -> None:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            with pytest.raises(psycopg.errors.DivisionByZero):
                await drive_async(conn, _failing())
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            assert await drive_async(conn, _answering()) == [("force_generic_plan",)]
            found = await (await conn.execute("SHOW plan_cache_mode")).fetchone()
            assert found == ("auto",)
        finally:
            await conn.close()

    asyncio.run(scenario())


def _answering_then_after() -> Plan[list[Any]]:
    during = yield Statement("SELECT current_setting('plan_cache_mode')", generic=True)
    after = yield Statement("SELECT current_setting('plan_cache_mode')")
    return during.rows + after.rows


def test_inside_a_transaction_the_generic_settings_last_for_the_statement_alone(
    fresh_postgres_url: Callable[[], str],
) -> None:
    # A transaction-local setting there would last to the caller's COMMIT, over statements
    # not marked generic: they are put back right after it, in its round trip (decision 133).
    with psycopg.connect(fresh_postgres_url()) as conn:
        assert drive(conn, _answering_then_after()) == [("force_generic_plan",), ("auto",)]
        assert conn.execute("SHOW plan_cache_mode").fetchone() == ("auto",)
    # Behind a transaction pooler nothing is prepared, so there is no plan to keep.
    with psycopg.connect(fresh_postgres_url(), autocommit=True, prepare_threshold=None) as conn:
        assert drive(conn, _answering()) == [("auto",)]
        with conn.transaction():
            assert drive(conn, _answering()) == [("auto",)]


def test_the_statement_commits_with_its_sync_and_no_explicit_transaction(
    fresh_postgres_url: Callable[[], str], tmp_path: Path
) -> None:
    # An explicit BEGIN ... COMMIT in the pipeline let the server commit before the Sync came
    # (psycopg sends each statement as it is queued): a restart in between left a committed
    # claim the worker never heard of. The statements must share the implicit transaction
    # that the Sync commits, and nothing may follow the Sync but the Flush.
    trace = tmp_path / "trace"
    with psycopg.connect(fresh_postgres_url(), autocommit=True) as conn:
        with trace.open("w") as out:
            conn.pgconn.trace(out.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            result = run_generic(conn, Statement("SELECT %(a)s::int", {"a": 7}, generic=True))
            conn.pgconn.untrace()
        assert result.rows == [(7,)]
        assert conn.execute("SHOW plan_cache_mode").fetchone() == ("auto",)
    sent = [line.split("\t") for line in trace.read_text().splitlines() if line.startswith("F")]
    kinds = [fields[2] for fields in sent]
    assert not any("BEGIN" in "\t".join(f) or "COMMIT" in "\t".join(f) for f in sent), sent
    assert kinds.count("Execute") == 2 and kinds.count("Sync") == 1, kinds
    assert kinds.index("Sync") > max(i for i, k in enumerate(kinds) if k == "Execute"), kinds
