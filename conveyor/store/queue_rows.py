"""Shared by both stores: the per-queue stats, mapped once from the rows both dialects select.

Both dialects' ``queue_stats`` plans read the same four things: per-queue counts
(``queue_counts.sql``: queue, queued, scheduled, running, retrying, dead, the oldest ready
job's age in seconds, succeeded in the last hour), failures in the last hour
(``queue_failures.sql``: queue, count), the names waiting (``waiting_names.sql``: queue, name)
and the paused queues (``paused_queues.sql``: name). The counts stop at ``cap``
(:data:`conveyor.models.COUNT_CAP`); a count that reached it is listed in
:attr:`QueueStats.at_least`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from conveyor.models import COUNT_CAP, QueueStats

COUNTED = ("queued", "scheduled", "running", "retrying", "dead", "succeeded_last_hour")
"""The bounded counts, by their column in ``queue_counts.sql`` (1..5, then 7)."""
_COLUMNS = (1, 2, 3, 4, 5, 7)


def _at_least(row: Sequence[Any], cap: int) -> tuple[str, ...]:
    return tuple(name for name, i in zip(COUNTED, _COLUMNS, strict=True) if (row[i] or 0) >= cap)


def stats_from_rows(
    counts: Sequence[Sequence[Any]],
    failures: Iterable[Sequence[Any]],
    names: Iterable[Sequence[Any]],
    paused: Iterable[Sequence[Any]],
    cap: int = COUNT_CAP,
) -> list[QueueStats]:
    """The :class:`QueueStats` of every queue, from the four row sets above, sorted by name."""
    stopped = {r[0] for r in paused}
    failed = {r[0]: r[1] for r in failures}
    waiting: dict[str, list[str]] = {}
    for queue, name in names:
        waiting.setdefault(queue, []).append(name)
    stats = [
        QueueStats(
            queue=r[0],
            queued=int(r[1] or 0),
            scheduled=int(r[2] or 0),
            running=int(r[3] or 0),
            retrying=int(r[4] or 0),
            dead=int(r[5] or 0),
            oldest_queued_age=None if r[6] is None else max(0.0, float(r[6])),
            succeeded_last_hour=int(r[7] or 0),
            failed_last_hour=failed.get(r[0], 0),
            waiting_names=tuple(waiting.get(r[0], ())),
            paused=r[0] in stopped,
            at_least=_at_least(r, cap),
        )
        for r in counts
    ]
    return with_paused(stats, stopped)


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
