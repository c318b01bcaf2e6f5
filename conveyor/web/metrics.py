"""The dashboard's ``/metrics``: cluster gauges in the Prometheus text format, behind the
dashboard's authentication (a read token is enough).

The gauges are the store's own counts (jobs per queue and state, the oldest waiting job's age,
paused queues, live workers, firing incidents, how late each schedule is), computed when
scraped by this one process, so running more workers never multiplies the work. Per-attempt
counters live in the workers (``conveyor worker --metrics-port``). While the store does not
answer (PostgreSQL restarting), a scrape gets the last values it read with
``conveyor_store_up 0``, never a 500.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from conveyor._scaling import QueueNeed, queue_needs
from conveyor.errors import ConveyorError
from conveyor.models import LIVE_AFTER_SECONDS, QueueStats
from conveyor.schedules.definition import ScheduleDef
from conveyor.store.watch_types import IncidentRow, ScheduleRow
from conveyor.web.pages_common import NO_STORE_HEADERS
from conveyor.web.web_context import WebContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCALE_WAIT = 30.0
"""Target wait of the desired-slots gauge: every ready job started within this many seconds."""
SCALE_WINDOW = 300.0
"""Seconds of finished attempts the desired-slots gauge averages run times and rates over."""
STATES = ("queued", "scheduled", "running", "retrying", "dead")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, help_text: str, rows: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{labels} {value:g}" for labels, value in rows]
    return lines


def schedule_lateness(
    rows: Sequence[ScheduleRow], definitions: dict[str, ScheduleDef], now: float
) -> list[tuple[str, float]]:
    """Per active schedule: seconds its newest due slot has gone unfired (0 once fired).

    A scheduler fires a slot within a second of it, so this stays near 0 while one runs and
    grows while none does; a paused schedule is left out (its slots are skipped on purpose).
    """
    found = []
    for row in rows:
        if row.paused:
            continue
        definition = definitions.get(row.name)
        if definition is None:
            try:
                definition = ScheduleDef.from_row(row)
            except (ConveyorError, ValueError):  # a row this version cannot read: no gauge
                continue
        due = definition.timing.previous_at_or_before(now)
        fired = row.last_slot is not None and due is not None and row.last_slot >= due
        late = 0.0 if due is None or due <= row.created_at or fired else now - due
        found.append((row.name, round(late, 3)))
    return found


def render(
    stats: list[QueueStats],
    live_workers: int,
    needs: Iterable[QueueNeed] = (),
    incidents: Sequence[IncidentRow] = (),
    lateness: Iterable[tuple[str, float]] = (),
) -> list[str]:
    """The gauges' lines (without ``conveyor_store_up``)."""
    lines = _family(
        "conveyor_queue_jobs", "Jobs per queue and state.",
        ((f'{{queue="{_label(s.queue)}",state="{state}"}}', float(getattr(s, state)))
         for s in stats for state in STATES),
    )
    lines += _family(
        "conveyor_queue_oldest_waiting_seconds",
        "Age of the oldest job waiting to run in each queue (0 when none waits).",
        ((f'{{queue="{_label(s.queue)}"}}', s.oldest_queued_age or 0.0) for s in stats),
    )
    lines += _family(
        "conveyor_queue_paused", "1 while the queue is paused.",
        ((f'{{queue="{_label(s.queue)}"}}', 1.0 if s.paused else 0.0) for s in stats),
    )
    lines += _family(
        "conveyor_workers_live", "Worker processes seen recently.", [("", float(live_workers))]
    )
    lines += _family(
        "conveyor_queue_desired_slots",
        "Slots (jobs at once) each queue needs to keep up and to start its ready jobs within "
        f"{SCALE_WAIT:g}s, as conveyor scale-hint computes; divide by a pod's slots to scale.",
        ((f'{{queue="{_label(n.queue)}"}}', round(n.slots, 3)) for n in needs),
    )
    by_rule = Counter(i.rule for i in incidents)
    lines += _family(
        "conveyor_incidents_firing",
        "Incidents firing now, by rule (missed_run, no_scheduler, queue_age, ...).",
        ((f'{{rule="{_label(rule)}"}}', float(n)) for rule, n in sorted(by_rule.items())),
    )
    lines += _family(
        "conveyor_schedule_lateness_seconds",
        "Seconds each active schedule's newest due slot has gone unfired (0 once fired).",
        ((f'{{schedule="{_label(name)}"}}', late) for name, late in lateness),
    )
    return lines


class ClusterMetrics:
    """Reads the gauges on each scrape, keeping the last good ones for when the store fails."""

    def __init__(self, context: WebContext) -> None:
        self.context = context
        self._last: list[str] = []
        self._lock = threading.Lock()

    def _read(self) -> list[str]:
        store = self.context.store
        now = store.now()
        stats = store.queue_stats(now=now)
        live = len(store.live_workers(stale_after=LIVE_AFTER_SECONDS))
        needs = queue_needs(stats, store.queue_load(now - SCALE_WINDOW), window=SCALE_WINDOW,
                            target_wait=SCALE_WAIT)
        lateness = schedule_lateness(store.list_schedules(), self.context.app.schedules, now)
        return render(stats, live, needs, store.firing_incidents(), lateness)

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: 401 without a principal, else the gauges."""
        await self.context.principal(request)
        try:
            lines = await run_in_threadpool(self._read)
            up = 1
            with self._lock:
                self._last = lines
        except ConveyorError:
            up = 0
            with self._lock:
                lines = self._last
        lines = [*lines, *_family("conveyor_store_up", "1 when the store answered this scrape.",
                                  [("", float(up))])]
        return Response("\n".join(lines) + "\n", media_type=CONTENT_TYPE,
                        headers=NO_STORE_HEADERS)
