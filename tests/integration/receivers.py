"""Loopback webhook receivers for the tests of alert sinks and completion webhooks: one that
records every POST, and one that answers a byte at a time."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conveyor.monitor.signing import SIGNATURE_HEADER

LOOPBACK = "127.0.0.1"
ALLOW_LOOPBACK = "127.0.0.1"
"""The allow-list entry that lets webhooks reach these receivers (non-public, so refused
unless allowed)."""


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


@dataclass
class Drip:
    """One request to a :class:`DripReceiver`: when it came and how the client left."""

    started: float
    ended: float | None = None
    hung_up: bool = False
    """The client closed the connection before the whole answer was sent."""


@dataclass
class DripReceiver:
    """A loopback server that reads a request, then sends a (valid, 204) answer one byte
    every ``interval`` seconds: a receiver that never times out a per-read timeout."""

    server: socketserver.ThreadingTCPServer
    interval: float
    drips: list[Drip] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook") -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}{path}"

    def hanging(self) -> int:
        """Requests still being answered."""
        return sum(1 for d in self.drips if d.ended is None)


DRIP_ANSWER = (
    b"HTTP/1.1 204 No Content\r\n" + b"X-Slow: " + b"z" * 200 + b"\r\nContent-Length: 0\r\n\r\n"
)
"""About two minutes of answer at two bytes a second."""


@contextmanager
def running_drip_receiver(interval: float = 0.5) -> Iterator[DripReceiver]:
    """Serve a :class:`DripReceiver` on a free loopback port until the block ends."""
    holder: list[DripReceiver] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            recv = holder[0]
            sock: socket.socket = self.request
            sock.settimeout(5)
            sock.recv(65536)  # the request (headers and a small body arrive together)
            drip = Drip(started=time.monotonic())
            recv.drips.append(drip)
            try:
                for byte in DRIP_ANSWER:
                    if recv.stop.wait(interval):
                        return
                    sock.sendall(bytes([byte]))
            except OSError:
                drip.hung_up = True
            finally:
                drip.ended = time.monotonic()

    server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    holder.append(DripReceiver(server, interval))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        holder[0].stop.set()
        server.shutdown()
        server.server_close()
        thread.join()
