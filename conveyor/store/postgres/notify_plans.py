"""The completion-webhook verbs as plans (see :mod:`conveyor.store.postgres.plans`).

Times are the server's: ``now()`` in the SQL, epoch seconds in and out. Every plan is one
statement, so each runs in autocommit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from conveyor.models import Job
from conveyor.store.notify_protocol import NewWebhook, WebhookRow, webhook_from_row
from conveyor.store.postgres.plans import Plan, Statement, register_single
from conveyor.store.postgres.sql import query
from conveyor.store.rows import job_from_row

NOTIFY_SINGLE = frozenset(
    {
        "jobs_to_notify",
        "add_webhooks",
        "claim_webhooks",
        "record_webhook",
        "get_webhook",
        "failing_webhooks",
        "prune_webhooks",
    }
)
"""Every plan below is one statement: autocommit."""
register_single(NOTIFY_SINGLE)


@cache
def notify_plans(schema: str) -> NotifyPlans:
    """The webhook plans for ``schema`` (one instance per schema)."""
    return NotifyPlans(schema)


class NotifyPlans:
    """Finished jobs to notify and their deliveries, bound to a schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    def q(self, name: str) -> str:
        """A query of this dialect, qualified with the schema."""
        return query(name, self.schema)

    def jobs_to_notify(self, since: float, limit: int) -> Plan[list[Job]]:
        """Finishes with a ``notify_url`` and no delivery yet, oldest first."""
        result = yield Statement(
            self.q("webhook_jobs_to_notify"), {"since": float(since), "limit": limit}
        )
        return [job_from_row(r) for r in result.rows]

    def add_webhooks(self, rows: Sequence[NewWebhook]) -> Plan[int]:
        """Insert pending deliveries (replacing older finishes); how many were written."""
        result = yield Statement(
            self.q("webhook_add"),
            {
                "job_ids": [r.job_id for r in rows],
                "urls": [r.url for r in rows],
                "payloads": [r.payload_json for r in rows],
                "finished": [float(r.finished_at) for r in rows],
            },
        )
        return len(result.rows)

    def claim_webhooks(self, limit: int, lease: float) -> Plan[list[WebhookRow]]:
        """Lease due deliveries."""
        result = yield Statement(
            self.q("webhook_claim"), {"limit": limit, "lease": float(lease)}
        )
        claimed = [webhook_from_row(r) for r in result.rows]
        # RETURNING gives no order; hand them out oldest first, as documented.
        return sorted(claimed, key=lambda r: (r.next_try_at, r.job_id))

    def record_webhook(
        self,
        job_id: int,
        finished_at: float,
        attempts: int,
        error: str | None,
        retry_in: float | None,
    ) -> Plan[bool]:
        """Record one attempt's outcome, guarded by finish and attempts."""
        result = yield Statement(
            self.q("webhook_record"),
            {
                "job_id": job_id,
                "finished_at": float(finished_at),
                "attempts": attempts,
                "error": error,
                "retry_in": None if retry_in is None else float(retry_in),
            },
        )
        return result.rowcount == 1

    def get_webhook(self, job_id: int) -> Plan[WebhookRow | None]:
        """One job's delivery."""
        result = yield Statement(self.q("webhook_get"), {"job_id": job_id})
        return webhook_from_row(result.rows[0]) if result.rows else None

    def failing_webhooks(self, limit: int) -> Plan[list[WebhookRow]]:
        """Failing deliveries, newest job first."""
        result = yield Statement(self.q("webhook_failing"), {"limit": limit})
        return [webhook_from_row(r) for r in result.rows]

    def prune_webhooks(self, limit: int) -> Plan[int]:
        """Delete finished deliveries of jobs that are gone."""
        result = yield Statement(self.q("webhook_prune"), {"limit": limit})
        return result.rowcount
