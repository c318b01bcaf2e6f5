"""The Postgres store's completion-webhook verbs (see
:class:`conveyor.store.notify_protocol.NotifyVerbs`).

Each verb runs one plan of :mod:`conveyor.store.postgres.notify_plans` through the store's
``run``, which turns driver errors into :class:`~conveyor.errors.StoreError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from conveyor.models import Job
from conveyor.store.notify_protocol import NewWebhook, WebhookRow
from conveyor.store.postgres.notify_plans import NotifyPlans, notify_plans

if TYPE_CHECKING:
    from conveyor.store.postgres.plans import Plan

T = TypeVar("T")


class PostgresNotifyVerbs:
    """Mixed into the Postgres store: finished jobs to notify and their deliveries."""

    if TYPE_CHECKING:  # provided by PostgresStore
        schema: str

        def run(self, plan: Plan[T], where: str) -> T: ...

    @property
    def _notify(self) -> NotifyPlans:
        return notify_plans(self.schema)

    def jobs_to_notify(self, since: float, limit: int = 100) -> list[Job]:
        """See :meth:`NotifyVerbs.jobs_to_notify`."""
        return self.run(self._notify.jobs_to_notify(since, limit), "finding jobs to notify")

    def add_webhooks(self, rows: Sequence[NewWebhook]) -> int:
        """See :meth:`NotifyVerbs.add_webhooks`."""
        if not rows:
            return 0
        return self.run(self._notify.add_webhooks(rows), "adding webhook deliveries")

    def claim_webhooks(self, limit: int, lease: float) -> list[WebhookRow]:
        """See :meth:`NotifyVerbs.claim_webhooks`."""
        return self.run(
            self._notify.claim_webhooks(limit, lease), "claiming webhook deliveries"
        )

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
        return self.run(
            self._notify.record_webhook(job_id, finished_at, attempts, error, retry_in),
            "recording a webhook delivery",
        )

    def get_webhook(self, job_id: int) -> WebhookRow | None:
        """See :meth:`NotifyVerbs.get_webhook`."""
        return self.run(self._notify.get_webhook(job_id), "reading a webhook delivery")

    def failing_webhooks(self, limit: int = 100) -> list[WebhookRow]:
        """See :meth:`NotifyVerbs.failing_webhooks`."""
        return self.run(self._notify.failing_webhooks(limit), "listing failing webhooks")

    def prune_webhooks(self, limit: int = 10_000) -> int:
        """See :meth:`NotifyVerbs.prune_webhooks`."""
        return self.run(self._notify.prune_webhooks(limit), "pruning webhook deliveries")
