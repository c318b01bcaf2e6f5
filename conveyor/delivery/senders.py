"""How one delivery of each kind is sent: an alert to a monitor sink, a webhook as a POST.

A sender makes one attempt and says how it went (:class:`Failed`, or None when delivered); it
never raises, so a failing receiver cannot stop the others. Both kinds sign through the same
path: :func:`conveyor.outbound.post_json` (webhook sinks and ``notify_url`` alike).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from conveyor.destinations import AllowList, redacted
from conveyor.notify import TIMEOUT, WebhookError, post_webhook
from conveyor.outbox import RETRY, DeliveryKind, DeliveryRow, RetrySchedule

if TYPE_CHECKING:  # the monitor's types; sending an alert imports them when it runs
    from conveyor.monitor.sinks import Sink

ERROR_CHARS = 1000  # keep a receiver's chatty error page out of the store


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


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


class AlertSender:
    """Alerts: each row's notice to the sink its destination names (``sinks`` by name)."""

    kind = DeliveryKind.ALERT
    logger = "conveyor.monitor"
    serial = True

    def __init__(self, sinks: Mapping[str, Sink], schedule: RetrySchedule = RETRY) -> None:
        self.sinks = dict(sinks)
        self.schedule = schedule
        self.timeout = max(
            (float(getattr(sink, "timeout", TIMEOUT)) for sink in self.sinks.values()),
            default=TIMEOUT,
        )

    def send(self, row: DeliveryRow) -> Failed | None:
        """Send the row's notice to its sink once."""
        from conveyor.monitor.notice import Notice  # the monitor sits beside this layer

        sink = self.sinks.get(row.destination)
        if sink is None:
            configured = ", ".join(sorted(self.sinks)) or "none"
            return Failed(
                f"sink {row.destination} is no longer configured (configured: {configured}); "
                "the notification was given up",
                hopeless=True,
            )
        try:
            notice = Notice.from_json(json.loads(row.payload_json))
        except (KeyError, TypeError, ValueError) as exc:
            return Failed(
                f"the stored notification cannot be read ({type(exc).__name__}: {exc})",
                hopeless=True,
            )
        try:
            sink.send(notice)
        except Exception as exc:  # a custom sink may raise anything; it must not stop the others
            return Failed(_clip(str(exc) or type(exc).__name__))
        return None

    def describe(self, row: DeliveryRow) -> str:
        """``alert notification 3 (incident 2, firing) to log``."""
        return f"alert notification {row.id} (incident {row.subject}, {row.event}) to " + (
            row.destination
        )


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
