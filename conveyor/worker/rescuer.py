"""The rescuer: attempts whose lease lapsed are counted as failed and retried (or dead), and
waiting jobs past their start deadline end as cancelled (expired)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from conveyor.store.protocol import AsyncStore
from conveyor.worker.periodic import PeriodicService

log = logging.getLogger("conveyor.worker")


class Rescuer(PeriodicService):
    """Every worker runs one; the store's guarded update makes concurrent rescuers safe.

    ``before`` runs first in every round: a worker passes its completer's flush, so its own
    rescuer never charges an attempt whose completion this process still holds (after the
    store was unreachable past the lease, say). When it raises, the round is skipped.
    """

    name = "rescuer"

    def __init__(
        self,
        store: AsyncStore,
        interval: float,
        *,
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.rescued = 0
        self.expired = 0
        self._before = before

    async def tick(self) -> None:
        """Rescue every lapsed lease, then cancel every expired job, in batches."""
        if self._before is not None:
            await self._before()
        await self._rescue()
        await self._expire()

    async def _expire(self) -> None:
        # The claims already skip these jobs: this gives them their final state, so they are
        # counted and seen (and their run, if any, moves on) rather than left waiting.
        while True:
            ids = await self.store.cancel_expired(limit=500)
            self.expired += len(ids)
            if ids:
                log.info("cancelled %d jobs not started by their start deadline: %s",
                         len(ids), ids[:20])
            if len(ids) < 500:
                return

    async def _rescue(self) -> None:
        while True:
            ids = await self.store.rescue_expired(limit=500)
            self.rescued += len(ids)
            if ids:
                log.warning("rescued %d jobs whose worker stopped renewing its lease: %s",
                            len(ids), ids[:20])
            if len(ids) < 500:
                return
