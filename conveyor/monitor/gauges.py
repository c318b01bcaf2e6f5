"""The cluster's gauges in the Prometheus text format, computed from the store's counts.

The monitor's lease holder computes them once per round and stores the text as a snapshot
(:data:`SNAPSHOT_NAME`); the dashboard's ``/metrics`` serves that snapshot, so a scrape reads
one row however many jobs the store holds and however many workers run. Only when no fresh
snapshot exists (no monitor running) does a scrape compute them itself (see
:func:`cluster_gauges`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from conveyor._scaling import QueueNeed, queue_needs
from conveyor.errors import ConveyorError
from conveyor.models import LIVE_AFTER_SECONDS, QueueStats, WorkerInfo
from conveyor.schedules.definition import ScheduleDef
from conveyor.store.watch_types import IncidentRow, ScheduleRow

if TYPE_CHECKING:
    from conveyor.store.protocol import Store

SNAPSHOT_NAME = "cluster"
"""The name the cluster gauges are stored under (``Store.put_metrics_snapshot``)."""
SCALE_WAIT = 30.0
"""Target wait of the desired-slots gauge: every ready job started within this many seconds."""
SCALE_WINDOW = 300.0
"""Seconds of finished attempts the desired-slots gauge averages run times and rates over."""
STATES = ("queued", "scheduled", "running", "retrying", "dead")


def label(value: str) -> str:
    """``value`` escaped for a Prometheus label."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def family(name: str, help_text: str, rows: Iterable[tuple[str, float]]) -> list[str]:
    """One gauge family's lines: HELP, TYPE and a line per (labels, value)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{labels} {value:g}" for labels, value in rows]
    return lines


def schedule_lateness(
    rows: Sequence[ScheduleRow], definitions: Mapping[str, ScheduleDef], now: float
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
    workers: Sequence[WorkerInfo] | int,
    needs: Iterable[QueueNeed] = (),
    incidents: Sequence[IncidentRow] = (),
    lateness: Iterable[tuple[str, float]] = (),
) -> list[str]:
    """The gauges' lines. ``workers``: the live workers (or just how many, which gives no
    slot gauges)."""
    lines = family(
        "conveyor_queue_jobs", "Jobs per queue and state.",
        ((f'{{queue="{label(s.queue)}",state="{state}"}}', float(getattr(s, state)))
         for s in stats for state in STATES),
    )
    lines += family(
        "conveyor_queue_oldest_waiting_seconds",
        "Age of the oldest job waiting to run in each queue (0 when none waits).",
        ((f'{{queue="{label(s.queue)}"}}', s.oldest_queued_age or 0.0) for s in stats),
    )
    lines += family(
        "conveyor_queue_paused", "1 while the queue is paused.",
        ((f'{{queue="{label(s.queue)}"}}', 1.0 if s.paused else 0.0) for s in stats),
    )
    live = workers if isinstance(workers, int) else len(workers)
    lines += family(
        "conveyor_workers_live", "Worker processes seen recently.", [("", float(live))]
    )
    if not isinstance(workers, int):
        busy = sum(min(w.busy, w.slots) for w in workers)
        slots = sum(w.slots for w in workers)
        lines += family(
            "conveyor_worker_slots_busy",
            "Slots of the live worker processes running an attempt, at their last heartbeat.",
            [("", float(busy))],
        )
        lines += family(
            "conveyor_worker_slots_free",
            "Slots of the live worker processes free to claim, at their last heartbeat.",
            [("", float(slots - busy))],
        )
    lines += family(
        "conveyor_queue_desired_slots",
        "Slots (jobs at once) each queue needs to keep up and to start its ready jobs within "
        f"{SCALE_WAIT:g}s, as conveyor scale-hint computes; divide by a pod's slots to scale.",
        ((f'{{queue="{label(n.queue)}"}}', round(n.slots, 3)) for n in needs),
    )
    by_rule = Counter(i.rule for i in incidents)
    lines += family(
        "conveyor_incidents_firing",
        "Incidents firing now, by rule (missed_run, no_scheduler, queue_age, ...).",
        ((f'{{rule="{label(rule)}"}}', float(n)) for rule, n in sorted(by_rule.items())),
    )
    lines += family(
        "conveyor_schedule_lateness_seconds",
        "Seconds each active schedule's newest due slot has gone unfired (0 once fired).",
        ((f'{{schedule="{label(name)}"}}', late) for name, late in lateness),
    )
    return lines


def cluster_gauges(
    store: Store, definitions: Mapping[str, ScheduleDef], now: float | None = None
) -> list[str]:
    """Read the store's counts and render every cluster gauge, judged at ``now`` (default:
    the store's clock). Costs a count of the jobs table (about 0.15 s at a million rows):
    the monitor calls it once a round; a scrape only when no monitor runs."""
    at = store.now() if now is None else now
    stats = store.queue_stats(now=now)  # now=None: the same read the round's rules made
    workers = store.live_workers(stale_after=LIVE_AFTER_SECONDS, now=now)
    needs = queue_needs(stats, store.queue_load(at - SCALE_WINDOW), window=SCALE_WINDOW,
                        target_wait=SCALE_WAIT)
    lateness = schedule_lateness(store.list_schedules(), definitions, at)
    return render(stats, workers, needs, store.firing_incidents(), lateness)
