"""Conveyor's pytest plugin: fixtures that put your app in a test mode on a fresh database.

Registered through the ``pytest11`` entry point, so installing Conveyor makes the fixtures
available. Tell them which app to use, either in the pytest configuration::

    [tool.pytest.ini_options]
    conveyor_app = "myproject.tasks:app"

or by defining a ``conveyor_app`` fixture that returns it. Then:

- ``conveyor``: the app in manual mode on a fresh SQLite file (per test);
- ``conveyor_inline``: the app in inline mode on a fresh SQLite file;
- ``conveyor_postgres``: the app in manual mode on a fresh PostgreSQL database, created on the
  server named by ``CONVEYOR_TEST_POSTGRES_URL`` and dropped after the test (the test is
  skipped, saying why, when that variable is unset; override ``conveyor_postgres_server`` to
  point elsewhere).

Each yields a :class:`conveyor.testing.TestSession`. See docs/testing.md.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.testing._session import TestSession

POSTGRES_ENV = "CONVEYOR_TEST_POSTGRES_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``conveyor_app`` configuration value."""
    parser.addini(
        "conveyor_app",
        "The app Conveyor's fixtures put in a test mode, as module:attribute "
        "(e.g. myproject.tasks:app)",
        default="",
    )


@pytest.fixture
def conveyor_app(request: pytest.FixtureRequest) -> Conveyor:
    """Your app, from the ``conveyor_app`` configuration value (override this fixture to
    return it directly instead)."""
    from conveyor._loading import load_app

    spec = str(request.config.getini("conveyor_app") or "")
    if not spec:
        pytest.fail(
            "Conveyor's fixtures need your app: set conveyor_app = \"module:attribute\" under "
            "[tool.pytest.ini_options] (or in pytest.ini), or define a conveyor_app fixture "
            "that returns it",
            pytrace=False,
        )
    return load_app(spec)


@pytest.fixture
def conveyor_sqlite_url(tmp_path: Path) -> str:
    """The URL of a fresh SQLite file for this test (created and migrated on first use)."""
    return f"sqlite:///{tmp_path / 'conveyor-test.db'}"


@pytest.fixture
def conveyor_postgres_server() -> str:
    """The PostgreSQL server test databases are created on: ``CONVEYOR_TEST_POSTGRES_URL``
    (a role that may create databases). The test is skipped when it is unset."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_ENV} to a PostgreSQL server to run this test")
    return url


@pytest.fixture
def conveyor_postgres_url(conveyor_postgres_server: str) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database for this test, dropped afterwards."""
    import psycopg

    name = f"conveyor_test_{secrets.token_hex(6)}"
    with psycopg.connect(conveyor_postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(conveyor_postgres_server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(conveyor_postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _session(app: Conveyor, mode: str, url: str) -> Iterator[TestSession]:
    from conveyor.testing._session import TestSession

    with TestSession(app, "inline" if mode == "inline" else "manual", url=url) as session:
        yield session


@pytest.fixture
def conveyor(conveyor_app: Conveyor, conveyor_sqlite_url: str) -> Iterator[TestSession]:
    """The app in manual mode on a fresh SQLite file: jobs wait for ``conveyor.drain()``."""
    yield from _session(conveyor_app, "manual", conveyor_sqlite_url)


@pytest.fixture
def conveyor_inline(conveyor_app: Conveyor, conveyor_sqlite_url: str) -> Iterator[TestSession]:
    """The app in inline mode on a fresh SQLite file: each job runs as it is enqueued."""
    yield from _session(conveyor_app, "inline", conveyor_sqlite_url)


@pytest.fixture
def conveyor_postgres(
    conveyor_app: Conveyor, conveyor_postgres_url: str
) -> Iterator[TestSession]:
    """The app in manual mode on a fresh PostgreSQL database."""
    yield from _session(conveyor_app, "manual", conveyor_postgres_url)
