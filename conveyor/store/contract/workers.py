"""Workers: the registry of live worker processes and the expiry of dead ones' leases.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.models import WorkerInfo


class WorkerVerbs(Protocol):
    """Registering, listing and expiring worker processes."""

    def put_worker(
        self, worker_id: str, info: WorkerInfo | None, *, now: float | None = None
    ) -> None:
        """Record live worker process ``worker_id`` as ``info`` says (a new row is started, and
        any row seen, at ``now``), or (``info=None``) remove it: it stopped cleanly.

        Worker processes write their row when they start and again at every heartbeat (so a
        row removed by mistake comes back), and remove it when they stop. ``info.id`` is not
        read: the row is ``worker_id``'s. Removing leaves the worker's jobs alone (see
        :meth:`expire_worker` for a worker that died).

        Guarantees: one transaction (an upsert, or a delete, by id). Idempotent: writing again
        only moves ``last_seen``; removing an unknown id is ignored.
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
