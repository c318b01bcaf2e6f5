"""The store verbs of completion webhooks (``notify_url=``), part of every :class:`Store`.

A job enqueued with ``notify_url=`` carries the URL in its meta. When it finishes, a worker's
notifier (:mod:`conveyor.worker.notifier`) finds it with :meth:`NotifyVerbs.jobs_to_notify`,
writes one delivery row with :meth:`NotifyVerbs.add_webhooks`, and delivers it: it claims due
rows with :meth:`NotifyVerbs.claim_webhooks` (a lease, so two notifiers never send the same
row at once) and records each attempt with :meth:`NotifyVerbs.record_webhook`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from conveyor.models import Job


class WebhookState(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    """Not delivered yet: due at ``next_try_at`` (first try, or a retry after a failure)."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Given up: too many failed attempts, or a failure no retry can fix (a bad URL)."""


@dataclass(frozen=True, slots=True)
class NewWebhook:
    """A delivery to write for one finish of one job."""

    job_id: int
    url: str
    payload_json: str
    """The exact body to POST, fixed when the job finished."""
    finished_at: float
    """The job's ``finished_at``, exactly as the store returned it: it names this finish."""


@dataclass(frozen=True, slots=True)
class WebhookRow:
    """A stored delivery (one per job: the newest finish)."""

    job_id: int
    url: str
    payload_json: str
    finished_at: float
    state: WebhookState
    attempts: int
    next_try_at: float
    last_error: str | None
    delivered_at: float | None
    created_at: float


def webhook_from_row(row: Sequence[Any]) -> WebhookRow:
    """(job_id, url, payload_json, finished_at, state, attempts, next_try_at, last_error,
    delivered_at, created_at) with times as epoch seconds -> :class:`WebhookRow`."""
    return WebhookRow(
        job_id=int(row[0]),
        url=row[1],
        payload_json=row[2],
        finished_at=float(row[3]),
        state=WebhookState(row[4]),
        attempts=int(row[5]),
        next_try_at=float(row[6]),
        last_error=row[7],
        delivered_at=None if row[8] is None else float(row[8]),
        created_at=float(row[9]),
    )


class NotifyVerbs(Protocol):
    """Completion webhooks: finding finished jobs to notify, and the delivery outbox."""

    def jobs_to_notify(self, since: float, limit: int = 100) -> list[Job]:
        """Finished jobs (succeeded, dead, cancelled) with a ``notify_url`` in their meta,
        finished at or after ``since``, that have no delivery for this finish yet; oldest
        finish first. A job finishing again (retried after dead or cancelled) is returned
        again. Reads an index of such jobs only, so jobs without a URL cost nothing."""
        ...

    def add_webhooks(self, rows: Sequence[NewWebhook]) -> int:
        """Write pending deliveries, due now; return how many were written.

        A job's delivery for an older finish is replaced (attempts start again); a repeat of
        the same finish writes nothing, so notifiers racing to add it add it once.
        """
        ...

    def claim_webhooks(self, limit: int, lease: float) -> list[WebhookRow]:
        """Pending deliveries due now, oldest due first, each pushed ``lease`` seconds into
        the future so no other claimer gets it meanwhile (a returned row's ``next_try_at``
        is the lease's end). Two concurrent claimers never get the same row."""
        ...

    def record_webhook(
        self,
        job_id: int,
        finished_at: float,
        attempts: int,
        *,
        error: str | None,
        retry_in: float | None,
    ) -> bool:
        """Record an attempt on a claimed delivery; False (nothing written) unless the row is
        still pending for that finish with ``attempts`` attempts made (someone else recorded
        it first, or the job finished again meanwhile).

        ``error=None``: delivered. An error with ``retry_in``: due again that many seconds from
        now. An error without: given up (state failed). Every attempt counts.
        """
        ...

    def get_webhook(self, job_id: int) -> WebhookRow | None:
        """A job's delivery, or None when it has none (yet)."""
        ...

    def failing_webhooks(self, limit: int = 100) -> list[WebhookRow]:
        """Deliveries that failed and are not delivered (retrying or given up), newest job
        first."""
        ...

    def prune_webhooks(self, limit: int = 10_000) -> int:
        """Delete up to ``limit`` delivered or given-up deliveries whose job is gone (pruned
        or discarded); return how many. Pending ones stay until delivered or given up."""
        ...
