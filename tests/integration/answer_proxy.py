"""A loopback TCP proxy in front of PostgreSQL that can withhold the server's answers.

Worker processes connect through it. After :meth:`AnswerProxy.hold` with a marker, on the
connection whose answers carry the marker (say, in a claimed job's arguments), the answer that
ends that transaction (the first, from the marker's on, with PostgreSQL's "ready for query,
idle": ``Z``, length 5, ``I``), and every byte after it, never reaches the client: the
transaction committed, the client waits. That is the marker's own answer for a statement that
is its own transaction, the COMMIT's for a transaction of several statements.
:meth:`AnswerProxy.cut` then closes those connections without handing over what was held, as a
broken network or a terminated backend would: a claim committed, its answer lost. Every other
connection is forwarded as it is, so the client's other statements (and its new connections)
carry on.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

IDLE = b"Z\x00\x00\x00\x05I"
"""PostgreSQL's ReadyForQuery message with status idle: the answer that ends a transaction."""


class AnswerProxy:
    """Forwards 127.0.0.1:<port> to the server of ``upstream_url``; see the module."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._url = upstream_url
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._held: list[tuple[socket.socket, socket.socket]] = []
        self._marker = b""
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @property
    def url(self) -> str:
        """``upstream_url`` pointing at the proxy."""
        parts = urlsplit(self._url)
        user, _, _ = parts.netloc.rpartition("@")
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))

    def hold(self, marker: bytes) -> None:
        """From now on, withhold the answer that carries ``marker`` (and what follows it)."""
        with self._lock:
            self._marker = marker

    def held_ports(self) -> list[int]:
        """The local ports of the proxy's server connections whose answers are withheld:
        ``client_port`` in ``pg_stat_activity`` names their backends."""
        with self._lock:
            return [server.getsockname()[1] for _, server in self._held]

    def cut(self, *, everything: bool = False) -> int:
        """Close the connections with a withheld answer (or, with ``everything``, all of
        them), dropping what was held; returns how many were closed."""
        with self._lock:
            pairs = self._pairs if everything else self._held
            self._pairs = [p for p in self._pairs if p not in pairs]
            self._held = []
            self._marker = b""
        for client, server in pairs:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        return len(pairs)

    def close(self) -> None:
        """Stop accepting and cut everything."""
        with self._lock:
            self._closed = True
        self._listener.close()
        self.cut(everything=True)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:  # accepted as the proxy closed: nothing will close them
                    client.close()
                    server.close()
                    return
                self._pairs.append((client, server))
            pair = (client, server)
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pair), daemon=True).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        answers_of: tuple[socket.socket, socket.socket] | None,
    ) -> None:
        held = seen = False
        tail = b""  # the marker, or the end of an answer, may straddle two reads
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            if answers_of is not None and not held:
                with self._lock:
                    marker, window = self._marker, tail + data
                    seen = seen or bool(marker and marker in window)
                    if seen and IDLE in window:
                        held = True  # until cut: this answer, and all after it
                        self._held.append(answers_of)
                tail = window[-max(len(marker), len(IDLE)):]
            if held:
                continue
            try:
                sink.sendall(data)
            except OSError:
                return
