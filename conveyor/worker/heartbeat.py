"""The heartbeat: one statement per process renews every lease it holds.

It also stops attempts whose lease is gone (the job was cancelled, or the process was paused
past its lease and the job rescued). Progress has its own faster loop, :class:`ProgressReporter`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from conveyor.models import WorkerInfo
from conveyor.store.protocol import AsyncStore, HeartbeatParams
from conveyor.worker.executor import Executor, StopReason
from conveyor.worker.periodic import PeriodicService

log = logging.getLogger("conveyor.worker")


class Heartbeat(PeriodicService):
    """Renews leases every ``interval`` (a third of the lease)."""

    name = "heartbeat"

    def __init__(
        self, store: AsyncStore, info: WorkerInfo, executor: Executor, lease: float,
        interval: float,
    ) -> None:
        super().__init__(interval, run_at_start=False)
        self.store = store
        self.info = info
        self.worker_id = info.id
        self.executor = executor
        self.lease = lease
        self.last_renewed = time.monotonic()
        """When the leases were last renewed (monotonic seconds; the health stamp reads it)."""

    async def tick(self) -> None:
        """Renew, and stop attempts that lost their job."""
        # Re-register too: a worker row removed by mistake (or by a restored backup) comes
        # back, so `conveyor queues` never calls a live worker gone.
        running = dict(self.executor.running)
        # How many slots are busy rides along: the monitor adds them up for the slot gauges.
        await self.store.put_worker(self.info.id, replace(self.info, busy=len(running)))
        # Attempts that finished but whose completion is not written yet still hold their
        # job: renew them too, or a store outage longer than the lease gets a finished job
        # re-run and charged while this process holds its result.
        tokens = self.executor.completer.held()
        tokens.update((job_id, run.job.token) for job_id, run in running.items())
        held = tuple(tokens.items())
        still_held = await self.store.heartbeat(HeartbeatParams(self.worker_id, held, self.lease))
        self.last_renewed = time.monotonic()
        for job_id in running:
            if job_id not in still_held and job_id in self.executor.running:
                log.warning(
                    "job %s is no longer held by this worker (cancelled, or its lease lapsed); "
                    "stopping the attempt",
                    job_id,
                )
                self.executor.stop(job_id, StopReason.LOST)


    def _pause(self) -> float:
        # No backoff while failing: a beat is one statement, and a heartbeat that waited
        # several intervals after an outage would let leases lapse once the store is back.
        return super()._pause() if not self.failures else self.interval


class ProgressReporter(PeriodicService):
    """Writes the latest ``ctx.progress(...)`` of running jobs, at most every ``interval``."""

    name = "progress"

    def __init__(self, store: AsyncStore, executor: Executor, interval: float = 0.5) -> None:
        super().__init__(interval, run_at_start=False)
        self.store = store
        self.executor = executor

    async def tick(self) -> None:
        """Write progress reported since the last tick."""
        for job_id, run in list(self.executor.running.items()):
            progress = run.ctx.take_progress() if run.ctx is not None else None
            if progress is not None:
                await self.store.set_progress(job_id, run.job.token, progress[0], progress[1])
