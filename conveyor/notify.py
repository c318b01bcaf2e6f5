"""Completion webhooks: what a job's ``notify_url`` receives when it finishes, and how.

A job enqueued with ``notify_url="https://..."`` gets one JSON POST when it finishes
(succeeded, dead or cancelled)::

    {"job_id": 42, "name": "reports.build", "queue": "default", "state": "succeeded",
     "result": {...}, "finished_at": 1717171717.25, "attempts": 1}

A dead or cancelled job has ``"error": {"type": ..., "message": ...}`` instead of
``"result"``. ``finished_at`` is epoch seconds. With a secret (``Conveyor(webhook_secret=...)``
or ``CONVEYOR_WEBHOOK_SECRET``) the request carries a ``Conveyor-Signature`` header, the
scheme of :mod:`conveyor.monitor.signing`; without one it is unsigned.

The workers' notifiers (:mod:`conveyor.worker.notifier`) send it and retry failures with
:data:`DEFAULT_BACKOFF`, giving up after :data:`MAX_ATTEMPTS` attempts.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

from conveyor.durations import Duration, to_seconds
from conveyor.errors import ConfigurationError, ConveyorError
from conveyor.models import Job, JobState
from conveyor.monitor.signing import SIGNATURE_HEADER, sign
from conveyor.outbound import opener, user_agent

__all__ = [
    "DEFAULT_BACKOFF",
    "MAX_ATTEMPTS",
    "SECRET_ENV",
    "WebhookError",
    "completion_body",
    "post_webhook",
    "retry_in",
    "webhook_settings",
]

SECRET_ENV = "CONVEYOR_WEBHOOK_SECRET"
DEFAULT_BACKOFF: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
"""Seconds to wait after the 1st, 2nd, ... failed attempt; the last value repeats."""
MAX_ATTEMPTS = 8
"""Attempts per delivery before it is given up."""
TIMEOUT = 10.0
"""Seconds to connect and for each read from the receiver."""

_QUOTED_BODY_CHARS = 200  # enough of an error page to see the receiver's reason
_ERROR_CHARS = 1000  # what is kept in the store


class WebhookError(ConveyorError):
    """One delivery attempt failed. ``hopeless`` when no retry can succeed (a bad URL)."""

    def __init__(self, problem: str, *, hopeless: bool = False) -> None:
        self.hopeless = hopeless
        if len(problem) > _ERROR_CHARS:
            problem = problem[: _ERROR_CHARS - 3] + "..."
        super().__init__(problem)


def webhook_settings(
    secret: str | None, backoff: Sequence[Duration] | None
) -> tuple[str | None, tuple[float, ...]]:
    """Validate ``Conveyor(webhook_secret=, webhook_backoff=)``: the secret (else the
    environment's, else None) and the retry waits in seconds."""
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ConfigurationError(
            "webhook_secret must be a non-empty string; leave it out (None) to send webhooks "
            "unsigned"
        )
    resolved = secret if secret is not None else (os.environ.get(SECRET_ENV) or None)
    if backoff is None:
        return resolved, DEFAULT_BACKOFF
    if isinstance(backoff, str) or not isinstance(backoff, Sequence) or not backoff:
        raise ConfigurationError(
            "webhook_backoff must be a non-empty list of durations, e.g. ['10s', '1m', '1h'] "
            f"(the waits before each retry; the last repeats), got {backoff!r}"
        )
    waits = tuple(to_seconds(item, what="webhook_backoff") for item in backoff)
    if any(wait <= 0 for wait in waits):
        raise ConfigurationError(f"webhook_backoff waits must be positive, got {backoff!r}")
    return resolved, waits


def retry_in(attempts: int, backoff: Sequence[float] = DEFAULT_BACKOFF) -> float | None:
    """Seconds until the next try after ``attempts`` failed attempts; None gives up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return backoff[min(attempts, len(backoff)) - 1]


def completion_body(job: Job) -> str:
    """The JSON text POSTed for a finished ``job``."""
    body: dict[str, Any] = {
        "job_id": job.id,
        "name": job.name,
        "queue": job.queue,
        "state": str(job.state),
    }
    if job.state is JobState.SUCCEEDED:
        body["result"] = job.result
    else:
        body["error"] = {"type": job.error_type, "message": job.error_message}
    body["finished_at"] = job.finished_at
    body["attempts"] = job.attempt
    return json.dumps(body, ensure_ascii=False, default=str)




def post_webhook(
    url: str, body: str, *, secret: str | None, timeout: float = TIMEOUT
) -> None:
    """POST ``body`` to ``url`` once, signed when there is a ``secret``.

    Raises :class:`WebhookError` unless the receiver answers 2xx: redirects, other statuses,
    connection errors and timeouts are failures to retry; a URL that is not http(s) is
    hopeless.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"{url!r} is not an http(s) URL; nothing was sent", hopeless=True)
    data = body.encode()
    headers = {"User-Agent": user_agent(), "Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, data, int(time.time()))
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise _status_error(exc) from exc
    except TimeoutError as exc:
        raise _timeout_error(timeout) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timeout_error(timeout) from exc
        raise WebhookError(
            f"could not connect ({exc.reason}); check that the receiver is running and "
            "reachable from the workers"
        ) from exc
    except (OSError, HTTPException, ValueError) as exc:
        # ValueError: http.client refuses some malformed URLs only when sending.
        raise WebhookError(
            f"the request failed ({type(exc).__name__}: {exc}); check the receiver's logs"
        ) from exc


def _status_error(exc: urllib.error.HTTPError) -> WebhookError:
    try:
        quoted = exc.read(_QUOTED_BODY_CHARS * 4).decode("utf-8", "replace")
    except (OSError, HTTPException):
        quoted = ""
    finally:
        exc.close()
    quoted = quoted[:_QUOTED_BODY_CHARS].strip() or "(empty body)"
    hint = (
        "redirects are not followed; give the final address as notify_url"
        if 300 <= exc.code < 400
        else "check the receiver's logs"
    )
    return WebhookError(f"the receiver answered HTTP {exc.code}: {quoted!r}; {hint}")


def _timeout_error(timeout: float) -> WebhookError:
    return WebhookError(f"no answer within {timeout:g}s; check the receiver is up and fast")
