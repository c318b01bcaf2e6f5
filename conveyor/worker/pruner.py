"""The pruner: deletes what is past its retention (finished jobs first) so the database stays
small."""

from __future__ import annotations

import logging

from conveyor.store.protocol import AsyncStore, Retention
from conveyor.worker.periodic import PeriodicService

log = logging.getLogger("conveyor.worker")


class Pruner(PeriodicService):
    """Deletes what the app's :class:`Retention` lets go: finished jobs, ``ctx.once()``
    records, the monitor's records and finished deliveries (one store verb, ``prune``)."""

    name = "pruner"

    def __init__(self, store: AsyncStore, retention: Retention, interval: float) -> None:
        super().__init__(interval, run_at_start=False)
        self.store = store
        self.retention = retention
        self.pruned = 0

    async def tick(self) -> None:
        """Prune in batches until nothing old is left (every table is bounded per batch, so a
        batch returning less than its limit left no backlog anywhere)."""
        while True:
            count = await self.store.prune(self.retention, limit=5000)
            self.pruned += count
            if count:
                log.info(
                    "pruned %d rows past retention (finished jobs, schedule, incident, check-in "
                    "and delivery records)",
                    count,
                )
            if count < 5000:
                return
