"""Completion webhooks: what a job's ``notify_url`` receives when it finishes, and how.

A job enqueued with ``notify_url="https://..."`` gets one JSON POST when it finishes
(succeeded, dead or cancelled)::

    {"job_id": 42, "name": "reports.build", "queue": "default", "state": "succeeded",
     "result": {...}, "finished_at": 1717171717.25, "attempts": 1}

A dead or cancelled job has ``"error": {"type": ..., "message": ...}`` instead of
``"result"``. ``finished_at`` is epoch seconds. With a secret (``Conveyor(webhook_secret=...)``
or ``CONVEYOR_WEBHOOK_SECRET``) the request carries a ``Conveyor-Signature`` header, the
scheme of :mod:`conveyor.monitor.signing`; without one it is unsigned.

Each finish is a row of the outbox (:mod:`conveyor._outbox`), next to the monitor's alert
notices: the delivery service every worker runs (:mod:`conveyor.delivery`) adds it, POSTs it
under a lease and retries failures on the outbox's one schedule (:data:`conveyor._outbox.RETRY`:
:data:`DEFAULT_BACKOFF`, giving up after :data:`MAX_ATTEMPTS` attempts). This module holds
what is sent and the settings; ``conveyor jobs show`` reports delivered / failing / gave up.

The URL comes from whoever enqueues (possibly over the HTTP API), so it may only point at a
public address: a literal non-public address or credentials are refused at enqueue, and every
address the host resolves to is checked again when sending (:mod:`conveyor._destinations`).
Internal receivers are allowed with ``Conveyor(webhook_allow=[...])`` or
``CONVEYOR_WEBHOOK_ALLOW``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from conveyor._destinations import ALLOW_ENV, AllowList
from conveyor._durations import Duration, to_seconds
from conveyor._outbound import Failure, PostFailed, post_json
from conveyor._outbox import RETRY
from conveyor.errors import ConfigurationError, ConveyorError
from conveyor.models import Job, JobState

__all__ = [
    "DEFAULT_BACKOFF",
    "MAX_ATTEMPTS",
    "SECRET_ENV",
    "WebhookError",
    "completion_body",
    "post_webhook",
    "retry_in",
    "webhook_allow",
    "webhook_settings",
    "webhook_timeout",
]

SECRET_ENV = "CONVEYOR_WEBHOOK_SECRET"
DEFAULT_BACKOFF: tuple[float, ...] = RETRY.waits
"""Seconds to wait after the 1st, 2nd, ... failed attempt; the last value repeats (the
outbox's one schedule, which alerts follow too)."""
MAX_ATTEMPTS = RETRY.max_attempts
"""Attempts per delivery before it is given up."""
TIMEOUT = 10.0
"""Seconds each whole POST may take (resolving, connecting, sending, reading the answer)."""

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


def webhook_allow(allow: Iterable[str] | None) -> AllowList:
    """Validate ``Conveyor(webhook_allow=)``: the non-public destinations ``notify_url`` may
    reach anyway (None: the ``CONVEYOR_WEBHOOK_ALLOW`` environment variable, else none)."""
    return AllowList.parse(allow, what="webhook_allow")


def webhook_timeout(timeout: Duration | None) -> float:
    """Validate ``Conveyor(webhook_timeout=)``: the deadline of each POST, in seconds."""
    if timeout is None:
        return TIMEOUT
    seconds = to_seconds(timeout, what="webhook_timeout")
    if seconds <= 0:
        raise ConfigurationError(
            f"webhook_timeout must be more than zero seconds, e.g. '10s', got {timeout!r}"
        )
    return seconds


def retry_in(attempts: int, backoff: Sequence[float] = DEFAULT_BACKOFF) -> float | None:
    """Seconds until the next try after ``attempts`` failed attempts; None gives up."""
    return RETRY.with_waits(backoff).retry_in(attempts)


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
    url: str,
    body: str,
    *,
    secret: str | None,
    allow: AllowList,
    timeout: float = TIMEOUT,
) -> None:
    """POST ``body`` to ``url`` once, signed when there is a ``secret``, within ``timeout``
    seconds in all.

    Raises :class:`WebhookError` unless the receiver answers 2xx: redirects, other statuses,
    connection errors and timeouts are failures to retry; a URL that is not http(s), and a
    host that is or resolves to a non-public address not in ``allow``, are hopeless.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"{url!r} is not an http(s) URL; nothing was sent", hopeless=True)
    try:
        post_json(url, body.encode(), secret=secret, timeout=timeout, allow=allow)
    except PostFailed as exc:
        raise WebhookError(
            f"{exc.problem}; {_ADVICE[exc.failure]}", hopeless=exc.failure is Failure.REFUSED
        ) from exc


_ADVICE = {
    Failure.STATUS: "check the receiver's logs (redirects are not followed: give the final "
    "address as notify_url)",
    Failure.TIMEOUT: "check the receiver is up and answers fast (or raise webhook_timeout)",
    Failure.REFUSED: "nothing was sent and it will not be retried; for an internal receiver, "
    f"allow it with Conveyor(webhook_allow=[...]) or {ALLOW_ENV} (a network such as "
    "'10.0.0.0/8' or the host name) in the workers",
    Failure.CONNECT: "check that the receiver is running and reachable from the workers",
    Failure.BROKEN: "check the receiver's logs",
}
