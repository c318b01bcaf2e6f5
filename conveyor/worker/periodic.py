"""A small periodic background service: one loop, supervised so it never dies silently."""

from __future__ import annotations

import asyncio
import logging
import random

from conveyor.errors import StoreUnavailableError

log = logging.getLogger("conveyor.worker")


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; return True early if ``stop`` is set."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True


class PeriodicService:
    """Runs :meth:`tick` every ``interval`` seconds (with ±10 % jitter) until stopped.

    A tick that raises is logged and the loop goes on: a background service that dies while
    the worker looks healthy is the failure this class exists to prevent.
    """

    name = "service"

    def __init__(self, interval: float, *, run_at_start: bool = True) -> None:
        self.interval = interval
        self.run_at_start = run_at_start
        self.failures = 0

    async def tick(self) -> None:
        """One round of the service's work."""
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set."""
        if not self.run_at_start and await sleep_or_stop(stop, self._pause()):
            return
        while not stop.is_set():
            try:
                await self.tick()
                self.failures = 0
            except StoreUnavailableError as exc:
                self.failures += 1
                log.warning("%s: store unavailable, will retry: %s", self.name, exc)
            except Exception:
                self.failures += 1
                log.exception("%s: tick failed; the service keeps running", self.name)
            if await sleep_or_stop(stop, self._pause()):
                return

    def _pause(self) -> float:
        # Back off while failing so a broken store is not hammered.
        base = self.interval * min(8, 2**self.failures) if self.failures else self.interval
        return base * random.uniform(0.9, 1.1)
