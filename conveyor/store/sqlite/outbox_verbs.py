"""The SQLite store's outbox verbs (see :class:`conveyor.store.contract.outbox.OutboxVerbs`).

Writes run in ``BEGIN IMMEDIATE``, so SQLite's single writer serialises two deliverers: a
claim sees every lease taken before it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor._outbox import (
    DeliveryKind,
    DeliveryRow,
    DeliveryState,
    NewDelivery,
    delivery_from_row,
)
from conveyor.models import Job
from conveyor.store.filters import SQLITE, deliveries_query
from conveyor.store.rows import job_from_row
from conveyor.store.sqlite.connection import query

if TYPE_CHECKING:
    from conveyor.store.sqlite.connection import Database

_ALL_KINDS = tuple(DeliveryKind)


class SQLiteOutboxVerbs:
    """Mixed into the SQLite store: the delivery table, and the finished jobs to notify."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: Database

        def now(self) -> float: ...

    def jobs_to_notify(self, since: float, limit: int = 100) -> list[Job]:
        """See :meth:`OutboxVerbs.jobs_to_notify`."""
        with self.db.read() as conn:
            found = conn.execute(
                query("webhook_jobs_to_notify"), {"since": float(since), "limit": limit}
            ).fetchall()
        return [job_from_row(r) for r in found]

    def add_deliveries(self, rows: Sequence[NewDelivery], *, now: float | None = None) -> int:
        """See :meth:`OutboxVerbs.add_deliveries`."""
        if not rows:
            return 0
        with self.db.write() as conn:
            at = self.now() if now is None else float(now)
            written = 0
            for row in rows:
                cur = conn.execute(
                    query("delivery_add"),
                    {
                        "kind": str(row.kind),
                        "subject": row.subject,
                        "event": row.event,
                        "destination": row.destination,
                        "payload_json": row.payload_json,
                        "event_at": float(row.event_at),
                        "now": at,
                    },
                )
                written += cur.rowcount
        return written

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
        params: dict[str, Any] = {
            "kinds": json.dumps([str(k) for k in (_ALL_KINDS if kinds is None else kinds)]),
            "now": self.now() if now is None else float(now),
        }
        with self.db.read() as conn:
            if conn.execute(query("delivery_any_due"), params).fetchone() is None:
                return []
        with self.db.write() as conn:
            if now is None:  # the clock under the write lock, as claims of jobs read it
                params["now"] = self.now()
            found = conn.execute(
                query("delivery_claim"),
                {**params, "owner": owner, "lease": float(lease), "limit": limit},
            ).fetchall()
        claimed = [delivery_from_row(r) for r in found]
        # RETURNING gives no order; hand them out oldest due first, as documented.
        return sorted(claimed, key=lambda r: (r.next_try_at, r.id))

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
        with self.db.write() as conn:
            cur = conn.execute(
                query("delivery_record"),
                {
                    "id": delivery_id,
                    "owner": owner,
                    "attempts": attempts,
                    "error": error,
                    "retry_in": None if retry_in is None else float(retry_in),
                    "now": self.now() if now is None else float(now),
                },
            )
        return cur.rowcount == 1

    def release_deliveries(self, delivery_ids: Sequence[int], owner: str) -> int:
        """See :meth:`OutboxVerbs.release_deliveries`."""
        if not delivery_ids:
            return 0
        with self.db.write() as conn:
            cur = conn.execute(
                query("delivery_release"),
                {"ids": json.dumps([int(i) for i in delivery_ids]), "owner": owner},
            )
        return int(cur.rowcount)

    def list_deliveries(
        self,
        *,
        kind: DeliveryKind | None = None,
        subject: int | None = None,
        state: DeliveryState | None = None,
        failing: bool = False,
        limit: int = 100,
    ) -> list[DeliveryRow]:
        """See :meth:`OutboxVerbs.list_deliveries` (the shared builder, SQLite's dialect)."""
        sql, params = deliveries_query(
            SQLITE,
            "conveyor_deliveries",
            kind=kind,
            subject=subject,
            state=state,
            failing=failing,
            limit=limit,
        )
        with self.db.read() as conn:
            found = conn.execute(sql, params).fetchall()
        return [delivery_from_row(r) for r in found]

    def prune_deliveries(self, limit: int) -> int:
        """The outbox's part of :meth:`JobVerbs.prune`: finished webhook deliveries of jobs that
        are gone, at most ``limit``, in one transaction."""
        with self.db.write() as conn:
            cur = conn.execute(query("delivery_prune"), {"limit": limit})
        return int(cur.rowcount)
