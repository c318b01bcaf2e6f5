"""The outbox: deliver due notifications to their sinks, retrying failures with backoff.

Notifications are written to the store when an incident changes (:mod:`.incidents`) and sent
here, one attempt per notification per round. A failed attempt is retried after 10 s, 30 s,
2 m, 10 m, 30 m, then hourly, and given up after :data:`MAX_ATTEMPTS`; every failure stays
visible in ``store.list_notifications(...)`` (``last_error``). Nothing here raises: a failing
sink must not stop the other sinks or the monitor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor.monitor.notice import Notice

if TYPE_CHECKING:
    from conveyor.monitor.sinks import Sink
    from conveyor.store.protocol import Store
    from conveyor.store.watch_types import NotificationRow

logger = logging.getLogger("conveyor.monitor")

BACKOFF: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
"""Seconds to wait after the 1st, 2nd, ... failed attempt; the last value repeats."""
MAX_ATTEMPTS = 8
"""Attempts per notification before it is given up."""

_ERROR_CHARS = 1000  # keep a receiver's chatty error page out of the store


@dataclass
class DeliveryReport:
    """What one round of :func:`deliver_due` did."""

    delivered: int = 0
    failed: int = 0
    """Attempts that failed (and will be retried, or were given up)."""
    given_up: int = 0
    deferred: int = 0
    """Due notifications not tried this round because their sink had just failed."""
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> float | None:
    """Seconds until the next try after ``attempts`` failed attempts; None gives up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def deliver_due(
    store: Store, sinks_by_name: Mapping[str, Sink], now: float, *, limit: int = 50
) -> DeliveryReport:
    """Try once to deliver each notification due now (up to ``limit``), oldest first.

    ``now`` is the store's clock; retries are scheduled from it. After a sink fails, its other
    notifications wait for the next round, so one dead receiver costs one timeout per round.
    """
    report = DeliveryReport()
    failing: set[str] = set()
    for row in store.due_notifications(limit):
        if row.sink in failing:
            report.deferred += 1
            continue
        failure = _attempt(row, sinks_by_name)
        if failure is None:
            store.record_delivery(row.id, error=None, next_try_at=None)
            report.delivered += 1
            continue
        error, hopeless = failure
        if not hopeless:
            failing.add(row.sink)
        attempts = row.attempts + 1
        wait = None if hopeless else backoff(attempts)
        store.record_delivery(row.id, error=error, next_try_at=None if wait is None else now + wait)
        report.failed += 1
        report.errors.append(error)
        if wait is None:
            report.given_up += 1
        logger.warning(
            "alert notification %s (incident %s, %s) to %s failed on attempt %s: %s; %s",
            row.id,
            row.incident_id,
            row.kind,
            row.sink,
            attempts,
            error,
            "giving up" if wait is None else f"retrying in {wait:.0f}s",
        )
    return report


def _attempt(row: NotificationRow, sinks_by_name: Mapping[str, Sink]) -> tuple[str, bool] | None:
    """Send one outbox row: None when delivered, else the error and whether retrying is
    hopeless (the sink is gone or the row cannot be read)."""
    sink = sinks_by_name.get(row.sink)
    if sink is None:
        configured = ", ".join(sorted(sinks_by_name)) or "none"
        return (
            f"sink {row.sink} is no longer configured (configured: {configured}); the "
            "notification was given up",
            True,
        )
    try:
        notice = Notice.from_json(json.loads(row.payload_json))
    except (KeyError, TypeError, ValueError) as exc:
        return f"the stored notification cannot be read ({type(exc).__name__}: {exc})", True
    try:
        sink.send(notice)
    except Exception as exc:  # a custom sink may raise anything; it must not stop the others
        text = str(exc) or type(exc).__name__
        return (text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "...", False)
    return None
