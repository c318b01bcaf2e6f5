"""Small bar charts of finished jobs, drawn on the server as SVG (no script, no library).

:func:`bar_chart` turns the store's :class:`~conveyor.store.web_types.SeriesPoint` rows for one
queue into plain geometry; the template ``_macros.html`` draws it as ``<rect>`` elements, so
every label passes through the template's escaping like any other text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from conveyor.store.web_types import SeriesPoint


@dataclass(frozen=True, slots=True)
class Bar:
    """One time bucket: a green stack of successes on a red stack of failures."""

    x: float
    width: float
    ok_y: float
    ok_height: float
    failed_y: float
    failed_height: float
    label: str
    """What a tooltip says: ``12:05 UTC: 40 succeeded, 2 failed``."""


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawn series: its size, bars, totals and a sentence for screen readers."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    succeeded: int
    failed: int
    peak: int
    """The tallest bucket's total, which the full height stands for."""
    caption: str


@dataclass(frozen=True, slots=True)
class Window:
    """A span of time cut into equal buckets, e.g. the last hour in minutes."""

    name: str
    """How the chart is titled: ``last hour``."""
    seconds: float
    bucket: float

    def start(self, now: float) -> float:
        """The first bucket's start: aligned to the bucket size, as the store aligns them."""
        return math.floor((now - self.seconds) / self.bucket) * self.bucket + self.bucket

    @property
    def count(self) -> int:
        """How many buckets the window holds."""
        return round(self.seconds / self.bucket)


LAST_HOUR = Window("last hour", 3600.0, 60.0)
LAST_DAY = Window("last day", 86400.0, 3600.0)


def bar_chart(
    points: Iterable[SeriesPoint],
    window: Window,
    now: float,
    *,
    width: int = 144,
    height: int = 28,
) -> Chart:
    """Draw one queue's ``points`` over ``window`` ending at ``now``; empty buckets stay empty."""
    start = window.start(now)
    counts = [[0, 0] for _ in range(window.count)]
    for point in points:
        index = round((point.bucket - start) / window.bucket)
        if 0 <= index < window.count:
            counts[index][0] += point.succeeded
            counts[index][1] += point.failed
    peak = max((ok + failed for ok, failed in counts), default=0)
    slot = width / window.count
    gap = min(1.0, slot * 0.2)
    bars = []
    for index, (ok, failed) in enumerate(counts):
        if ok + failed == 0:
            continue
        failed_height = height * failed / peak
        ok_height = height * ok / peak
        bars.append(
            Bar(
                x=round(index * slot, 2),
                width=round(max(slot - gap, 0.5), 2),
                ok_y=round(height - failed_height - ok_height, 2),
                ok_height=round(ok_height, 2),
                failed_y=round(height - failed_height, 2),
                failed_height=round(failed_height, 2),
                label=f"{_bucket_label(start + index * window.bucket, window)}: "
                f"{ok} succeeded, {failed} failed",
            )
        )
    succeeded = sum(ok for ok, _ in counts)
    failed = sum(f for _, f in counts)
    caption = f"{window.name}: {succeeded} succeeded, {failed} failed"
    if peak:
        caption += f", busiest {_unit(window)} {peak}"
    return Chart(width, height, tuple(bars), succeeded, failed, peak, caption)


def _bucket_label(start: float, window: Window) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    return moment.strftime("%H:%M UTC" if window.bucket < 3600 else "%a %H:00 UTC")


def _unit(window: Window) -> str:
    return "minute" if window.bucket == 60 else "hour" if window.bucket == 3600 else "bucket"
