"""The rescuer: attempts whose lease lapsed are counted as failed and retried (or dead)."""

from __future__ import annotations

import logging

from conveyor.store.protocol import AsyncStore
from conveyor.worker.service import PeriodicService

log = logging.getLogger("conveyor.worker")


class Rescuer(PeriodicService):
    """Every worker runs one; the store's guarded update makes concurrent rescuers safe."""

    name = "rescuer"

    def __init__(self, store: AsyncStore, interval: float) -> None:
        super().__init__(interval)
        self.store = store
        self.rescued = 0

    async def tick(self) -> None:
        """Rescue every lapsed lease, in batches."""
        while True:
            ids = await self.store.rescue_expired(limit=500)
            self.rescued += len(ids)
            if ids:
                log.warning("rescued %d jobs whose worker stopped renewing its lease: %s",
                            len(ids), ids[:20])
            if len(ids) < 500:
                return
