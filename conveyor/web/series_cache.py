"""The overview's charts without re-reading a day of finished jobs on every refresh.

A chart bucket that has ended does not change: the jobs and attempts it counts finished at
times stamped by the store's clock, all before the bucket's end. So the dashboard reads each
ended bucket once and keeps it, and each refresh asks the store only for the buckets it has
not read yet, in practice the one still open. With a million jobs finished in the last day the
day chart cost 260 ms a refresh; it now costs what the open hour holds (issue 14, item 6). The
store itself keeps buckets that settled (:mod:`conveyor.store.series_plans`), so a new dashboard
process's first view does not read the day's jobs either.

What this gives up: a past bucket keeps the counts read when it had ended, so a dead job
replayed later, or jobs pruned since, do not change bars already drawn (the next dashboard
process reads them afresh).
"""

from __future__ import annotations

import math
import threading

from conveyor.store.protocol import Store
from conveyor.store.web_types import SeriesPoint


class SeriesCache:
    """Ended buckets of ``Store.finished_series``, per bucket size; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended: dict[float, dict[float, list[SeriesPoint]]] = {}
        """Bucket size -> bucket start -> its points (one per queue with anything in it)."""
        self._read_until: dict[float, float] = {}
        """Bucket size -> where the ended buckets read so far stop (an open bucket's start)."""

    def series(self, store: Store, since: float, bucket: float, now: float) -> list[SeriesPoint]:
        """``store.finished_series(since, bucket)`` at ``now`` (the store's clock), reading
        from the store only the buckets not read before and ended, and the open one."""
        open_start = math.floor(now / bucket) * bucket
        with self._lock:
            read_until = self._read_until.get(bucket)
            start = since if read_until is None or read_until <= since else read_until
        fresh = store.finished_series(start, bucket, now=now)
        with self._lock:
            ended = self._ended.setdefault(bucket, {})
            for point in fresh:
                if point.bucket < open_start:
                    ended.setdefault(point.bucket, [])
                    if point not in ended[point.bucket]:
                        ended[point.bucket].append(point)
            if open_start >= start:
                self._read_until[bucket] = max(self._read_until.get(bucket, open_start), open_start)
            for old in [b for b in ended if b < since]:
                del ended[old]
            kept = [p for b in sorted(ended) if since <= b < start for p in ended[b]]
        return kept + [p for p in fresh if p.bucket >= since]
