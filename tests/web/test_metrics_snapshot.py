"""The dashboard's ``/metrics`` serves the monitor's snapshot of the cluster gauges, with its
age, and computes the gauges itself only when no fresh snapshot exists (both backends)."""

from __future__ import annotations

from conveyor.models import WorkerInfo
from conveyor.monitor.gauges import SNAPSHOT_NAME
from conveyor.monitor.service import Monitor
from conveyor.web.metrics import fresh_for

from .conftest import Served


def scrape(served: Served) -> dict[str, float]:
    """``/metrics`` read with the read token, as samples by ``name{labels}``."""
    answer = served.reader.get("/metrics")
    assert answer.status_code == 200
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in answer.text.splitlines() if line and not line.startswith("#")
    }


def test_metrics_serve_the_monitors_snapshot_and_its_age(served: Served) -> None:
    app, store = served.app, served.app.store
    app.configure_monitor(rules=[])
    store.put_worker("w-1", WorkerInfo(id="w-1", hostname="h", pid=1, queues=(), names=(),
                                       slots=8, busy=5))
    app.enqueue("add", x=1, y=2)
    monitor = Monitor(app, holder="m")
    assert monitor.tick().acted and monitor.write_gauges()
    # Enqueued after the round: the snapshot does not count it, so the scrape did not count.
    app.enqueue("add", x=3, y=4)

    values = scrape(served)
    assert values['conveyor_queue_jobs{queue="default",state="queued"}'] == 1
    assert values["conveyor_worker_slots_busy"] == 5
    assert values["conveyor_worker_slots_free"] == 3
    assert values["conveyor_workers_live"] == 1
    assert 0 <= values["conveyor_metrics_snapshot_age_seconds"] < 10
    assert values["conveyor_store_up"] == 1


def test_metrics_compute_the_gauges_when_the_snapshot_is_stale(served: Served) -> None:
    app, store = served.app, served.app.store
    app.enqueue("add", x=1, y=2)
    stale = store.now() - fresh_for(app.monitor_config.interval) - 5
    store.put_metrics_snapshot(SNAPSHOT_NAME, "conveyor_workers_live 99", now=stale)

    values = scrape(served)
    assert values['conveyor_queue_jobs{queue="default",state="queued"}'] == 1
    assert values["conveyor_workers_live"] == 0  # counted now, not the stale 99
    assert values["conveyor_metrics_snapshot_age_seconds"] == 0
