"""The outbox's one delivery loop: claim due rows under a lease, send, record each attempt.

Each round of :meth:`Deliverer.tick`

1. when it sends webhooks, finds jobs that finished with a ``notify_url`` and have no delivery
   for that finish yet, and adds one (the body is fixed then: what was true when the job
   finished);
2. claims due deliveries of the kinds it has a sender for, under a lease (so two deliverers
   never send the same row at once), sends them on a small pool of threads
   (:data:`CONCURRENCY` at a time, so one slow receiver holds one thread until its deadline
   while the others keep flowing), and records the outcome: delivered, due again after the
   sender's retry schedule, or given up (at once for a failure no retry can fix);
3. now and then prunes finished webhook deliveries whose job is gone.

Finding new finishes reads an index of the jobs that asked for a webhook, from a watermark:
each round looks back :data:`ROUND_SLACK` seconds (so a finish committed a little late is not
missed), every :data:`SWEEP_EVERY` seconds it looks back :data:`SWEEP_SPAN`, and the first
round of a process looks at all of history. A job's delivery row makes the look-backs find it
only once.

A receiver may still get a delivery twice: if a process dies between sending and recording,
the lease runs out and another deliverer sends it again. Webhook receivers should treat
``(job_id, finished_at)`` as the delivery's identity.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor._outbox import DeliveryKind, DeliveryRow, NewDelivery
from conveyor._webhooks import completion_body
from conveyor.delivery.senders import Sender

if TYPE_CHECKING:
    from conveyor.store.protocol import Store

log = logging.getLogger("conveyor.delivery")

ROUND_SLACK = 60.0
"""Seconds each round looks back before the previous round's start."""
SWEEP_EVERY = 300.0
SWEEP_SPAN = 3600.0
"""Every :data:`SWEEP_EVERY` seconds a round looks back this far."""
ENROLL_BATCH = 100
SENDS_PER_ROUND = 50
"""At most this many attempts per round, so a backlog does not starve the other steps."""
LEASE_MARGIN = 30.0
"""A claim's lease is the attempts' deadlines plus this, so it outlives them."""
CONCURRENCY = 4
"""Attempts in flight at once per deliverer."""


@dataclass
class DeliveryReport:
    """What one round of :meth:`Deliverer.tick` did."""

    added: int = 0
    """Webhook deliveries added for new finishes."""
    claimed: int = 0
    """Due deliveries this round claimed to send."""
    delivered: int = 0
    failed: int = 0
    """Attempts that failed (to be retried, or given up)."""
    given_up: int = 0
    deferred: int = 0
    """Claimed rows not tried this round because their destination had just failed (they are
    given back at once, due again in the next round)."""
    errors: list[str] = field(default_factory=list)


def default_owner() -> str:
    """A name for this deliverer in the leases: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _never() -> bool:
    return False


class Deliverer:
    """The delivery rounds, on a sync store (services run them on a thread; tests directly).

    ``senders`` are the kinds this deliverer serves (it claims no other); ``concurrency`` how
    many attempts are in flight at once; ``clock`` (monotonic seconds) only paces the
    look-backs and prunes. :meth:`close` waits for the attempts in flight.
    """

    def __init__(
        self,
        store: Store,
        senders: Iterable[Sender],
        *,
        concurrency: int = CONCURRENCY,
        owner: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.senders: dict[DeliveryKind, Sender] = {s.kind: s for s in senders}
        self.concurrency = concurrency
        self.owner = owner or default_owner()
        self.clock = clock
        self._pool: ThreadPoolExecutor | None = None  # started on the first send
        self._in_flight: set[Future[None]] = set()
        self._lock = threading.Lock()  # reports and the failing set, from several threads
        self._failing: set[tuple[DeliveryKind, str]] = set()
        self._since: float | None = None  # None: the first round looks at all of history
        self._last_sweep = clock()

    def tick(
        self,
        should_stop: Callable[[], bool] = _never,
        *,
        wait_sends: bool = True,
        now: float | None = None,
    ) -> DeliveryReport:
        """One round: add new finishes' webhooks and send what is due (the worker's pruner
        deletes finished deliveries).

        With ``wait_sends`` the round returns once its attempts are done and recorded;
        without, as soon as they are started (their outcomes still add to the report as they
        come in). ``now`` is the time retries are scheduled from (default: the store's clock
        when each attempt is recorded); what is due is always read by the store's clock.
        """
        report = DeliveryReport()
        if DeliveryKind.WEBHOOK in self.senders:
            report.added = self.enroll()
        self.deliver(report, should_stop, wait_sends=wait_sends, now=now)
        return report

    def enroll(self) -> int:
        """Add a pending webhook delivery for every new finish; how many were added."""
        now = self.store.now()
        since = 0.0 if self._since is None else self._since
        if self.clock() - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = self.clock()
            since = min(since, now - SWEEP_SPAN)
        added = 0
        while True:
            jobs = self.store.jobs_to_notify(since, ENROLL_BATCH)
            rows = [
                NewDelivery(
                    kind=DeliveryKind.WEBHOOK,
                    subject=job.id,
                    event="finished",
                    destination=str(job.meta.get("notify_url")),
                    payload_json=completion_body(job),
                    event_at=job.finished_at,
                )
                for job in jobs
                if job.finished_at is not None
            ]
            written = self.store.add_deliveries(rows)
            added += written
            # A full batch may have more behind it; an empty write means someone else is
            # adding the same rows, and the next round will see what is left.
            if len(jobs) < ENROLL_BATCH or written == 0:
                break
        self._since = now - ROUND_SLACK
        return added

    def deliver(
        self,
        report: DeliveryReport,
        should_stop: Callable[[], bool] = _never,
        *,
        wait_sends: bool = True,
        now: float | None = None,
    ) -> None:
        """Send due deliveries, claiming only as many as there are free threads, until none is
        due or the round's share is used (or ``should_stop`` says so: a stopping worker starts
        nothing more). ``wait_sends`` and ``now``: see :meth:`tick`."""
        if not self.senders:
            return
        kinds = sorted(self.senders)
        # A serial sender's group may hold every row of one claim: the lease covers them all.
        lease = max(s.timeout for s in self.senders.values()) * self.concurrency + LEASE_MARGIN
        with self._lock:
            self._failing.clear()
        # One attempt per row per round, as the rounds are paced: a row claimed again in the
        # same round (a retry already due, a deferred row given back) is given back untried.
        seen: set[int] = set()
        again: list[int] = []
        started = 0
        while started < SENDS_PER_ROUND and not should_stop():
            self._in_flight = {f for f in self._in_flight if not f.done()}
            free = min(self.concurrency - len(self._in_flight), SENDS_PER_ROUND - started)
            if free <= 0:
                if not wait_sends:
                    break
                wait(self._in_flight, return_when=FIRST_COMPLETED)
                continue
            claimed = self.store.claim_deliveries(self.owner, free, lease, kinds=kinds)
            fresh = [row for row in claimed if row.id not in seen]
            again.extend(row.id for row in claimed if row.id in seen)
            if not fresh:
                break
            seen.update(row.id for row in fresh)
            report.claimed += len(fresh)
            for group in self._groups(fresh):
                self._in_flight.add(self._threads().submit(self._send, group, report, now))
            started += len(fresh)
        if again:
            self.store.release_deliveries(again, self.owner)
        if wait_sends:
            self.wait_sends()

    def wait_sends(self) -> None:
        """Wait until every attempt in flight is done and recorded."""
        wait(self._in_flight)
        for future in self._in_flight:
            future.result()  # _send records every outcome; this only surfaces a store error
        self._in_flight.clear()

    def close(self) -> None:
        """Wait for the attempts in flight (each bounded by its deadline); stop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._in_flight.clear()

    def _groups(self, claimed: list[DeliveryRow]) -> list[list[DeliveryRow]]:
        """Rows sent one after the other: a serial sender's rows per destination, else each
        row alone. Oldest due first within a group."""
        groups: dict[tuple[DeliveryKind, str], list[DeliveryRow]] = {}
        for row in claimed:
            key = row.destination if self.senders[row.kind].serial else f"#{row.id}"
            groups.setdefault((row.kind, key), []).append(row)
        return list(groups.values())

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="conveyor-deliver")
        return self._pool

    def _send(self, group: list[DeliveryRow], report: DeliveryReport, now: float | None) -> None:
        deferred: list[int] = []
        try:
            for row in group:
                sender = self.senders[row.kind]
                if sender.serial:
                    with self._lock:
                        if (row.kind, row.destination) in self._failing:
                            report.deferred += 1
                            deferred.append(row.id)
                            continue
                try:
                    self._attempt(sender, row, report, now)
                except Exception:
                    # The lease lapses and another round retries it.
                    logging.getLogger(sender.logger).exception(
                        "%s: recording the attempt failed", sender.describe(row)
                    )
                    raise
        finally:
            if deferred:
                # Given back at once: due again next round, not only once the lease lapses.
                self.store.release_deliveries(deferred, self.owner)

    def _attempt(
        self, sender: Sender, row: DeliveryRow, report: DeliveryReport, now: float | None
    ) -> None:
        failed = sender.send(row)
        attempts = row.attempts + 1
        wait_for = (
            None
            if failed is None or failed.hopeless
            else sender.schedule.retry_in(attempts)
        )
        recorded = self.store.record_delivery(
            row.id,
            self.owner,
            row.attempts,
            error=None if failed is None else failed.error,
            retry_in=wait_for,
            now=now,
        )
        with self._lock:
            if failed is None:
                report.delivered += 1
                return
            report.failed += 1
            report.errors.append(failed.error)
            if wait_for is None:
                report.given_up += 1
            if sender.serial and not failed.hopeless:
                self._failing.add((row.kind, row.destination))
        logging.getLogger(sender.logger).warning(
            "%s failed on attempt %d: %s; %s%s",
            sender.describe(row),
            attempts,
            failed.error,
            "giving up" if wait_for is None else f"retrying in {wait_for:g}s",
            "" if recorded else " (another deliverer recorded it first)",
        )
