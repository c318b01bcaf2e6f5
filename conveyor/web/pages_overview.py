"""The overview page: every queue's counts and charts, live workers, firing alerts.

Its live region (``#live``) is re-fetched every few seconds by ``static/dashboard.js`` and
swapped in place, so the page stays current without a full reload.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from conveyor.models import LIVE_AFTER_SECONDS, Job, JobState, QueueStats, WorkerInfo
from conveyor.store.protocol import JobFilter, Store
from conveyor.store.watch_types import IncidentRow
from conveyor.web.charts import LAST_DAY, LAST_HOUR, Chart, bar_chart
from conveyor.web.pages_common import call, render
from conveyor.web.series_cache import SeriesCache
from conveyor.web.web_context import WebContext

RUNNING_SHOWN = 500
"""Running jobs read to show what each worker is doing (more than any worker runs at once)."""

REFRESH_SECONDS = 5


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One queue on the overview: its counts, rates and two charts."""

    stats: QueueStats
    failure_rate: float | None
    """Failures among finished attempts in the last hour (0..1); None when nothing finished."""
    hour: Chart
    day: Chart


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """A live worker with the jobs it runs now."""

    info: WorkerInfo
    jobs: tuple[Job, ...]


def failure_rate(stats: QueueStats) -> float | None:
    """Failed over finished (succeeded + failed) in the last hour, or None when none finished."""
    finished = stats.succeeded_last_hour + stats.failed_last_hour
    return stats.failed_last_hour / finished if finished else None


def read_overview(store: Store, series: SeriesCache | None = None) -> dict[str, Any]:
    """Everything the overview shows, read in one go on a worker thread.

    With ``series`` (the dashboard's, kept between refreshes), the charts read from the store
    only the buckets they have not read before: in practice the open minute and hour.
    """
    now = store.now()
    stats = store.queue_stats()
    series = series or SeriesCache()
    hour = series.series(store, LAST_HOUR.start(now), LAST_HOUR.bucket, now)
    day = series.series(store, LAST_DAY.start(now), LAST_DAY.bucket, now)
    by_queue: dict[str, QueueStats] = {s.queue: s for s in stats}
    for point in (*hour, *day):
        # A queue that only finished jobs (nothing waiting now) still deserves its charts.
        by_queue.setdefault(point.queue, QueueStats(point.queue))
    queues = [
        QueueRow(
            s,
            failure_rate(s),
            bar_chart([p for p in hour if p.queue == s.queue], LAST_HOUR, now),
            bar_chart([p for p in day if p.queue == s.queue], LAST_DAY, now),
        )
        for s in sorted(by_queue.values(), key=lambda s: s.queue)
    ]
    running = store.list_jobs(
        JobFilter(states=(JobState.RUNNING,), limit=RUNNING_SHOWN, payloads=False)
    )
    jobs_of: dict[str | None, list[Job]] = defaultdict(list)
    for job in running:
        jobs_of[job.worker_id].append(job)
    workers = [
        WorkerRow(info, tuple(sorted(jobs_of.get(info.id, []), key=lambda j: j.id)))
        for info in sorted(store.live_workers(LIVE_AFTER_SECONDS), key=lambda w: w.id)
    ]
    incidents: list[IncidentRow] = store.firing_incidents()
    return {
        "now": now,
        "queues": queues,
        "workers": workers,
        "incidents": incidents,
        "totals": _totals(stats),
        "refresh": REFRESH_SECONDS,
    }


def _totals(stats: list[QueueStats]) -> dict[str, int]:
    names = ("queued", "scheduled", "running", "retrying", "dead")
    return {name: sum(getattr(s, name) for s in stats) for name in names}


class OverviewPage:
    """``/``: the state of every queue at a glance."""

    def __init__(self, context: WebContext) -> None:
        self.context = context

    def routes(self) -> list[BaseRoute]:
        """The overview's route."""
        return [Route("/", self.overview, name="overview")]

    async def overview(self, request: Request) -> Response:
        """Render the overview (also what the auto-refresh fetches)."""
        principal = await self.context.principal(request)
        data = await call(read_overview, self.context.store, self.context.series)
        return await render(
            self.context, request, principal, "overview.html", {**data, "nav": "overview"}
        )
