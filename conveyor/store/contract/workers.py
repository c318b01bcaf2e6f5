"""Workers: the registry of live worker processes, the expiry of dead ones' leases, and the
release of jobs a live one holds without knowing it.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    def release_unheld(
        self, worker_id: str, held: Sequence[tuple[int, int]], *, now: float | None = None
    ) -> list[int]:
        """Hand back the jobs running under ``worker_id`` that are not among ``held``, the
        (job id, token) pairs it knows it holds; return their ids, sorted.

        For a worker whose claim failed with an unknown outcome: the claim may have committed
        while its answer was lost, leaving jobs the worker never started. Each goes back as
        the shutdown release sends it (``released``, :mod:`conveyor._lifecycle`): ``queued``,
        the attempt not charged, lease and worker cleared, an attempt row recorded with error
        type ``ClaimUnanswered``. Its token is the unanswered claim's, which nothing alive
        holds; the next claim issues a new one. ``held`` names every attempt the worker runs
        *and* every one whose completion it has not written yet, and no claim of the worker
        may be in flight meanwhile, or a job it is about to hear of would be released under
        it. The history row is written at ``now`` (the caller's clock, defaulting to the
        store's). Raises ``ConfigurationError`` for an empty ``worker_id`` or a ``held``
        entry that is not a pair of integers.

        Guarantees: one transaction. Fenced by owner, state and token: only ``running`` jobs
        of ``worker_id`` whose (id, token) is not in ``held``; a job completed, rescued or
        cancelled meanwhile is left alone. Idempotent: a released job is no longer running.
        """
        ...
