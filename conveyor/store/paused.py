"""Shared by both stores: folding paused queues into the per-queue stats."""

from __future__ import annotations

from collections.abc import Iterable

from conveyor.models import QueueStats


def with_paused(stats: list[QueueStats], paused: Iterable[str]) -> list[QueueStats]:
    """``stats`` plus an empty row for every paused queue that holds no jobs, sorted by name.

    A paused queue with nothing in it must still show in ``conveyor queues``: otherwise an
    operator who paused it has no way to see that it is paused.
    """
    seen = {s.queue for s in stats}
    extra = [QueueStats(queue=name, paused=True) for name in paused if name not in seen]
    if not extra:
        return stats
    return sorted(stats + extra, key=lambda s: s.queue)
