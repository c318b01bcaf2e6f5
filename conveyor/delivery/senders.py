"""How one delivery is sent: the :class:`Sender` contract, and completion webhooks' sender.

A sender makes one attempt and says how it went (:class:`Failed`, or None when delivered); it
never raises, so a failing receiver cannot stop the others. The alert sender lives with the
monitor (:class:`conveyor.monitor.delivery.AlertSender`), which this package does not import.
Both kinds sign through the same path: :func:`conveyor._outbound.post_json` (webhook sinks and
``notify_url`` alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from conveyor._destinations import AllowList, redacted
from conveyor._outbox import RETRY, DeliveryKind, DeliveryRow, RetrySchedule
from conveyor._webhooks import TIMEOUT, WebhookError, post_webhook


@dataclass(frozen=True, slots=True)
class Failed:
    """One failed attempt: what went wrong, and whether no retry can succeed."""

    error: str
    hopeless: bool = False


class Sender(Protocol):
    """Sends the deliveries of one kind."""

    kind: DeliveryKind
    schedule: RetrySchedule
    """When a failure is retried, and when it is given up."""
    timeout: float
    """Seconds one attempt may take at most (a claim's lease outlives it)."""
    logger: str
    """The logger its failed attempts go to (where they always went, so logging set up for
    them keeps working)."""
    serial: bool
    """True: a destination's rows are sent one after the other, and once one fails the rest
    wait (one dead receiver costs one timeout). False: every row on its own."""

    def send(self, row: DeliveryRow) -> Failed | None:
        """Make one attempt; None when delivered."""
        ...

    def describe(self, row: DeliveryRow) -> str:
        """The row in a log line."""
        ...


class WebhookSender:
    """Completion webhooks: the row's body POSTed to its URL, signed with ``secret`` if any.

    ``allow`` are the non-public destinations that may be reached anyway; ``backoff`` replaces
    the schedule's waits (``Conveyor(webhook_backoff=)``); ``timeout`` is each POST's deadline.
    """

    kind = DeliveryKind.WEBHOOK
    logger = "conveyor.notifier"
    serial = False

    def __init__(
        self,
        *,
        secret: str | None,
        allow: AllowList | None = None,
        backoff: Sequence[float] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.secret = secret
        self.allow = allow or AllowList()
        self.schedule = RETRY if backoff is None else RETRY.with_waits(backoff)
        self.timeout = timeout

    def send(self, row: DeliveryRow) -> Failed | None:
        """POST once within the deadline."""
        try:
            post_webhook(
                row.destination,
                row.payload_json,
                secret=self.secret,
                allow=self.allow,
                timeout=self.timeout,
            )
        except WebhookError as exc:
            return Failed(str(exc), hopeless=exc.hopeless)
        return None

    def describe(self, row: DeliveryRow) -> str:
        """``webhook for job 5 to https://host/...`` (credentials redacted)."""
        return f"webhook for job {row.subject} to {redacted(row.destination)}"
