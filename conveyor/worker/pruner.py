"""The pruner: deletes finished jobs past their retention so the database stays small."""

from __future__ import annotations

import asyncio
import logging

from conveyor.store.protocol import AsyncStore, Retention
from conveyor.worker.periodic import PeriodicService

log = logging.getLogger("conveyor.worker")


class Pruner(PeriodicService):
    """Deletes succeeded, dead and cancelled jobs older than the app's :class:`Retention`."""

    name = "pruner"

    def __init__(self, store: AsyncStore, retention: Retention, interval: float) -> None:
        super().__init__(interval, run_at_start=False)
        self.store = store
        self.retention = retention
        self.pruned = 0

    async def tick(self) -> None:
        """Prune in batches until nothing old is left."""
        while True:
            count = await self.store.prune(self.retention, limit=5000)
            self.pruned += count
            if count:
                log.info("pruned %d finished jobs past retention", count)
            if count < 5000:
                break
        # The scheduler's ledger, incidents and check-in pings (a few small statements).
        while True:
            count = await asyncio.to_thread(self.store.sync.prune_watch, self.retention, 5000)
            if count:
                log.info("pruned %d schedule, incident and check-in rows past retention", count)
            if count < 5000:
                return
