"""The SQLite store's completion-webhook verbs (see
:class:`conveyor.store.notify_protocol.NotifyVerbs`).

Writes run in ``BEGIN IMMEDIATE``, so SQLite's single writer serialises two notifiers: a
claim sees every lease taken before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.models import Job
from conveyor.store.notify_protocol import NewWebhook, WebhookRow, webhook_from_row
from conveyor.store.rows import job_from_row
from conveyor.store.sqlite.connection import query

if TYPE_CHECKING:
    from conveyor.store.sqlite.connection import Database


class SQLiteNotifyVerbs:
    """Mixed into the SQLite store: finished jobs to notify and their deliveries."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: Database

        def now(self) -> float: ...

    def jobs_to_notify(self, since: float, limit: int = 100) -> list[Job]:
        """See :meth:`NotifyVerbs.jobs_to_notify`."""
        with self.db.read() as conn:
            found = conn.execute(
                query("webhook_jobs_to_notify"), {"since": float(since), "limit": limit}
            ).fetchall()
        return [job_from_row(r) for r in found]

    def add_webhooks(self, rows: Sequence[NewWebhook]) -> int:
        """See :meth:`NotifyVerbs.add_webhooks`."""
        if not rows:
            return 0
        with self.db.write() as conn:
            now = self.now()
            written = 0
            for row in rows:
                cur = conn.execute(
                    query("webhook_add"),
                    {
                        "job_id": row.job_id,
                        "url": row.url,
                        "payload_json": row.payload_json,
                        "finished_at": row.finished_at,
                        "now": now,
                    },
                )
                written += cur.rowcount
        return written

    def claim_webhooks(self, limit: int, lease: float) -> list[WebhookRow]:
        """See :meth:`NotifyVerbs.claim_webhooks`."""
        with self.db.read() as conn:
            due = conn.execute(query("webhook_any_due"), {"now": self.now()}).fetchone()
        if due is None:
            return []
        with self.db.write() as conn:
            found = conn.execute(
                query("webhook_claim"),
                {"now": self.now(), "lease": float(lease), "limit": limit},
            ).fetchall()
        claimed = [webhook_from_row(r) for r in found]
        # RETURNING gives no order; hand them out oldest first, as documented.
        return sorted(claimed, key=lambda r: (r.next_try_at, r.job_id))

    def record_webhook(
        self,
        job_id: int,
        finished_at: float,
        attempts: int,
        *,
        error: str | None,
        retry_in: float | None,
    ) -> bool:
        """See :meth:`NotifyVerbs.record_webhook`."""
        with self.db.write() as conn:
            cur = conn.execute(
                query("webhook_record"),
                {
                    "job_id": job_id,
                    "finished_at": finished_at,
                    "attempts": attempts,
                    "error": error,
                    "retry_in": None if retry_in is None else float(retry_in),
                    "now": self.now(),
                },
            )
        return cur.rowcount == 1

    def get_webhook(self, job_id: int) -> WebhookRow | None:
        """See :meth:`NotifyVerbs.get_webhook`."""
        with self.db.read() as conn:
            found = conn.execute(query("webhook_get"), {"job_id": job_id}).fetchone()
        return None if found is None else webhook_from_row(found)

    def failing_webhooks(self, limit: int = 100) -> list[WebhookRow]:
        """See :meth:`NotifyVerbs.failing_webhooks`."""
        with self.db.read() as conn:
            found = conn.execute(query("webhook_failing"), {"limit": limit}).fetchall()
        return [webhook_from_row(r) for r in found]

    def prune_webhooks(self, limit: int = 10_000) -> int:
        """See :meth:`NotifyVerbs.prune_webhooks`."""
        with self.db.write() as conn:
            cur = conn.execute(query("webhook_prune"), {"limit": limit})
        return int(cur.rowcount)
