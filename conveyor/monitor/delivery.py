"""The monitor's side of the outbox: deliver the alert notices due now, from the monitor's round.

Notices are rows of the one delivery table (:mod:`conveyor.outbox`), written when an incident
changes (:mod:`.incidents`) and sent by the one deliverer (:mod:`conveyor.delivery`), which
every worker also runs. A failed attempt is retried on the outbox's one schedule
(:data:`conveyor.outbox.RETRY`: 10 s, 30 s, 2 m, 10 m, 30 m, then hourly, given up after 8
attempts); every failure stays visible in ``store.list_deliveries(...)`` (``last_error``).
Nothing here raises: a failing sink must not stop the other sinks or the monitor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from conveyor.delivery import AlertSender, Deliverer, DeliveryReport
from conveyor.outbox import RETRY

if TYPE_CHECKING:
    from conveyor.monitor.sinks import Sink
    from conveyor.store.protocol import Store

__all__ = ["BACKOFF", "MAX_ATTEMPTS", "DeliveryReport", "backoff", "deliver_due"]

BACKOFF: tuple[float, ...] = RETRY.waits
"""Seconds to wait after the 1st, 2nd, ... failed attempt; the last value repeats."""
MAX_ATTEMPTS = RETRY.max_attempts
"""Attempts per notification before it is given up."""


def backoff(attempts: int) -> float | None:
    """Seconds until the next try after ``attempts`` failed attempts; None gives up."""
    return RETRY.retry_in(attempts)


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
