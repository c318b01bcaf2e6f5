"""The outbox verbs as plans (see :mod:`conveyor.store.postgres.plans`).

The delivery table keeps epoch seconds; "now" is the caller's when given, else the server's
``now()``. Every plan is one statement, so each runs in autocommit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from conveyor._outbox import (
    DeliveryKind,
    DeliveryRow,
    DeliveryState,
    NewDelivery,
    delivery_from_row,
)
from conveyor.models import Job
from conveyor.store.filters import POSTGRES, deliveries_query
from conveyor.store.postgres.plans import Plan, Statement, register_single
from conveyor.store.postgres.sql import query
from conveyor.store.rows import job_from_row

OUTBOX_SINGLE = frozenset(
    {
        "jobs_to_notify",
        "add_deliveries",
        "claim_deliveries",
        "record_delivery",
        "release_deliveries",
        "list_deliveries",
        "prune_deliveries",
    }
)
"""Every plan below is one statement: autocommit."""
register_single(OUTBOX_SINGLE)

_ALL_KINDS = [str(k) for k in DeliveryKind]


@cache
def outbox_plans(schema: str) -> OutboxPlans:
    """The outbox plans for ``schema`` (one instance per schema)."""
    return OutboxPlans(schema)


class OutboxPlans:
    """The delivery table and the finished jobs to notify, bound to a schema."""

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

    def add_deliveries(self, rows: Sequence[NewDelivery], now: float | None) -> Plan[int]:
        """Insert pending deliveries (a webhook replacing an older finish's); how many."""
        result = yield Statement(
            self.q("delivery_add"),
            {
                "kinds": [str(r.kind) for r in rows],
                "subjects": [r.subject for r in rows],
                "events": [r.event for r in rows],
                "destinations": [r.destination for r in rows],
                "payloads": [r.payload_json for r in rows],
                "event_ats": [float(r.event_at) for r in rows],
                "now": None if now is None else float(now),
            },
        )
        return len(result.rows)

    def claim_deliveries(
        self,
        owner: str,
        limit: int,
        lease: float,
        kinds: Sequence[DeliveryKind] | None,
        now: float | None,
    ) -> Plan[list[DeliveryRow]]:
        """Lease due deliveries to ``owner``."""
        result = yield Statement(
            self.q("delivery_claim"),
            {
                "owner": owner,
                "limit": limit,
                "lease": float(lease),
                "kinds": _ALL_KINDS if kinds is None else [str(k) for k in kinds],
                "now": None if now is None else float(now),
            },
        )
        claimed = [delivery_from_row(r) for r in result.rows]
        # RETURNING gives no order; hand them out oldest due first, as documented.
        return sorted(claimed, key=lambda r: (r.next_try_at, r.id))

    def record_delivery(
        self,
        delivery_id: int,
        owner: str,
        attempts: int,
        error: str | None,
        retry_in: float | None,
        now: float | None,
    ) -> Plan[bool]:
        """Record one attempt's outcome, fenced by owner and attempts."""
        result = yield Statement(
            self.q("delivery_record"),
            {
                "id": delivery_id,
                "owner": owner,
                "attempts": attempts,
                "error": error,
                "retry_in": None if retry_in is None else float(retry_in),
                "now": None if now is None else float(now),
            },
        )
        return result.rowcount == 1

    def release_deliveries(self, delivery_ids: Sequence[int], owner: str) -> Plan[int]:
        """Give back this owner's claims on still pending rows."""
        result = yield Statement(
            self.q("delivery_release"), {"ids": [int(i) for i in delivery_ids], "owner": owner}
        )
        return result.rowcount

    def list_deliveries(
        self,
        kind: DeliveryKind | None,
        subject: int | None,
        state: DeliveryState | None,
        failing: bool,
        limit: int,
    ) -> Plan[list[DeliveryRow]]:
        """Deliveries newest first, filtered (the shared builder, PostgreSQL's dialect)."""
        sql, params = deliveries_query(
            POSTGRES,
            f'"{self.schema}".conveyor_deliveries',
            kind=kind,
            subject=subject,
            state=state,
            failing=failing,
            limit=limit,
        )
        result = yield Statement(sql, params)
        return [delivery_from_row(r) for r in result.rows]

    def prune_deliveries(self, limit: int) -> Plan[int]:
        """Delete finished webhook deliveries of jobs that are gone."""
        result = yield Statement(self.q("delivery_prune"), {"limit": limit})
        return result.rowcount
