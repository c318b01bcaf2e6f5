"""Transactions held open by other sessions, and the rule that names them (both backends).

On PostgreSQL a session of the test keeps a REPEATABLE READ snapshot open, as a forgotten
``BEGIN`` in a web request or a long report would; SQLite keeps no vacuum horizon, so it never
reports one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from conveyor.errors import ConfigurationError
from conveyor.monitor import LongTransactions
from conveyor.store import Store
from conveyor.store.postgres import PostgresStore


@pytest.fixture
def held(store: Store, store_url: str) -> Iterator[int | None]:
    """On PostgreSQL, the pid of another session holding a snapshot open; None on SQLite."""
    if not isinstance(store, PostgresStore):
        yield None
        return
    with psycopg.connect(store_url, application_name="nightly-report") as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT count(*) FROM conveyor_jobs")
        pid = conn.info.backend_pid
        time.sleep(0.05)  # its transaction is now measurably old
        yield pid
        conn.rollback()


def test_another_sessions_open_transaction_is_listed_with_its_age(
    store: Store, held: int | None
) -> None:
    found = store.open_transactions(0.01)
    if held is None:
        assert found == []
        return
    [tx] = [t for t in found if t.pid == held]
    assert tx.age >= 0.01
    assert tx.state == "idle in transaction"
    assert tx.application == "nightly-report"
    assert tx.query is not None and "count(*)" in tx.query
    assert store.open_transactions(3600) == []


def test_idle_sessions_and_the_asking_one_are_not_listed(
    store: Store, held: int | None
) -> None:
    # The store's own pooled connections are idle between statements: no transaction.
    store.now()
    pids = {t.pid for t in store.open_transactions(0.0, limit=50)}
    assert pids == ({held} if held is not None else set())


def test_the_rule_fires_per_transaction_and_says_what_to_do(
    store: Store, held: int | None
) -> None:
    firings = LongTransactions(older_than="10ms").evaluate(store, store.now())
    if held is None:
        assert firings == []
        return
    [firing] = [f for f in firings if f.subject == f"pid {held}"]
    assert firing.rule == "long_transaction"
    assert "application 'nightly-report'" in firing.summary
    assert "idle in transaction" in firing.summary
    assert f"pg_terminate_backend({held})" in firing.summary
    assert firing.details["pid"] == held
    assert LongTransactions(older_than="1h").evaluate(store, store.now()) == []


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="older_than"):
        LongTransactions(older_than="0s")
    with pytest.raises(ConfigurationError, match="shown"):
        LongTransactions(shown=0)
