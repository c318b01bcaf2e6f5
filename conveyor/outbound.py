"""One signed JSON POST, as every webhook Conveyor sends it (alert sinks, ``notify_url``).

Each POST is one attempt: retries belong to the caller's outbox. Redirects are refused
(following one would turn the POST into a GET without its body).
"""

from __future__ import annotations

import enum
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from functools import cache
from http.client import HTTPException
from importlib.metadata import PackageNotFoundError, version

from conveyor.monitor.signing import SIGNATURE_HEADER, sign

QUOTED_BODY_CHARS = 200
"""How much of an error answer is quoted: enough of an error page to see the reason."""


@cache
def user_agent() -> str:
    """``conveyor/<version>``."""
    try:
        return f"conveyor/{version('conveyor')}"
    except PackageNotFoundError:
        return "conveyor/0"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Treat a redirect as a failure."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class Failure(enum.Enum):
    """How a POST failed, so each caller can add its own advice."""

    STATUS = "status"
    """The receiver answered, but not 2xx (a 3xx included: redirects are not followed)."""
    TIMEOUT = "timeout"
    CONNECT = "connect"
    BROKEN = "broken"
    """The connection failed mid-request, or the URL was refused when sending."""


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
    headers: Mapping[str, str] | None = None,
) -> None:
    """POST ``body`` (JSON) once, signed when there is a ``secret``; raise
    :class:`PostFailed` unless the receiver answers 2xx within ``timeout``."""
    sent = {"User-Agent": user_agent(), **(headers or {}), "Content-Type": "application/json"}
    if secret is not None:
        sent[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
    request = urllib.request.Request(url, data=body, headers=sent, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise PostFailed(
            Failure.STATUS, f"the receiver answered HTTP {exc.code}: {_quote(exc)!r}", exc.code
        ) from exc
    except TimeoutError as exc:
        raise _timed_out(timeout) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timed_out(timeout) from exc
        raise PostFailed(Failure.CONNECT, f"could not connect ({exc.reason})") from exc
    except (OSError, HTTPException, ValueError) as exc:
        # ValueError: http.client refuses some malformed URLs only when sending.
        raise PostFailed(
            Failure.BROKEN, f"the request failed ({type(exc).__name__}: {exc})"
        ) from exc


def _timed_out(timeout: float) -> PostFailed:
    return PostFailed(Failure.TIMEOUT, f"no answer within {timeout:g}s")


def _quote(exc: urllib.error.HTTPError) -> str:
    """The start of an error answer's body (the receiver's reason, usually)."""
    try:
        quoted = exc.read(QUOTED_BODY_CHARS * 4).decode("utf-8", "replace")
    except (OSError, HTTPException):
        quoted = ""
    finally:
        exc.close()
    return quoted[:QUOTED_BODY_CHARS].strip() or "(empty body)"
