"""The busy and free slot gauges from real worker processes: each heartbeat records the
process's slots and how many run an attempt, and the monitor's snapshot adds them up."""

from __future__ import annotations

import pytest

from conveyor.models import LIVE_AFTER_SECONDS
from conveyor.monitor.gauges import cluster_gauges
from conveyor.testing import eventually

from .conftest import Workers

pytestmark = pytest.mark.slow


def slots(workers: Workers) -> tuple[int, int]:
    """(slots, busy) added up over the live worker processes."""
    live = workers.app.store.live_workers(stale_after=LIVE_AFTER_SECONDS)
    return sum(w.slots for w in live), sum(w.busy for w in live)


def test_heartbeats_carry_busy_slots_into_the_gauges(workers: Workers) -> None:
    sleepers = [workers.app.get("sleeper").enqueue(seconds=6.0) for _ in range(3)]
    # A 3 s lease: a heartbeat every second.
    workers.start(processes=2, concurrency=4, lease=3, queues=["work"])
    eventually(lambda: slots(workers) == (8, 3), timeout=30, interval=0.2)
    lines = cluster_gauges(workers.app.store, workers.app.schedules)
    assert "conveyor_worker_slots_busy 3" in lines
    assert "conveyor_worker_slots_free 5" in lines
    for handle in sleepers:
        assert handle.result(timeout=30) == "done"
    eventually(lambda: slots(workers) == (8, 0), timeout=30, interval=0.2)
