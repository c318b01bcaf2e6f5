"""The outbox: what Conveyor still has to send, as rows of one delivery table.

Two kinds of message leave Conveyor over the network, and both are rows of this table:

- ``alert``: one monitor notice (an incident firing, a reminder, a resolution) for one sink;
  the row's subject is the incident's id, its destination the sink's name;
- ``webhook``: one job-completion webhook (``notify_url=``); the subject is the job's id, the
  destination the URL. A job keeps one row: its newest finish.

A row is ``pending`` until it is ``delivered`` or ``failed`` (given up). Deliverers claim due
rows under a lease (:meth:`~conveyor.store.contract.outbox.OutboxVerbs.claim_deliveries`), so
two of them never send the same row at once, and every attempt is recorded on the row, so
``conveyor jobs show`` and ``conveyor alerts`` read delivered / failing / gave up from one place.

This module holds the row types and the one retry schedule (:data:`RETRY`); the store verbs are
in :mod:`conveyor.store.contract.outbox`, the sending in :mod:`conveyor.delivery`. It imports
nothing above the models, so every layer may use it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RETRY",
    "DeliveryKind",
    "DeliveryRow",
    "DeliveryState",
    "NewDelivery",
    "RetrySchedule",
    "delivery_from_row",
]


class DeliveryKind(enum.StrEnum):
    """What a delivery carries."""

    ALERT = "alert"
    """A monitor notice for one sink: subject is the incident id, destination the sink name."""
    WEBHOOK = "webhook"
    """A job's completion webhook: subject is the job id, destination the ``notify_url``."""


class DeliveryState(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    """Not delivered yet: due at ``next_try_at`` (first try, or a retry after a failure)."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Given up: too many failed attempts, or a failure no retry can fix."""


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When a failed delivery is tried again: ``waits[n-1]`` seconds after the n-th failed
    attempt (the last wait repeats), and given up after ``max_attempts`` attempts."""

    waits: tuple[float, ...]
    max_attempts: int

    def retry_in(self, attempts: int) -> float | None:
        """Seconds until the next try after ``attempts`` failed attempts; None gives up."""
        if attempts >= self.max_attempts:
            return None
        return self.waits[min(attempts, len(self.waits)) - 1]

    def with_waits(self, waits: Sequence[float]) -> RetrySchedule:
        """The same schedule with other waits (``Conveyor(webhook_backoff=...)``)."""
        return RetrySchedule(tuple(waits), self.max_attempts)


RETRY = RetrySchedule(waits=(10.0, 30.0, 120.0, 600.0, 1800.0, 3600.0), max_attempts=8)
"""The outbox's one schedule: retry after 10 s, 30 s, 2 min, 10 min, 30 min, then hourly; give
up after 8 attempts. Alerts and webhooks both follow it (``webhook_backoff=`` replaces the
waits for webhooks only, as it always did)."""


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to add to the outbox, due at once."""

    kind: DeliveryKind
    subject: int
    """The incident id (alert) or job id (webhook)."""
    event: str
    """What happened: a notice kind (``firing``, ``reminder``, ``resolved``) or ``finished``."""
    destination: str
    """The sink's name (alert) or the URL (webhook)."""
    payload_json: str
    """The exact body to send, fixed when the row is added."""
    event_at: float
    """When it happened. For a webhook, the job's ``finished_at`` exactly as the store returned
    it: it names the finish, and a newer finish replaces the job's row."""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A stored delivery."""

    id: int
    kind: DeliveryKind
    subject: int
    event: str
    destination: str
    payload_json: str
    event_at: float
    state: DeliveryState
    attempts: int
    next_try_at: float
    lease_owner: str | None
    lease_until: float | None
    """While a deliverer holds the row: when its claim lapses."""
    last_error: str | None
    created_at: float
    delivered_at: float | None
    failed_at: float | None
    """When it was given up."""


def delivery_from_row(row: Sequence[Any]) -> DeliveryRow:
    """(id, kind, subject, event, destination, payload_json, event_at, state, attempts,
    next_try_at, lease_owner, lease_until, last_error, created_at, delivered_at, failed_at),
    times as epoch seconds -> :class:`DeliveryRow`."""
    return DeliveryRow(
        id=int(row[0]),
        kind=DeliveryKind(row[1]),
        subject=int(row[2]),
        event=row[3],
        destination=row[4],
        payload_json=row[5],
        event_at=float(row[6]),
        state=DeliveryState(row[7]),
        attempts=int(row[8]),
        next_try_at=float(row[9]),
        lease_owner=row[10],
        lease_until=None if row[11] is None else float(row[11]),
        last_error=row[12],
        created_at=float(row[13]),
        delivered_at=None if row[14] is None else float(row[14]),
        failed_at=None if row[15] is None else float(row[15]),
    )
