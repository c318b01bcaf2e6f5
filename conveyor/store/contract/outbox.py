"""The outbox (:mod:`conveyor._outbox`): one table of deliveries, alerts and webhooks alike.

One table holds every delivery, alert notices and completion webhooks alike. Writers add rows
(:meth:`OutboxVerbs.add_deliveries`: the monitor's incidents, and the deliverer for each job
that finished with a ``notify_url``, found with :meth:`OutboxVerbs.jobs_to_notify`); deliverers
claim due rows under a lease, send them and record each attempt. Finished rows are deleted
by :meth:`~conveyor.store.contract.jobs.JobVerbs.prune`, with the rest of what retention lets go.

Times are epoch seconds. Verbs that depend on "now" take ``now=`` (default: the store's clock),
so a test moves time instead of sleeping. Each verb is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor._outbox import DeliveryKind, DeliveryRow, DeliveryState, NewDelivery
from conveyor.models import Job


class OutboxVerbs(Protocol):
    """The delivery table: adding, claiming, recording, listing and pruning deliveries."""

    def jobs_to_notify(self, since: float, limit: int = 100) -> list[Job]:
        """Finished jobs (succeeded, dead, cancelled) with a ``notify_url`` in their meta,
        finished at or after ``since``, that have no webhook delivery for this finish yet;
        oldest finish first. A job finishing again (retried after dead or cancelled) is
        returned again. Reads an index of such jobs only, so jobs without a URL cost nothing.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def add_deliveries(self, rows: Sequence[NewDelivery], *, now: float | None = None) -> int:
        """Write pending deliveries, due ``now``; return how many were written.

        Alerts are always added (in input order). A job has one webhook row: a newer finish
        (``event_at``) replaces an older one's row (attempts start again, any claim on it is
        void); the same finish again writes nothing, so deliverers racing to add it add it once.

        Guarantees: one transaction. Idempotent per webhook finish (see above); each alert row is
        new.
        """
        ...

    def claim_deliveries(
        self,
        owner: str,
        limit: int,
        lease: float,
        *,
        kinds: Sequence[DeliveryKind] | None = None,
        now: float | None = None,
    ) -> list[DeliveryRow]:
        """Lease up to ``limit`` pending deliveries due at ``now`` (of ``kinds``, default all)
        to ``owner`` for ``lease`` seconds, oldest due first. A leased row is not claimed
        again until its lease lapses; two concurrent claimers never get the same row.

        Guarantees: one transaction, fenced by state and lease. Not idempotent: each call takes
        other rows.
        """
        ...

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
        """Record one attempt on a claimed delivery and release the claim. Fenced: False
        (nothing written) unless the row is still pending, leased to ``owner`` and has
        ``attempts`` attempts, so a late report (a lapsed lease someone else took, a repeat, a
        webhook replaced by a newer finish) changes nothing.

        ``error=None``: delivered. An error with ``retry_in``: due again ``retry_in`` seconds
        after ``now``. An error without: given up (``failed``). Every attempt counts.

        Guarantees: one transaction, fenced by state, owner and attempts (above). Idempotent: a
        repeat returns False.
        """
        ...

    def release_deliveries(self, delivery_ids: Sequence[int], owner: str) -> int:
        """Give claimed deliveries back untried: each one still pending and leased to ``owner``
        loses its lease and is due again at once, its attempts unchanged; return how many.
        A deliverer releases the rest of a destination's rows when that destination has just
        failed, so they wait for its next round rather than for their lease to lapse.

        Guarantees: one transaction, fenced by state and owner. Idempotent.
        """
        ...

    def list_deliveries(
        self,
        *,
        kind: DeliveryKind | None = None,
        subject: int | None = None,
        state: DeliveryState | None = None,
        failing: bool = False,
        limit: int = 100,
    ) -> list[DeliveryRow]:
        """Deliveries newest first, optionally of one kind, one subject, one state; with
        ``failing`` only those that failed at least once and are not delivered (retrying or
        given up).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...
