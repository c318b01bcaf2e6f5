"""The monitor inside real worker processes: one active (a lease), alerts delivered once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conveyor.monitor.signing import SIGNATURE_HEADER, verify
from conveyor.testing import eventually

from .conftest import Workers

pytestmark = pytest.mark.slow


class Hook:
    """A loopback webhook receiver that keeps every verified body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if verify("it-secret", self.headers.get(SIGNATURE_HEADER, ""), body,
                          now=time.time()):
                    hook.bodies.append(json.loads(body))
                else:
                    hook.bad_signatures += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/alerts"

    def kinds(self) -> list[tuple[str, str, str]]:
        return [(b["kind"], b["rule"], b["subject"]) for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def test_a_failing_schedule_alerts_once_and_resolves_once(
    workers: Workers, hook: Hook, tmp_path: Path
) -> None:
    flag = tmp_path / "source-is-up"
    workers.env.update(IT_HOOK_URL=hook.url, IT_FLAG=str(flag))
    # Two supervisors: two monitors compete for the lease, and only one may announce.
    procs = [workers.start("alertapp:app", processes=1, concurrency=4) for _ in range(2)]
    eventually(lambda: hook.kinds() or None, timeout=30)
    firing = hook.bodies[0]
    assert (firing["kind"], firing["rule"], firing["subject"]) == (
        "firing", "missed_run", "nightly"
    )
    assert "failed into the dead-letter queue" in firing["summary"]
    assert "the report source is down" in firing["summary"]

    flag.touch()  # the source is back: the next slots succeed
    eventually(lambda: ("resolved", "missed_run", "nightly") in hook.kinds() or None, timeout=30)
    time.sleep(2)  # later rounds of either monitor must not announce anything more
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert hook.kinds() == [
        ("firing", "missed_run", "nightly"),
        ("resolved", "missed_run", "nightly"),
    ]
    assert hook.bad_signatures == 0
    [incident] = workers.app.store.list_incidents(include_resolved=True)
    assert incident.state == "resolved" and incident.subject == "nightly"
