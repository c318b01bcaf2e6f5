"""The monitor's side of the outbox: how an alert notice is sent (:class:`AlertSender`), and
the monitor's round delivering the notices due now (:func:`deliver_due`).

Notices are rows of the one delivery table (:mod:`conveyor._outbox`), written when an incident
changes (:mod:`.incidents`) and sent by the one deliverer (:mod:`conveyor.delivery`), which
every worker also runs. A failed attempt is retried on the outbox's one schedule
(:data:`conveyor._outbox.RETRY`: 10 s, 30 s, 2 m, 10 m, 30 m, then hourly, given up after 8
attempts); every failure stays visible in ``store.list_deliveries(...)`` (``last_error``).
Nothing here raises: a failing sink must not stop the other sinks or the monitor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from conveyor._outbox import RETRY, DeliveryKind, DeliveryRow, RetrySchedule
from conveyor._webhooks import TIMEOUT
from conveyor.delivery import Deliverer, DeliveryReport, Failed
from conveyor.monitor.notice import Notice

if TYPE_CHECKING:
    from conveyor.monitor.sinks import Sink
    from conveyor.store.protocol import Store

__all__ = [
    "BACKOFF",
    "MAX_ATTEMPTS",
    "AlertSender",
    "DeliveryReport",
    "backoff",
    "deliver_due",
]

_ERROR_CHARS = 1000  # keep a receiver's chatty error page out of the store

BACKOFF: tuple[float, ...] = RETRY.waits
"""Seconds to wait after the 1st, 2nd, ... failed attempt; the last value repeats."""
MAX_ATTEMPTS = RETRY.max_attempts
"""Attempts per notification before it is given up."""


def backoff(attempts: int) -> float | None:
    """Seconds until the next try after ``attempts`` failed attempts; None gives up."""
    return RETRY.retry_in(attempts)


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


def _clip(text: str) -> str:
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def deliver_due(
    store: Store, sinks_by_name: Mapping[str, Sink], now: float | None = None
) -> DeliveryReport:
    """Try once to deliver each alert notice due now, oldest first, and wait for the outcomes.

    ``now`` is when retries are scheduled from (default: the store's clock). After a sink
    fails, its other notices claimed with it are given back untried for the next round,
    so one dead receiver costs one timeout per round.
    """
    deliverer = Deliverer(store, [AlertSender(sinks_by_name)])
    try:
        return deliverer.tick(now=now)
    finally:
        deliverer.close()
