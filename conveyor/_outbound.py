"""One signed JSON POST, as every webhook Conveyor sends it (alert sinks, ``notify_url``).

Each POST is one attempt: retries belong to the caller's outbox. The attempt is bounded:

- **where**: the host is resolved, every address it resolves to must be public or allowed
  (:mod:`conveyor._destinations`), and the connection goes to one of those checked addresses
  (so a DNS answer that changes between the check and the connect cannot redirect it). The
  ``Host`` header and the TLS server name stay the URL's host name.
- **how long**: ``timeout`` is a deadline for the whole attempt, from resolving the name to
  reading the status line and headers; a receiver answering one byte at a time cannot hold
  it longer.
- **how much**: at most :data:`QUOTED_BODY_CHARS` of an error answer is read, and nothing of
  a successful one.

Redirects are refused (following one would turn the POST into a GET without its body), and
proxy environment variables are not used: the address check needs the direct connection.
"""

from __future__ import annotations

import enum
import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import cast
from urllib.parse import urlsplit

from conveyor._destinations import Address, AllowList, host_address, non_public_reason
from conveyor._signing import SIGNATURE_HEADER, sign

QUOTED_BODY_CHARS = 200
"""How much of an error answer is quoted: enough of an error page to see the reason."""
_QUOTED_BYTES = QUOTED_BODY_CHARS * 4  # room for multi-byte characters, and no more


@cache
def user_agent() -> str:
    """``conveyor/<version>``."""
    try:
        return f"conveyor/{version('conveyor')}"
    except PackageNotFoundError:
        return "conveyor/0"


class Failure(enum.Enum):
    """How a POST failed, so each caller can add its own advice."""

    STATUS = "status"
    """The receiver answered, but not 2xx (a 3xx included: redirects are not followed)."""
    TIMEOUT = "timeout"
    """The deadline passed before the receiver's answer was read."""
    CONNECT = "connect"
    """The name did not resolve, or no checked address took the connection."""
    BROKEN = "broken"
    """The connection failed mid-request, or the URL was refused when sending."""
    REFUSED = "refused"
    """The host is (or resolves to) a non-public address that is not allowed; nothing sent."""


class PostFailed(Exception):
    """One POST failed; ``problem`` says how in a sentence without advice."""

    def __init__(self, failure: Failure, problem: str, status: int | None = None) -> None:
        super().__init__(problem)
        self.failure = failure
        self.problem = problem
        self.status = status


def post_json(
    url: str,
    body: bytes,
    *,
    secret: str | None,
    timeout: float,
    allow: AllowList,
    headers: Mapping[str, str] | None = None,
) -> None:
    """POST ``body`` (JSON) once, signed when there is a ``secret``; raise
    :class:`PostFailed` unless the receiver answers 2xx within ``timeout`` seconds in all.

    ``allow`` lists the non-public destinations that may be reached anyway.
    """
    deadline = time.monotonic() + timeout
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise PostFailed(Failure.BROKEN, f"the URL is malformed ({exc})") from exc
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise PostFailed(Failure.BROKEN, "the URL is not an absolute http(s) URL")
    addresses = _checked_addresses(host, port, allow, deadline, timeout)
    sent = {"User-Agent": user_agent(), **(headers or {}), "Content-Type": "application/json"}
    if secret is not None:
        sent[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _PinnedConnection(host, port, parts.scheme == "https", addresses, deadline)
    try:
        _connect(conn, host, timeout)
        _exchange(conn, target, body, sent, timeout)
    finally:
        conn.close()


def _connect(conn: _PinnedConnection, host: str, timeout: float) -> None:
    try:
        conn.connect()
    except TimeoutError as exc:
        raise _timed_out(timeout) from exc
    except ssl.SSLError as exc:
        raise PostFailed(Failure.CONNECT, f"the TLS handshake with {host} failed ({exc})") from exc
    except OSError as exc:
        raise PostFailed(Failure.CONNECT, f"could not connect ({exc})") from exc


def _exchange(
    conn: _PinnedConnection, target: str, body: bytes, headers: dict[str, str], timeout: float
) -> None:
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        try:
            if 200 <= response.status < 300:
                return  # the answer's body is not needed: leave it unread
            quoted = response.read(_QUOTED_BYTES).decode("utf-8", "replace")
        finally:
            response.close()
    except TimeoutError as exc:
        raise _timed_out(timeout) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # ValueError: http.client refuses some malformed targets and headers only when sending.
        raise PostFailed(
            Failure.BROKEN, f"the request failed ({type(exc).__name__}: {exc})"
        ) from exc
    quoted = quoted[:QUOTED_BODY_CHARS].strip() or "(empty body)"
    raise PostFailed(
        Failure.STATUS,
        f"the receiver answered HTTP {response.status}: {quoted!r}",
        response.status,
    )


def _timed_out(timeout: float) -> PostFailed:
    return PostFailed(
        Failure.TIMEOUT, f"no answer within {timeout:g}s (the deadline of the whole request)"
    )


# -- where: resolve, check, pin ----------------------------------------------------------------


def _checked_addresses(
    host: str, port: int, allow: AllowList, deadline: float, timeout: float
) -> list[Address]:
    """Every address ``host`` resolves to, once each has passed the check."""
    literal = host_address(host)
    addresses = [literal] if literal is not None else _resolve(host, port, deadline, timeout)
    if allow.allows_host(host):
        return addresses
    for address in addresses:
        reason = non_public_reason(address)
        if reason is not None and not allow.allows_address(address):
            via = "is" if literal is not None else f"resolves to {address},"
            raise PostFailed(
                Failure.REFUSED,
                f"refused to send to {host}: it {via} {reason}; webhooks go only to public "
                "addresses unless allowed",
            )
    return addresses


def _resolve(host: str, port: int, deadline: float, timeout: float) -> list[Address]:
    """Resolve ``host`` within the deadline (the resolver has no timeout of its own, so it
    runs on a daemon thread that is abandoned when the deadline passes)."""
    found: list[Address] = []
    problem: list[str] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
                address = host_address(str(sockaddr[0]))
                if address is not None and address not in found:
                    found.append(address)
        except (OSError, UnicodeError) as exc:
            problem.append(str(exc))
        finally:
            done.set()

    threading.Thread(target=lookup, name="conveyor-resolve", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise _timed_out(timeout)
    if problem or not found:
        reason = problem[0] if problem else "no addresses"
        raise PostFailed(Failure.CONNECT, f"could not resolve {host} ({reason})")
    return found


@cache
def _tls() -> ssl.SSLContext:
    """The TLS context every HTTPS post uses, made on the first one: loading the system's
    certificates costs more than the rest of this module's import, and most processes that
    import it (every ``conveyor`` command) never post over TLS."""
    return ssl.create_default_context()


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to ``host`` that connects only to the ``addresses`` checked for
    it, keeping ``host`` for the Host header and TLS (server name and certificate)."""

    def __init__(
        self, host: str, port: int, tls: bool, addresses: list[Address], deadline: float
    ) -> None:
        super().__init__(host, port)
        self.default_port = 443 if tls else 80  # so Host omits only the scheme's own port
        self._tls = tls
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        """Connect to the first checked address that answers, then shake hands for TLS."""
        error: OSError | None = None
        for address in self._addresses:
            raw = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET)
            try:
                raw.settimeout(_left(self._deadline))
                raw.connect((str(address), self.port))
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock = _tls().wrap_socket(raw, server_hostname=self.host) if self._tls else raw
            except OSError as exc:
                raw.close()
                error = exc
                continue
            # http.client only calls sendall, makefile and close on it.
            self.sock = cast(socket.socket, _DeadlineSocket(sock, self._deadline))
            return
        assert error is not None  # there is always at least one address
        raise error


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the webhook's deadline passed")
    return left


class _DeadlineSocket:
    """A socket whose every send and receive is bounded by what is left of one deadline.

    Like a real socket's ``makefile``, an open reader keeps it open: http.client closes the
    connection as soon as it has the headers of an answer that ends with the connection,
    before the body is read.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._readers = 0
        self._closing = False

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_left(self._deadline))
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        self._sock.settimeout(_left(self._deadline))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closing and self._readers <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closing = True
        if self._readers <= 0:
            self._sock.close()


class _DeadlineReader(io.RawIOBase):
    """The raw stream http.client reads the answer from, one bounded receive at a time."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.reader_closed()
        super().close()
