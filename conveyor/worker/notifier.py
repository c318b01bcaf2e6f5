"""The notifier: sends each finished job's ``notify_url`` webhook, retrying failures.

Every worker process runs one. Each round it

1. finds jobs that finished with a ``notify_url`` and have no delivery yet, and writes one
   pending delivery per finish (the body is fixed then: what was true when the job finished);
2. claims due deliveries under a lease (so two notifiers never send the same one at once),
   POSTs each once on a small pool of threads (:data:`CONCURRENCY` at a time, so one slow
   receiver holds one thread until its deadline while the others keep flowing), and records
   the outcome: delivered, due again after a backoff, or given up after
   :data:`conveyor.notify.MAX_ATTEMPTS` attempts (at once for a refused destination).

Finding new finishes reads an index of the jobs that asked for a webhook, from a watermark:
each round looks back :data:`ROUND_SLACK` seconds (so a finish committed a little late is not
missed), every :data:`SWEEP_EVERY` seconds it looks back :data:`SWEEP_SPAN`, and the first
round of a process looks at all of history (finishes while no worker ran, such as a job
cancelled from the command line, are sent then). A job's delivery row makes the look-backs
find it only once.

A receiver may still get a webhook twice: if a worker dies between the POST and recording it,
the lease runs out and another notifier sends it again. Receivers should treat
``(job_id, finished_at)`` as the delivery's identity.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.destinations import AllowList, redacted
from conveyor.notify import (
    DEFAULT_BACKOFF,
    TIMEOUT,
    WebhookError,
    completion_body,
    post_webhook,
    retry_in,
)
from conveyor.store.notify_protocol import NewWebhook, WebhookRow
from conveyor.worker.service import PeriodicService

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.store.protocol import Store

log = logging.getLogger("conveyor.notifier")

ROUND_SLACK = 60.0
"""Seconds each round looks back before the previous round's start."""
SWEEP_EVERY = 300.0
SWEEP_SPAN = 3600.0
"""Every :data:`SWEEP_EVERY` seconds a round looks back this far."""
PRUNE_EVERY = 600.0
"""Seconds between prunes of finished deliveries whose job is gone."""
ENROLL_BATCH = 100
SENDS_PER_ROUND = 50
"""At most this many POSTs per round, so a backlog does not starve the other steps."""
LEASE_MARGIN = 30.0
"""A claim's lease is the POST's timeout plus this, so it outlives the attempt."""
CONCURRENCY = 4
"""POSTs in flight at once per notifier."""


@dataclass
class NotifyReport:
    """What one round of :meth:`Notifier.tick` did."""

    added: int = 0
    delivered: int = 0
    failed: int = 0
    """Attempts that failed (to be retried, or given up)."""
    given_up: int = 0


def _never() -> bool:
    return False


class Notifier:
    """The rounds of the notifier, on a sync store (tests drive it directly).

    ``backoff`` are the waits before each retry (the last repeats); ``timeout`` is each POST's
    deadline; ``allow`` the non-public destinations that may be reached anyway;
    ``concurrency`` how many POSTs are in flight at once; ``clock`` (monotonic seconds) only
    paces the look-backs and prunes. :meth:`close` waits for the POSTs in flight.
    """

    def __init__(
        self,
        store: Store,
        *,
        secret: str | None,
        allow: AllowList | None = None,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        timeout: float = TIMEOUT,
        concurrency: int = CONCURRENCY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.secret = secret
        self.allow = allow or AllowList()
        self.backoff = tuple(backoff)
        self.timeout = timeout
        self.concurrency = concurrency
        self.clock = clock
        self._pool: ThreadPoolExecutor | None = None  # started on the first send
        self._in_flight: set[Future[None]] = set()
        self._counting = threading.Lock()
        self._since: float | None = None  # None: the first round looks at all of history
        self._last_sweep = clock()
        self._last_prune = clock()

    def tick(
        self, should_stop: Callable[[], bool] = _never, *, wait_sends: bool = True
    ) -> NotifyReport:
        """One round: find new finishes, send what is due, now and then prune.

        With ``wait_sends`` the round returns once its POSTs are done and recorded; without,
        it returns as soon as they are started (the service's rounds, so that new finishes are
        found while a slow receiver holds a POST), and their outcomes still add to the report
        as they come in.
        """
        report = NotifyReport(added=self.enroll())
        self.deliver(report, should_stop, wait_sends=wait_sends)
        if self.clock() - self._last_prune >= PRUNE_EVERY:
            self._last_prune = self.clock()
            pruned = self.store.prune_webhooks()
            if pruned:
                log.info("pruned %d webhook deliveries of jobs that are gone", pruned)
        return report

    def enroll(self) -> int:
        """Write a pending delivery for every new finish; how many were written."""
        now = self.store.now()
        since = 0.0 if self._since is None else self._since
        if self.clock() - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = self.clock()
            since = min(since, now - SWEEP_SPAN)
        added = 0
        while True:
            jobs = self.store.jobs_to_notify(since, ENROLL_BATCH)
            rows = [
                NewWebhook(
                    job_id=job.id,
                    url=str(job.meta.get("notify_url")),
                    payload_json=completion_body(job),
                    finished_at=job.finished_at,
                )
                for job in jobs
                if job.finished_at is not None
            ]
            written = self.store.add_webhooks(rows)
            added += written
            # A full batch may have more behind it; an empty write means someone else is
            # adding the same rows, and the next round will see what is left.
            if len(jobs) < ENROLL_BATCH or written == 0:
                break
        self._since = now - ROUND_SLACK
        return added

    def deliver(
        self,
        report: NotifyReport,
        should_stop: Callable[[], bool] = _never,
        *,
        wait_sends: bool = True,
    ) -> None:
        """Send due deliveries, claiming only as many as there are free threads, until none is
        due or the round's share is used (or ``should_stop`` says so: a stopping worker starts
        nothing more). ``wait_sends``: see :meth:`tick`."""
        lease = self.timeout + LEASE_MARGIN
        started = 0
        while started < SENDS_PER_ROUND and not should_stop():
            self._in_flight = {f for f in self._in_flight if not f.done()}
            free = min(self.concurrency - len(self._in_flight), SENDS_PER_ROUND - started)
            if free <= 0:
                if not wait_sends:
                    break
                wait(self._in_flight, return_when=FIRST_COMPLETED)
                continue
            claimed = self.store.claim_webhooks(free, lease)
            if not claimed:
                break
            for row in claimed:
                self._in_flight.add(self._threads().submit(self._send, row, report))
            started += len(claimed)
        if wait_sends:
            self.wait_sends()

    def wait_sends(self) -> None:
        """Wait until every POST in flight is done and recorded."""
        wait(self._in_flight)
        for future in self._in_flight:
            future.result()  # _send records every outcome; this only surfaces a store error
        self._in_flight.clear()

    def close(self) -> None:
        """Wait for the POSTs in flight (each bounded by its deadline) and stop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._in_flight.clear()

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="conveyor-notify")
        return self._pool

    def _send(self, row: WebhookRow, report: NotifyReport) -> None:
        try:
            self._attempt(row, report)
        except Exception:
            # The lease lapses and another round retries it; the thread must survive.
            log.exception("webhook for job %s: recording the attempt failed", row.job_id)
            raise

    def _attempt(self, row: WebhookRow, report: NotifyReport) -> None:
        error: str | None = None
        hopeless = False
        try:
            post_webhook(
                row.url,
                row.payload_json,
                secret=self.secret,
                allow=self.allow,
                timeout=self.timeout,
            )
        except WebhookError as exc:
            error, hopeless = str(exc), exc.hopeless
        attempts = row.attempts + 1
        wait = None if error is None or hopeless else retry_in(attempts, self.backoff)
        recorded = self.store.record_webhook(
            row.job_id, row.finished_at, row.attempts, error=error, retry_in=wait
        )
        with self._counting:  # sends of one round finish on several threads
            if error is None:
                report.delivered += 1
            else:
                report.failed += 1
                if wait is None:
                    report.given_up += 1
        if error is None:
            return
        log.warning(
            "webhook for job %s to %s failed on attempt %d: %s; %s%s",
            row.job_id,
            redacted(row.url),
            attempts,
            error,
            "giving up" if wait is None else f"retrying in {wait:g}s",
            "" if recorded else " (another notifier recorded it first)",
        )


class NotifierService(PeriodicService):
    """Runs :class:`Notifier` rounds every ``interval`` seconds on a thread."""

    name = "notifier"

    def __init__(self, app: Conveyor, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.notifier = Notifier(
            app.store,
            secret=app.webhook_secret,
            allow=app.webhook_allow,
            backoff=app.webhook_backoff,
            timeout=app.webhook_timeout,
        )
        self._stopping = threading.Event()

    async def tick(self) -> None:
        """One round on a thread; it starts its POSTs and does not wait for them."""
        await asyncio.to_thread(self.notifier.tick, self._stopping.is_set, wait_sends=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set; then no POST is started, and the ones in flight are
        waited for (each within its deadline) and recorded."""

        async def relay() -> None:
            await stop.wait()
            self._stopping.set()

        relay_task = asyncio.create_task(relay())
        try:
            await super().run(stop)
        finally:
            relay_task.cancel()
            await asyncio.to_thread(self.notifier.close)
