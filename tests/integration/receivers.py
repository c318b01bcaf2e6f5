"""A loopback webhook receiver for the tests of alert sinks and completion webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conveyor.monitor.signing import SIGNATURE_HEADER

LOOPBACK = "127.0.0.1"


@dataclass
class Hit:
    """One request the receiver got."""

    path: str
    body: bytes
    signature: str | None
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback HTTP server recording every POST; answers 500 ``fail_first`` times first."""

    server: ThreadingHTTPServer
    hits: list[Hit] = field(default_factory=list)
    fail_first: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://{LOOPBACK}:{self.server.server_port}{path}"

    def delivered(self) -> list[Hit]:
        """The requests answered with success."""
        return [h for h in self.hits if h.status == 204]

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies of the requests answered with success, in arrival order."""
        return [h.json() for h in self.delivered()]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """Serve a :class:`Receiver` on a free loopback port until the block ends."""
    holder: list[Receiver] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recv = holder[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = 500 if recv.fail_first > 0 else 204
                recv.fail_first = max(0, recv.fail_first - 1)
                recv.hits.append(Hit(self.path, body, self.headers.get(SIGNATURE_HEADER), status))
            answer = b"try later" if status == 500 else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
