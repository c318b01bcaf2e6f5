"""``conveyor worker --health-port``: /livez follows the event loop, /readyz the store."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from conveyor.testing import eventually

from .conftest import Workers, load_itapp

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    """GET a probe on the loopback: its status and JSON body (0 while nothing listens)."""
    try:
        with DIRECT.open(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except urllib.error.URLError:
        return 0, {}


def test_livez_fails_while_a_handler_blocks_the_loop_and_recovers(workers: Workers) -> None:
    port = free_port()
    app = load_itapp(f"health_{port}", "healthapp")
    workers.start(
        "healthapp:app", queues=["health"], processes=2, health_port=port,
        health_host="127.0.0.1", health_stall=1.5, lease=30,
    )

    def both_live() -> bool:
        code, body = probe(port, "/livez")
        assert code == 200, body
        return True

    eventually(both_live, timeout=30, interval=0.2)
    code, body = probe(port, "/readyz")
    assert (code, body) == (200, {"status": "ok"})
    handle = app.get("block_loop").enqueue(seconds=3.0)

    def unhealthy() -> list[str]:
        code, body = probe(port, "/livez")
        assert code == 503, body
        problems: list[str] = body["problems"]
        return problems

    problems = eventually(unhealthy, timeout=10, interval=0.2)
    # The blocked process is named (on a loaded box another may be late too).
    assert any("its event loop has not run for" in problem for problem in problems), problems
    eventually(both_live, timeout=15, interval=0.2)
    assert handle.result(timeout=10) is None
    assert probe(port, "/nothing")[0] == 404
    app.close()
