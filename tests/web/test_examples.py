"""The example apps of examples/ (FastAPI, Starlette, Flask), driven as their README text says:
a route enqueues, the mounted dashboard's event stream is followed until the job is final, and
a worker (a drain in this process) runs the job while the stream is open."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from conveyor.testing import drain

from .conftest import _Server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "example-token-for-the-tests-0001"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """Import an example afresh (it reads CONVEYOR_URL and CONVEYOR_TOKEN at import) on a new
    SQLite file; close its app afterwards."""
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path / 'example.db'}")
    monkeypatch.setenv("CONVEYOR_TOKEN", TOKEN)
    loaded: list[ModuleType] = []

    def load(name: str) -> Any:
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        loaded.append(module)
        return module

    yield load
    for module in loaded:
        module.conveyor.close()


def follow(lines: Iterable[str | bytes], run_jobs: Callable[[], object]) -> list[dict[str, Any]]:
    """Read a job's event stream to its end; after its first event, start ``run_jobs`` (the
    worker) in a thread, so the stream sees the job change while it is open."""
    events: list[dict[str, Any]] = []
    worker: threading.Thread | None = None
    kind = ""
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        line = line.rstrip("\n")
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind == "job":
            events.append(json.loads(line.removeprefix("data: ")))
            if worker is None:
                worker = threading.Thread(target=run_jobs)
                worker.start()
    assert worker is not None, "the stream sent no job event"
    # The stream ended by itself after the final event; the worker has finished by then.
    worker.join(timeout=30)
    return events


@contextmanager
def served(web: Any) -> Iterator[httpx.Client]:
    """The example's ASGI app on a real uvicorn (lifespan on), and a client for it."""
    server = _Server(web, lifespan="on")
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
            yield client
    finally:
        server.stop()


def test_the_fastapi_example(load: Callable[[str], Any]) -> None:
    example = load("fastapi_app")
    with served(example.app) as client:
        created = client.post("/photos", json={"name": "cat.jpg", "width": 4000})
        assert created.status_code == 201, created.text
        body = created.json()
        # Committed with the request's transaction, before the response was sent.
        assert client.get(f"/photos/{body['photo_id']}").json() == {"found": True}
        with client.stream("GET", body["events"], headers=AUTH) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = follow(stream.iter_lines(), lambda: drain(example.conveyor))
    assert events[0]["state"] == "queued"
    assert events[-1]["state"] == "succeeded"
    assert events[-1]["result"] == {"photo_id": body["photo_id"], "width": 256}


def test_the_starlette_example(load: Callable[[str], Any]) -> None:
    example = load("starlette_app")
    with served(example.app) as client:
        refused = client.post("/reports", json={"account_id": "seven"})
        assert refused.status_code == 422 and "account_id" in refused.json()["error"]
        created = client.post("/reports", json={"account_id": 7})
        assert created.status_code == 202, created.text
        with client.stream("GET", created.json()["events"], headers=AUTH) as stream:
            events = follow(stream.iter_lines(), lambda: drain(example.conveyor))
    assert events[-1]["state"] == "succeeded"
    assert events[-1]["result"] == {"account_id": 7, "rows": 1234}


def test_the_flask_example(load: Callable[[str], Any], tmp_path: Path) -> None:
    example = load("flask_app")
    client = example.app.test_client()
    created = client.post("/signups", json={"email": "ada@example.com"})
    assert created.status_code == 201, created.text
    body = created.get_json()
    assert client.post("/signups", json={"email": "ada@example.com"}).status_code == 409
    # No email: the job's arguments do not fit, so the user's row is rolled back with it.
    refused = client.post("/signups", json={})
    assert refused.status_code == 422 and "email" in refused.get_json()["error"]
    conn = sqlite3.connect(tmp_path / "example.db")
    try:
        assert conn.execute("SELECT email FROM users").fetchall() == [("ada@example.com",)]
    finally:
        conn.close()
    stream = client.get(body["events"], headers=AUTH, buffered=False)
    try:
        assert stream.mimetype == "text/event-stream"
        events = follow(_lines(stream.response), lambda: drain(example.conveyor))
    finally:
        stream.close()
    assert events[-1]["state"] == "succeeded"
    assert events[-1]["result"] == "welcomed ada@example.com"


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """A WSGI body's chunks as lines."""
    pending = ""
    for chunk in chunks:
        pending += chunk.decode()
        *lines, pending = pending.split("\n")
        yield from lines
    if pending:
        yield pending
