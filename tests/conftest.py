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
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
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


def _admin(*statements: str) -> None:
    """Run ``statements`` in order, each in its own transaction, on one admin connection."""
    try:
        with psycopg.connect(postgres_admin_url(), autocommit=True, connect_timeout=5) as conn:
            for sql in statements:
                conn.execute(sql)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {postgres_admin_url()} ({exc}); start it or set "
            "CONVEYOR_TEST_POSTGRES_URL (.ci/run starts the local cluster)",
            pytrace=False,
        )


def _create_database(name: str, template: str | None = None) -> None:
    """Create a test database. Its commits do not wait for the WAL flush
    (``synchronous_commit = off``): no test crashes the server itself (the restart tests stop
    it cleanly, which flushes everything), and several hundred tests commit tens of thousands
    of times between them, each commit an fsync the suite waited for."""
    _admin(
        f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""),
        f'ALTER DATABASE "{name}" SET synchronous_commit = off',
    )


_spare: list[str] = []
"""Emptied databases waiting for their next test."""


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a migrated template database, built once per session."""
    from conveyor.store.postgres import PostgresStore

    name = f"conveyor_test_template_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}"')
    _create_database(name)
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
            _create_database(name, postgres_template)
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


# -- PgBouncer in transaction pooling mode ---------------------------------------------------

PGBOUNCER = os.environ.get("CONVEYOR_TEST_PGBOUNCER", "/usr/sbin/pgbouncer")
"""Debian's pgbouncer (scripts/test-prereqs installs it)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pgbouncer_ini(directory: Path, port: int) -> Path:
    """A transaction-pooling PgBouncer on ``port`` in front of the test server, trusting all."""
    server = urlsplit(postgres_admin_url())
    users = directory / "userlist.txt"
    users.write_text(f'"{server.username or "postgres"}" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        # Every database of the test server; JIT off where the pooler's connections start,
        # as docs/postgres.md tells users to configure it.
        f"* = host={server.hostname or '127.0.0.1'} port={server.port or 5432} "
        "connect_query='SET jit = off'\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {users}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 500\n"
        "default_pool_size = 8\n"
        # Tests drop and empty databases under the pooler's feet: check a server connection
        # before handing it out, and let idle ones go soon.
        "server_check_delay = 0\n"
        "server_idle_timeout = 5\n"
        "server_lifetime = 60\n"
    )
    return ini


@pytest.fixture(scope="session")
def pgbouncer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Start PgBouncer (transaction pooling) once per session; yields ``url -> the same
    database's URL through the pooler``. Fails, never skips, when pgbouncer is missing."""
    if not os.path.exists(PGBOUNCER):
        pytest.fail(
            f"no pgbouncer at {PGBOUNCER}: run scripts/test-prereqs (or apt-get install "
            "pgbouncer), or set CONVEYOR_TEST_PGBOUNCER",
            pytrace=False,
        )
    directory = tmp_path_factory.mktemp("pgbouncer")
    port = _free_port()
    ini = _pgbouncer_ini(directory, port)
    log = (directory / "pgbouncer.log").open("wb")
    # PgBouncer refuses to run as root; it reads its files before switching user.
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([PGBOUNCER, *user, str(ini)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        f"pgbouncer did not start: {(directory / 'pgbouncer.log').read_text()}",
                        pytrace=False,
                    )
                time.sleep(0.05)

        def through(url: str) -> str:
            parts = urlsplit(url)
            user_part = f"{parts.username}@" if parts.username else ""
            return urlunsplit(parts._replace(netloc=f"{user_part}127.0.0.1:{port}"))

        yield through
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
