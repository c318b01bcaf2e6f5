"""Workers: the registry of live worker processes and the expiry of dead ones' leases.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.models import WorkerInfo


class WorkerVerbs(Protocol):
    """Registering, listing and expiring worker processes."""

    def register_worker(self, info: WorkerInfo) -> None:
        """Record a live worker process (replacing an older row with the same id).

        Guarantees: one transaction (an upsert by id). Idempotent.
        """
        ...

    def deregister_worker(self, worker_id: str) -> None:
        """Remove a worker that stopped cleanly.

        Guarantees: one transaction. Idempotent: an unknown id is ignored.
        """
        ...

    def live_workers(self, stale_after: float, *, now: float | None = None) -> list[WorkerInfo]:
        """Workers seen within ``stale_after`` seconds before ``now`` (the caller's clock,
        defaulting to the store's).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def expire_worker(self, worker_id: str, *, now: float | None = None) -> int:
        """Lapse the leases of a worker known to be dead, so they are rescued at once.

        Guarantees: one transaction. Fenced by owner: only running jobs claimed by ``worker_id``.
        Idempotent.
        """
        ...
