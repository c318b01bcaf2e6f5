"""The Postgres store's outbox verbs (see :class:`conveyor.store.contract.outbox.OutboxVerbs`).

Each verb runs one plan of :mod:`conveyor.store.postgres.outbox_plans` through the store's
``run``, which turns driver errors into :class:`~conveyor.errors.StoreError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from conveyor._outbox import DeliveryKind, DeliveryRow, DeliveryState, NewDelivery
from conveyor.models import Job
from conveyor.store.postgres.outbox_plans import OutboxPlans, outbox_plans

if TYPE_CHECKING:
    from conveyor.store.postgres.plans import Plan

T = TypeVar("T")


class PostgresOutboxVerbs:
    """Mixed into the Postgres store: the delivery table, and the finished jobs to notify."""

    if TYPE_CHECKING:  # provided by PostgresStore
        schema: str

        def run(self, plan: Plan[T], where: str) -> T: ...

    @property
    def _outbox(self) -> OutboxPlans:
        return outbox_plans(self.schema)

    def jobs_to_notify(self, since: float, limit: int = 100) -> list[Job]:
        """See :meth:`OutboxVerbs.jobs_to_notify`."""
        return self.run(self._outbox.jobs_to_notify(since, limit), "finding jobs to notify")

    def add_deliveries(self, rows: Sequence[NewDelivery], *, now: float | None = None) -> int:
        """See :meth:`OutboxVerbs.add_deliveries`."""
        if not rows:
            return 0
        return self.run(self._outbox.add_deliveries(rows, now), "adding deliveries")

    def claim_deliveries(
        self,
        owner: str,
        limit: int,
        lease: float,
        *,
        kinds: Sequence[DeliveryKind] | None = None,
        now: float | None = None,
    ) -> list[DeliveryRow]:
        """See :meth:`OutboxVerbs.claim_deliveries`."""
        return self.run(
            self._outbox.claim_deliveries(owner, limit, lease, kinds, now), "claiming deliveries"
        )

    def record_delivery(
        self,
        delivery_id: int,
        owner: str,
        attempts: int,
        *,
        error: str | None,
        retry_in: float | None,
        now: float | None = None,
    ) -> bool:
        """See :meth:`OutboxVerbs.record_delivery`."""
        return self.run(
            self._outbox.record_delivery(delivery_id, owner, attempts, error, retry_in, now),
            "recording a delivery attempt",
        )

    def release_deliveries(self, delivery_ids: Sequence[int], owner: str) -> int:
        """See :meth:`OutboxVerbs.release_deliveries`."""
        if not delivery_ids:
            return 0
        return self.run(
            self._outbox.release_deliveries(delivery_ids, owner), "releasing deliveries"
        )

    def list_deliveries(
        self,
        *,
        kind: DeliveryKind | None = None,
        subject: int | None = None,
        state: DeliveryState | None = None,
        failing: bool = False,
        limit: int = 100,
    ) -> list[DeliveryRow]:
        """See :meth:`OutboxVerbs.list_deliveries`."""
        return self.run(
            self._outbox.list_deliveries(kind, subject, state, failing, limit),
            "listing deliveries",
        )
