"""The delivery service every worker runs: :class:`~conveyor.delivery.deliverer.Deliverer`
rounds on a thread, for completion webhooks always and for alerts where the monitor runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from conveyor._outbox import DeliveryKind
from conveyor.delivery import Deliverer, WebhookSender
from conveyor.monitor.delivery import AlertSender
from conveyor.monitor.sinks import LogSink, Sink
from conveyor.worker.periodic import PeriodicService

if TYPE_CHECKING:
    from conveyor.app import Conveyor


def monitor_sinks(app: Conveyor) -> Mapping[str, Sink]:
    """The app's alert sinks by name (the monitor's default, a log sink, when none is set)."""
    sinks = app.monitor_config.sinks
    return {sink.name: sink for sink in ([LogSink()] if sinks is None else sinks)}


IDLE_INTERVAL = 5.0
"""Seconds between a deliverer's rounds once rounds find nothing, reached by doubling."""


def next_interval(current: float, base: float, busy: bool) -> float:
    """The pause before the next round: ``base`` after a round that found work, else double
    the last pause, up to :data:`IDLE_INTERVAL` (never below ``base``)."""
    return base if busy else max(base, min(IDLE_INTERVAL, current * 2))


class DeliveryService(PeriodicService):
    """Runs :class:`Deliverer` rounds every ``interval`` seconds on a thread, backing off to
    :data:`IDLE_INTERVAL` while the rounds find nothing to enroll or send (every
    supervisor runs one, and an idle fleet's rounds were a third of its statements).

    With ``alerts`` it sends the monitor's notices too (read from the app's monitor
    configuration every round, as the monitor does); webhooks always.
    """

    name = "delivery"

    def __init__(self, app: Conveyor, interval: float = 1.0, *, alerts: bool = False) -> None:
        super().__init__(interval)
        self.base_interval = interval
        self.app = app
        self.alerts = alerts
        self.deliverer = Deliverer(
            app.store,
            [
                WebhookSender(
                    secret=app.webhook_secret,
                    allow=app.webhook_allow,
                    backoff=app.webhook_backoff,
                    timeout=app.webhook_timeout,
                )
            ],
        )
        self._stopping = threading.Event()

    async def tick(self) -> None:
        """One round on a thread; it starts its attempts and does not wait for them."""
        if self.alerts:
            sender = AlertSender(monitor_sinks(self.app))
            self.deliverer.senders[DeliveryKind.ALERT] = sender
        report = await asyncio.to_thread(
            self.deliverer.tick, self._stopping.is_set, wait_sends=False
        )
        self.interval = next_interval(
            self.interval, self.base_interval, bool(report.added or report.claimed)
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set; then no attempt is started, and the ones in flight are
        waited for (each within its deadline) and recorded."""

        async def relay() -> None:
            await stop.wait()
            self._stopping.set()

        relay_task = asyncio.create_task(relay())
        try:
            await super().run(stop)
        finally:
            relay_task.cancel()
            await asyncio.to_thread(self.deliverer.close)
