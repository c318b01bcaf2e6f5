"""Fixtures shared by every test layer: real PostgreSQL databases made from a template.

Tests read ``CONVEYOR_TEST_POSTGRES_URL`` when set, else use the local server. One migrated
template database is built per test session; each test gets its own database copied from it
with ``CREATE DATABASE ... TEMPLATE`` (fast, and fully isolated), dropped afterwards. There is
no silent skip: if PostgreSQL cannot be reached, the PostgreSQL tests fail and say why.
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
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_postgres_url(postgres_template: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, migrated databases (each dropped at teardown)."""
    made: list[str] = []

    def make() -> str:
        name = f"conveyor_test_{os.getpid()}_{next(_counter)}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
        made.append(name)
        return with_database(postgres_admin_url(), name)

    yield make
    for name in made:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
