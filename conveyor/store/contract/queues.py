"""Queues: pausing and resuming, depth and statistics, and "why is my job waiting".

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from conveyor.models import QueueControl, QueueStats
from conveyor.store.contract.records import LimitStatus


class QueueVerbs(Protocol):
    """Queue controls (pause/resume), backpressure, and what a waiting job waits for."""

    def queue_stats(self, *, now: float | None = None) -> list[QueueStats]:
        """Per-queue counts and ages.

        Guarantees: reads only: writes nothing, so it is safe to repeat; ages are judged at ``now``.
        """
        ...

    def next_due_in(
        self, queues: Sequence[str], names: Sequence[str], *, now: float | None = None
    ) -> float | None:
        """Seconds until the earliest pending job of these queues and names is due (0 if now).

        Guarantees: reads only: writes nothing, so it is safe to repeat; judged at ``now``.
        """
        ...

    def set_queue_paused(
        self, name: str, paused: bool, by: str | None, *, now: float | None = None
    ) -> bool:
        """Pause queue ``name`` (stop claims from it; it still accepts jobs) or resume it; False
        when it already was in that state. ``by`` names who did it (for the audit of who last
        changed the queue: :meth:`queue_controls`).

        Jobs already running finish; a claim racing with the pause may still start one. On
        PostgreSQL a resume also wakes idle workers at once.

        Guarantees: one transaction, fenced by the queue's pause state: of concurrent callers
        setting the same state, one gets True. Idempotent: setting the state it already has
        changes nothing (not even who changed it last, or when) and returns False. The change is
        stamped at ``now``.
        """
        ...

    def queue_controls(self) -> list[QueueControl]:
        """Every queue whose pause state was ever set, by name: whether it is paused, and who
        last changed that, when.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def paused_queues(self) -> frozenset[str]:
        """Names of the queues paused now. Derived: written once over :meth:`queue_controls`
        (:class:`~conveyor.store.contract.defaults.DerivedVerbs`).

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def queue_control(self, name: str) -> QueueControl | None:
        """Queue ``name``'s pause state and who last changed it; None if never changed.
        Derived: written once over :meth:`queue_controls`.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def queue_depth(self, queue: str, cap: int) -> int:
        """Waiting jobs (queued, scheduled, retrying) of ``queue``, counted up to ``cap``.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...

    def held_unique_keys(self, keys: Sequence[str], *, now: float | None = None) -> frozenset[str]:
        """Those of ``keys`` that some job holds now (see docs/unique-jobs.md).

        Guarantees: reads only: writes nothing, so it is safe to repeat; holds are judged at
        ``now``.
        """
        ...

    def count_ahead(self, job_id: int, cap: int, *, now: float | None = None) -> int:
        """Ready jobs of the same queue a claim would take before ``job_id``, up to ``cap``.

        Ahead means higher priority, or equal priority and earlier ``run_at`` (then lower id).
        0 when the job does not exist.

        Guarantees: reads only: writes nothing, so it is safe to repeat; readiness is judged at
        ``now``.
        """
        ...

    def limit_status(self, job_id: int, *, now: float | None = None) -> LimitStatus | None:
        """Job ``job_id``'s concurrency and rate limits and what their keys have spent now.

        None when the job does not exist; a job without limits gets an empty status.

        Guarantees: reads only: writes nothing, so it is safe to repeat; rate windows are judged at
        ``now``.
        """
        ...
