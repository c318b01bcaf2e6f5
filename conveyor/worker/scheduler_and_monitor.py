"""The worker's scheduler and monitor services: the blocking rounds run on a thread.

Both do little work per round (a few small statements), so the sync store on a thread is
simpler than a second, async implementation of every verb, and keeps the event loop free.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from conveyor.errors import StoreUnavailableError
from conveyor.monitor.service import Monitor
from conveyor.schedules.scheduler import Scheduler
from conveyor.worker.periodic import PeriodicService, sleep_or_stop

if TYPE_CHECKING:
    from conveyor.app import Conveyor

log = logging.getLogger("conveyor.worker")


class SchedulerService:
    """Runs scheduler rounds back to back, sleeping until the next slot (at most a second)."""

    name = "scheduler"

    def __init__(self, app: Conveyor) -> None:
        self.scheduler = Scheduler(app)
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set; a failing round is logged and retried with backoff."""
        while not stop.is_set():
            try:
                report = await asyncio.to_thread(self.scheduler.run_round)
                self.failures = 0
                pause = self.scheduler.sleep_hint(report)
            except StoreUnavailableError as exc:
                self.failures += 1
                log.warning("scheduler: store unavailable, will retry: %s", exc)
                pause = min(8.0, 0.5 * 2**self.failures)
            except Exception:
                self.failures += 1
                log.exception("scheduler: round failed; the scheduler keeps running")
                pause = min(8.0, 0.5 * 2**self.failures)
            if await sleep_or_stop(stop, pause):
                break
        try:  # else the lease runs out by itself, and a spare takes it then
            await asyncio.to_thread(self.scheduler.release)
        except Exception as exc:
            log.debug("scheduler: could not give up its lease: %s", exc)


class MonitorService(PeriodicService):
    """One monitor round every ``app.monitor_config.interval``; the lease keeps one active."""

    name = "monitor"

    def __init__(self, app: Conveyor, holder: str) -> None:
        super().__init__(app.monitor_config.interval)
        self.monitor = Monitor(app, holder=holder)

    async def tick(self) -> None:
        """One monitor round on a thread, then (if it acted) the cluster gauges' snapshot."""
        if (await asyncio.to_thread(self.monitor.tick)).acted:
            await asyncio.to_thread(self.monitor.write_gauges)

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until stopped, then hand the lease over at once."""
        try:
            await super().run(stop)
        finally:
            try:
                await asyncio.to_thread(self.monitor.release)
            except Exception as exc:  # the lease expires by itself anyway
                log.debug("monitor: could not release the lease: %s", exc)
