"""The dashboard's chart series with settled buckets rolled up, written once for every store
(see :mod:`.plan`).

A chart bucket (a minute of the hour chart, an hour of the day chart) counts the jobs and
attempts that finished in it. Once it ended long enough ago that nothing can still land in it
(:data:`SETTLE_SECONDS`: finish times are stamped by the store's clock inside short
transactions), its counts never change, so the first read after that stores them in
``conveyor_series_rollup`` and every later read, by any dashboard process, takes them from there.
A first view of the overview with a million jobs finished in the last day then reads 24 rows
per queue and the jobs of the last hour or so, instead of the whole day (issue 14, item 6).

Each rolled bucket has a marker row (queue :data:`SEALED`) besides one row per queue with
anything in it, so a bucket in which nothing finished is known to be empty rather than unread.
What a rolled bucket gives up is the same as the dashboard's in-process cache: a dead job
replayed, or jobs pruned, after the bucket settled do not change its counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

from conveyor.store.plan import Plan, Statement
from conveyor.store.web_types import SeriesPoint

SETTLE_SECONDS = 300.0
"""How long after its end a bucket is rolled up: longer than any completing transaction runs
between stamping a finish time and committing it."""

KEEP_SECONDS = 2 * 86400.0
"""Rolled buckets older than this are deleted when new ones are written (the charts look back a
day at most)."""

MOST_BUCKETS = 1500
"""The most buckets one read rolls up (a day of minutes is 1,440); a read over more of them,
e.g. one-second buckets over a week, is answered from the jobs alone and stores nothing."""

SEALED = ""
"""The queue of a bucket's marker row: queue names are never empty."""

RolledRow = tuple[float, float, str, int, int]
"""One row of ``conveyor_series_rollup``: bucket size, bucket start, queue, succeeded, failed."""


class SeriesDialect(Protocol):
    """What a store gives :func:`read_series` and :func:`save_series`: its four statements."""

    def rolled(self, since: float, bucket: float) -> Statement:
        """Rolled rows of this bucket size from ``since`` on: (bucket, queue, succeeded,
        failed), marker rows included, ordered by bucket and queue."""
        ...

    def finished(self, since: float, bucket: float) -> Statement:
        """``web_finished_series``: counts from the jobs and attempts themselves."""
        ...

    def save(self, rows: Sequence[RolledRow]) -> Statement:
        """Insert ``rows``, leaving any already there (another dashboard rolled them first)."""
        ...

    def prune(self, bucket: float, before: float) -> Statement:
        """Delete rolled rows of this bucket size that start before ``before``."""
        ...


def read_series(
    d: SeriesDialect, since: float, bucket: float, now: float
) -> Plan[tuple[list[SeriesPoint], list[RolledRow]]]:
    """The points of ``finished_series(since, bucket)`` at ``now``, and the rows of buckets
    that settled since the last read, for :func:`save_series` to store (often none).

    The rolled buckets used are the unbroken run of them from ``since``; everything after is
    read from the jobs. ``since`` off the bucket grid is read from the jobs alone (a rolled
    bucket would count what finished before ``since``).
    """
    if since % bucket != 0 or (now - since) / bucket > MOST_BUCKETS:
        raw = yield d.finished(since, bucket)
        return points_of(raw.rows), []
    rolled = yield d.rolled(since, bucket)
    kept, read_from = sealed_prefix(rolled.rows, since, bucket)
    raw = yield d.finished(read_from, bucket)
    fresh = points_of(raw.rows)
    return kept + fresh, settled_rows(fresh, read_from, settled_until(now, bucket), bucket)


def save_series(
    d: SeriesDialect, bucket: float, rows: Sequence[RolledRow], now: float
) -> Plan[None]:
    """Store newly settled buckets and delete those past :data:`KEEP_SECONDS`."""
    yield d.save(rows)
    yield d.prune(bucket, now - KEEP_SECONDS)


def points_of(rows: Sequence[Sequence[Any]]) -> list[SeriesPoint]:
    """Series points from (bucket, queue, succeeded, failed) rows."""
    return [
        SeriesPoint(bucket=float(r[0]), queue=r[1], succeeded=int(r[2]), failed=int(r[3]))
        for r in rows
    ]


def sealed_prefix(
    rows: Sequence[Sequence[Any]], since: float, bucket: float
) -> tuple[list[SeriesPoint], float]:
    """The points of the rolled buckets that follow each other from ``since``, and where that
    run stops (the first bucket to read from the jobs)."""
    sealed = {float(r[0]) for r in rows if r[1] == SEALED}
    read_from = since
    while read_from in sealed:
        read_from += bucket
    kept = points_of([r for r in rows if r[1] != SEALED and float(r[0]) < read_from])
    return kept, read_from


def settled_until(now: float, bucket: float) -> float:
    """Where the settled buckets end at ``now``: every bucket starting before it ended at
    least :data:`SETTLE_SECONDS` ago."""
    return math.floor((now - SETTLE_SECONDS) / bucket) * bucket


def settled_rows(
    fresh: Sequence[SeriesPoint], read_from: float, until: float, bucket: float
) -> list[RolledRow]:
    """Rows that roll up the buckets from ``read_from`` to ``until``, read as ``fresh``: a
    marker for each bucket and a row per queue with anything in it."""
    rows: list[RolledRow] = []
    start = read_from
    while start < until:
        rows.append((bucket, start, SEALED, 0, 0))
        start += bucket
    rows.extend(
        (bucket, p.bucket, p.queue, p.succeeded, p.failed) for p in fresh if p.bucket < until
    )
    return rows


def rolled_params(row: RolledRow) -> dict[str, float | str | int]:
    """A rolled row as the named parameters of the stores' ``web_series_save``."""
    size, start, queue, succeeded, failed = row
    return {
        "size": size, "bucket": start, "queue": queue,
        "succeeded": succeeded, "failed": failed,
    }  # fmt: skip
