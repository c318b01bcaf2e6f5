"""Fixtures of the web tests: the dashboard served by a real uvicorn on loopback.

``served`` runs :func:`conveyor.web.create_app` for a small app (:func:`make_app`) once on
SQLite and once on PostgreSQL, on a free port of 127.0.0.1, in a thread of the test process.
Tests talk to it over real HTTP (httpx) and inspect or drive the same database through
``served.app.store``. ``serve`` does the same for an app a test builds itself.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from conveyor import Conveyor
from conveyor.web import create_app
from conveyor.web.throttle import AttemptLimiter

ADMIN_TOKEN = "admin-token-for-web-tests-0001"
READ_TOKEN = "read-token-for-web-tests-00001"


def make_app(url: str) -> Conveyor:
    """The jobs the web tests enqueue: ``add`` (queue default), ``echo`` and ``report`` (queue
    io). Nothing runs them unless a test claims them through the store or starts a worker."""
    app = Conveyor(url)

    @app.job(name="add")
    def add(ctx: Any, x: int, y: int) -> int:
        return x + y

    @app.job(name="echo", queue="io")
    def echo(ctx: Any, text: str) -> str:
        return text

    @app.job(name="report", queue="io", retries=0)
    def report(ctx: Any, day: str, pages: int = 1) -> dict[str, Any]:
        return {"day": day, "pages": pages}

    return app


@dataclass
class Served:
    """A dashboard being served: where, with which tokens, over which app."""

    url: str
    """Base URL, e.g. ``http://127.0.0.1:53817`` (no trailing slash)."""
    app: Conveyor
    web: Starlette
    backend: str
    admin_token: str = ADMIN_TOKEN
    read_token: str = READ_TOKEN
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = ADMIN_TOKEN, **kwargs: Any) -> httpx.Client:
        """An httpx client on the server, with ``Authorization: Bearer <token>`` unless
        ``token`` is None (closed at teardown). Redirects are not followed."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 15.0)
        client = httpx.Client(base_url=self.url, headers=headers, **kwargs)
        self.clients.append(client)
        return client

    @property
    def admin(self) -> httpx.Client:
        """A client with the admin token."""
        return self.client(self.admin_token)

    @property
    def reader(self) -> httpx.Client:
        """A client with the read-only token."""
        return self.client(self.read_token)

    @property
    def anonymous(self) -> httpx.Client:
        """A client without credentials."""
        return self.client(None)

    def browser(self, token: str = ADMIN_TOKEN) -> httpx.Client:
        """A client logged in like a browser: a session cookie, no bearer header."""
        client = self.client(None)
        response = client.get("/login", params={"token": token})
        assert response.status_code == 303, response.text
        return client

    def close(self) -> None:
        """Close the clients this fixture opened."""
        for client in self.clients:
            client.close()


class _Server:
    """uvicorn in a daemon thread, on a socket bound before it starts (no port race).

    ``lifespan="on"`` runs the app's startup and shutdown (the example apps migrate there)."""

    def __init__(self, web: Starlette, lifespan: str = "off") -> None:
        # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off only on sockets
        # whose protocol says TCP, and with it on every keep-alive request waited 40 ms for
        # the client's delayed ACK (uvicorn writes a response's head and body apart).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            web, log_level="warning", access_log=False, lifespan=lifespan, ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database of ``backend`` ("sqlite" or "postgres") for one test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'conveyor.db'}"
    make: Callable[[], str] = request.getfixturevalue("fresh_postgres_url")
    return make()


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Serve the dashboard of any app: ``serve(app, backend="sqlite", **create_app_kwargs)``.

    Tokens default to ADMIN_TOKEN (admin) and READ_TOKEN (read), and failed attempts are
    all but unlimited. Servers stop and the apps'
    stores close at teardown.
    """
    running: list[tuple[_Server, Served]] = []

    def start(app: Conveyor, backend: str = "sqlite", **kwargs: Any) -> Served:
        kwargs.setdefault("tokens", {ADMIN_TOKEN: "admin", READ_TOKEN: "read"})
        # Tests that walk every route with a wrong token would trip the default limit on
        # failed attempts; tests of that limit pass their own.
        kwargs.setdefault("attempt_limiter", AttemptLimiter(burst=100_000))
        app.store.migrate()
        web = create_app(app, **kwargs)
        server = _Server(web)
        server.start()
        served = Served(f"http://127.0.0.1:{server.port}", app, web, backend)
        running.append((server, served))
        return served

    yield start
    for server, served in running:
        served.close()
        server.stop()
        served.app.close()


@pytest.fixture(params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, serve: Callable[..., Served]
) -> Served:
    """The dashboard of :func:`make_app`, on a fresh database of each backend."""
    backend: str = request.param
    return serve(make_app(database_url(backend, tmp_path, request)), backend)
