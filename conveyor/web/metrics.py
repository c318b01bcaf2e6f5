"""The dashboard's ``/metrics``: cluster gauges in the Prometheus text format, behind the
dashboard's authentication (a read token is enough).

The gauges (jobs per queue and state, the oldest waiting job's age, paused queues, live
workers, busy and free slots, desired slots, firing incidents, how late each schedule is) are
computed once per round by the monitor's lease holder and stored as a snapshot
(:mod:`conveyor.monitor.gauges`): a scrape reads that one row, so it stays cheap at millions
of jobs. When no fresh snapshot exists (no monitor running, or none for
:func:`fresh_for` seconds) the scrape computes the gauges itself, as a fallback.
``conveyor_metrics_snapshot_age_seconds`` says how old the values served are. Per-attempt
counters live in the workers (``conveyor worker --metrics-port``). While the store does not
answer (PostgreSQL restarting), a scrape gets the last values it read with
``conveyor_store_up 0``, never a 500.
"""

from __future__ import annotations

import threading
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from conveyor.errors import ConveyorError
from conveyor.monitor.gauges import (
    SNAPSHOT_NAME,
    cluster_gauges,
    family,
    render,
    schedule_lateness,
)
from conveyor.web.pages_common import NO_STORE_HEADERS
from conveyor.web.web_context import WebContext

__all__ = ["CONTENT_TYPE", "ClusterMetrics", "fresh_for", "render", "schedule_lateness"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FRESH_ROUNDS = 3
"""A snapshot older than this many monitor rounds is stale (its writer stopped or lost the
lease and nobody took over yet): the scrape computes the gauges itself."""
FRESH_AT_LEAST = 30.0
"""...and never fewer seconds than this, so a slow round on a loaded store is not stale."""


def fresh_for(interval: float) -> float:
    """Seconds a snapshot is served for, with monitor rounds every ``interval`` seconds."""
    return max(FRESH_AT_LEAST, FRESH_ROUNDS * interval)


class ClusterMetrics:
    """Serves the monitor's snapshot (or computes the gauges without one), keeping the last
    good values for when the store fails."""

    def __init__(self, context: WebContext) -> None:
        self.context = context
        self._last: list[str] = []
        self._last_computed = time.monotonic()
        """When the values kept in ``_last`` were computed (monotonic seconds)."""
        self._lock = threading.Lock()

    def _read(self) -> tuple[list[str], float]:
        """The gauges' lines and their age in seconds (judged by the store's clock, which
        stamped the snapshot, so a skewed local clock does not matter)."""
        store = self.context.store
        found = store.metrics_snapshot(SNAPSHOT_NAME)
        now = store.now()
        if found is not None:
            taken_at, body = found
            age = max(0.0, now - taken_at)
            if age <= fresh_for(self.context.app.monitor_config.interval):
                return body.splitlines(), age
        return cluster_gauges(store, self.context.app.schedules, now), 0.0

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: 401 without a principal, else the gauges."""
        await self.context.principal(request)
        try:
            lines, age = await run_in_threadpool(self._read)
            up = 1
            with self._lock:
                self._last, self._last_computed = lines, time.monotonic() - age
        except ConveyorError:
            up = 0
            with self._lock:
                lines = self._last
                age = time.monotonic() - self._last_computed
        lines = [
            *lines,
            *family("conveyor_metrics_snapshot_age_seconds",
                    "Seconds since the gauges served were computed (by the monitor's round, or "
                    "by this scrape when no monitor runs).", [("", round(age, 3))]),
            *family("conveyor_store_up", "1 when the store answered this scrape.",
                    [("", float(up))]),
        ]
        return Response("\n".join(lines) + "\n", media_type=CONTENT_TYPE,
                        headers=NO_STORE_HEADERS)
