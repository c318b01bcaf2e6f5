"""Fixtures shared by every test layer: real PostgreSQL databases made from a template.

Tests read ``CONVEYOR_TEST_POSTGRES_URL`` when set, else use the local server. One migrated
template database is built per test session; each test gets its own database copied from it
with ``CREATE DATABASE ... TEMPLATE`` (fully isolated). After the test, a database that still
holds only Conveyor's tables is emptied and handed to a later test: copying a template costs
about a quarter of a second, emptying a few small tables a few milliseconds, and with hundreds
of PostgreSQL tests that is minutes of the suite. Anything unusual (another schema, another
table) and the database is dropped instead. There is no silent skip: if PostgreSQL cannot be
reached, the PostgreSQL tests fail and say why.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_counter = itertools.count()


def postgres_admin_url() -> str:
    """The server tests use, as a URL to its maintenance database."""
    return os.environ.get("CONVEYOR_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _admin(sql: str) -> None:
    try:
        with psycopg.connect(postgres_admin_url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {postgres_admin_url()} ({exc}); start it or set "
            "CONVEYOR_TEST_POSTGRES_URL (.ci/run starts the local cluster)",
            pytrace=False,
        )


_spare: list[str] = []
"""Emptied databases waiting for their next test."""


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a migrated template database, built once per session."""
    from conveyor.store.postgres import PostgresStore

    name = f"conveyor_test_template_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}"')
    _admin(f'CREATE DATABASE "{name}"')
    store = PostgresStore(with_database(postgres_admin_url(), name))
    store.close()
    yield name
    while _spare:
        _admin(f'DROP DATABASE IF EXISTS "{_spare.pop()}" WITH (FORCE)')
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty(name: str) -> bool:
    """Empty a used test database for reuse; False when it holds more than Conveyor's tables
    (a test made its own schema or table), so it must be dropped instead."""
    _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    with psycopg.connect(
        with_database(postgres_admin_url(), name), autocommit=True, connect_timeout=5
    ) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname NOT IN ('public', 'information_schema')"
        ).fetchall()
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        if schemas or not all(t.startswith("conveyor_") for t in tables):
            return False
        with conn.transaction():
            for table in tables:
                if table != "conveyor_schema_version":
                    conn.execute(f'DELETE FROM "{table}"')  # type: ignore[arg-type]
            for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND is_identity = 'YES'"
            ).fetchall():
                conn.execute(
                    f'ALTER TABLE "{table}" ALTER COLUMN "{column}" RESTART'  # type: ignore[arg-type]
                )
    return True


@pytest.fixture
def fresh_postgres_url(postgres_template: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, migrated databases: a copy of the template, or an emptied one."""
    made: list[str] = []

    def make() -> str:
        if _spare:
            name = _spare.pop()
        else:
            name = f"conveyor_test_{os.getpid()}_{next(_counter)}"
            _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
        made.append(name)
        return with_database(postgres_admin_url(), name)

    yield make
    for name in made:
        try:
            reusable = _empty(name)
        except psycopg.Error:
            reusable = False
        if reusable:
            _spare.append(name)
        else:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
