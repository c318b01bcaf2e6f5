"""A producer whose enqueue cannot be written gets a clear error, never a silent drop."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import psycopg
import pytest

from conveyor import Conveyor, StoreUnavailableError
from conveyor.store.protocol import JobFilter


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_enqueue_to_an_unreachable_server_says_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="psycopg.pool")
    app = Conveyor(f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere")
    with pytest.raises(StoreUnavailableError, match="Connection refused"):
        app.store  # noqa: B018 - opening the store is what fails
    app.close()


def test_enqueue_after_the_connections_died_raises_then_recovers(
    fresh_postgres_url: Callable[[], str],
) -> None:
    url = fresh_postgres_url()
    app = Conveyor(url)

    @app.job(name="ping")
    def ping(ctx: object) -> None:
        return None

    ping.enqueue()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    # The pooled connection is dead: this enqueue is refused loudly, not dropped silently...
    with pytest.raises(StoreUnavailableError, match="safe to retry"):
        ping.enqueue()
    # ...and the next one goes through on a fresh connection.
    ping.enqueue()
    assert app.store.count_jobs(JobFilter()) == 2

    async def produce() -> None:
        await ping.enqueue_async()
        await app.aclose()

    asyncio.run(produce())
    assert app.store.count_jobs(JobFilter()) == 3
    app.close()
