"""The notifier: sends each finished job's ``notify_url`` webhook, retrying failures.

Every worker process runs one. Each round it

1. finds jobs that finished with a ``notify_url`` and have no delivery yet, and writes one
   pending delivery per finish (the body is fixed then: what was true when the job finished);
2. claims due deliveries one at a time under a lease (so two notifiers never send the same
   one at once), POSTs each once, and records the outcome: delivered, due again after a
   backoff, or given up after :data:`conveyor.notify.MAX_ATTEMPTS` attempts.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING

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

    ``backoff`` are the waits before each retry (the last repeats); ``timeout`` bounds each
    POST; ``clock`` (monotonic seconds) only paces the look-backs and prunes.
    """

    def __init__(
        self,
        store: Store,
        *,
        secret: str | None,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        timeout: float = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.secret = secret
        self.backoff = tuple(backoff)
        self.timeout = timeout
        self.clock = clock
        self._since: float | None = None  # None: the first round looks at all of history
        self._last_sweep = clock()
        self._last_prune = clock()

    def tick(self, should_stop: Callable[[], bool] = _never) -> NotifyReport:
        """One round: find new finishes, send what is due, now and then prune."""
        report = NotifyReport(added=self.enroll())
        self.deliver(report, should_stop)
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

    def deliver(self, report: NotifyReport, should_stop: Callable[[], bool] = _never) -> None:
        """Send due deliveries, one claim at a time, until none is due or the round's share
        is used (or ``should_stop`` says so: a stopping worker sends nothing more)."""
        lease = self.timeout + LEASE_MARGIN
        for _ in range(SENDS_PER_ROUND):
            if should_stop():
                return
            claimed = self.store.claim_webhooks(1, lease)
            if not claimed:
                return
            for row in claimed:
                self._send(row, report)

    def _send(self, row: WebhookRow, report: NotifyReport) -> None:
        error: str | None = None
        hopeless = False
        try:
            post_webhook(row.url, row.payload_json, secret=self.secret, timeout=self.timeout)
        except WebhookError as exc:
            error, hopeless = str(exc), exc.hopeless
        attempts = row.attempts + 1
        wait = None if error is None or hopeless else retry_in(attempts, self.backoff)
        recorded = self.store.record_webhook(
            row.job_id, row.finished_at, row.attempts, error=error, retry_in=wait
        )
        if error is None:
            report.delivered += 1
            return
        report.failed += 1
        if wait is None:
            report.given_up += 1
        log.warning(
            "webhook for job %s to %s failed on attempt %d: %s; %s%s",
            row.job_id,
            _shown(row.url),
            attempts,
            error,
            "giving up" if wait is None else f"retrying in {wait:g}s",
            "" if recorded else " (another notifier recorded it first)",
        )


def _shown(url: str) -> str:
    """The URL without its query string or user info, which may hold tokens."""
    head = url.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = head.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}"


class NotifierService(PeriodicService):
    """Runs :class:`Notifier` rounds every ``interval`` seconds on a thread."""

    name = "notifier"

    def __init__(self, app: Conveyor, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.notifier = Notifier(
            app.store, secret=app.webhook_secret, backoff=app.webhook_backoff
        )
        self._stopping = threading.Event()

    async def tick(self) -> None:
        """One round on a thread."""
        await asyncio.to_thread(self.notifier.tick, self._stopping.is_set)

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set; a round in progress stops between two POSTs."""

        async def relay() -> None:
            await stop.wait()
            self._stopping.set()

        relay_task = asyncio.create_task(relay())
        try:
            await super().run(stop)
        finally:
            relay_task.cancel()
