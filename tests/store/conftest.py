"""Fixtures of the store conformance suite.

Every test runs once per backend in :data:`BACKENDS` (the id shows in the test name, e.g.
``test_claim_respects_limit[sqlite]``). A backend is a function that prepares a fresh, empty
database for one test and returns its URL; the suite opens stores on that URL with
:func:`conveyor.store.open_store`, so separate threads and processes can open their own.

PostgreSQL databases are copies of a migrated template (see ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from conveyor.store import Store, open_store
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.pooling import LISTEN_URL_ENV, POOLER_ENV
from conveyor.store.sqlite import SQLiteStore


def _fresh_sqlite(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new SQLite file per test (the file is created when the first store opens it)."""
    return f"sqlite:///{tmp_path / 'conveyor.db'}"


def _fresh_postgres(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new database copied from the session's migrated template."""
    make: Callable[[], str] = request.getfixturevalue("fresh_postgres_url")
    return make()


def _fresh_postgres_via_pgbouncer(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database reached through PgBouncer in transaction pooling mode; every store the
    test opens (and every process it starts) is told so by the environment."""
    through: Callable[[str], str] = request.getfixturevalue("pgbouncer")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    direct = _fresh_postgres(tmp_path, request)
    monkeypatch.setenv(POOLER_ENV, "transaction")
    monkeypatch.setenv(LISTEN_URL_ENV, direct)  # LISTEN cannot go through the pooler
    return through(direct)


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], str]] = {
    "sqlite": _fresh_sqlite,
    "postgres": _fresh_postgres,
    "postgres-via-pgbouncer": _fresh_postgres_via_pgbouncer,
}
"""Backend name -> factory of a fresh, empty database's URL."""


POOLED_MODULES = frozenset({
    "test_store_claim", "test_store_claim_round", "test_store_complete", "test_store_clock",
    "test_store_concurrency", "test_store_event_loop_end", "test_store_expiry",
    "test_store_insert", "test_store_insert_bulk", "test_store_leases", "test_store_limits",
    "test_store_once", "test_store_runs", "test_store_runs_fanout", "test_store_schedules",
    "test_store_sequences", "test_store_slots", "test_store_unique", "test_store_web",
    "test_store_fairness", "test_plan_drivers", "test_store_pipelined", "test_store_unheld",
    "test_planner_settings", "test_store_runs_count_down",
})
"""The modules that also run through PgBouncer: those whose verbs open transactions, take
locks, read the clock, COPY, or NOTIFY, which is where transaction pooling could differ from a
direct connection. The rest are the same statements on the same code path; running all of
them a third time cost 2 minutes of the suite's 15-minute budget for no new statement."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the PgBouncer backend's tests outside :data:`POOLED_MODULES`."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        module = item.path.stem if item.path.parent.name == "store" else None
        pooled = "postgres-via-pgbouncer" in getattr(item, "callspec", None).params.get(
            "store_url", ""
        ) if hasattr(item, "callspec") else False
        if module is not None and pooled and module not in POOLED_MODULES:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(params=sorted(BACKENDS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty (not yet migrated) database of one backend."""
    return BACKENDS[request.param](tmp_path, request)


@pytest.fixture
def open_store_on(store_url: str) -> Iterator[Callable[..., Store]]:
    """Open more stores on the test's database (closed at teardown), e.g. one per thread."""
    opened: list[Store] = []

    def opener(*, migrate: bool = True) -> Store:
        store = open_store(store_url, migrate=migrate)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store_on: Callable[..., Store]) -> Store:
    """A migrated store on a fresh database."""
    return open_store_on()


# -- backend-specific raw access, only for tests that deliberately damage a row ----------------


@pytest.fixture
def corrupt_job_args(store: Store) -> Callable[[int, str], None]:
    """Overwrite a job's stored args with ``text`` (e.g. invalid JSON), bypassing the store.

    Backend-specific on purpose: the store's own verbs never write invalid arguments.
    """

    def corrupt(job_id: int, text: str) -> None:
        if isinstance(store, SQLiteStore):
            conn = sqlite3.connect(store.path)
            try:
                with conn:
                    conn.execute("UPDATE conveyor_jobs SET args = ? WHERE id = ?", (text, job_id))
            finally:
                conn.close()
            return
        if isinstance(store, PostgresStore):
            try:
                json.loads(text)
            except ValueError:
                pytest.skip("a jsonb column cannot hold invalid JSON, so PostgreSQL never has it")
            with psycopg.connect(store.url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE conveyor_jobs SET args = %s::jsonb WHERE id = %s", (text, job_id)
                )
            return
        raise NotImplementedError(f"corrupt_job_args has no raw writer for {type(store)!r}")

    return corrupt


@pytest.fixture
def count_rows(store: Store) -> Callable[[str], int]:
    """The number of rows in one of the store's tables, read past the store's verbs (for
    tests of what a verb leaves behind where no verb reads it, such as orphaned rows)."""

    def count(table: str) -> int:
        if not table.replace("_", "").isalnum():
            raise ValueError(f"not a table name: {table!r}")
        if isinstance(store, SQLiteStore):
            conn = sqlite3.connect(store.path)
            try:
                return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            finally:
                conn.close()
        if isinstance(store, PostgresStore):
            with psycopg.connect(store.url, autocommit=True) as pg:
                found = pg.execute(f'SELECT count(*) FROM "{store.schema}".{table}').fetchone()
                return int(found[0]) if found else 0
        raise NotImplementedError(f"count_rows has no raw reader for {type(store)!r}")

    return count
