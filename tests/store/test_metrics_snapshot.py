"""The cluster gauges' snapshot on real stores: the verbs, the monitor's round writing it from a
known workload, and the slot gauges added up from the workers' heartbeats (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from store_helpers import claim_one, insert, new_job

from conveyor import Conveyor
from conveyor.models import WorkerInfo
from conveyor.monitor.gauges import SNAPSHOT_NAME
from conveyor.monitor.service import Monitor
from conveyor.store import Store


def worker(worker_id: str, slots: int, busy: int) -> WorkerInfo:
    """A worker row with ``slots`` of which ``busy`` run an attempt."""
    return WorkerInfo(id=worker_id, hostname="h", pid=1, queues=("default",), names=("n",),
                      slots=slots, busy=busy)


def gauges(body: str) -> dict[str, float]:
    """The snapshot's samples by ``name{labels}``."""
    found = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


@pytest.fixture
def app(store_url: str, store: Store) -> Iterator[Conveyor]:
    app = Conveyor(store_url)
    app.configure_monitor(rules=[])
    yield app
    app.close()


def test_a_snapshot_is_stored_replaced_and_read_back(store: Store) -> None:
    assert store.metrics_snapshot("cluster") is None
    t = store.now()
    store.put_metrics_snapshot("cluster", "first", now=t)
    store.put_metrics_snapshot("cluster", "second\nline", now=t + 5)
    store.put_metrics_snapshot("other", "x", now=t)
    assert store.metrics_snapshot("cluster") == (pytest.approx(t + 5), "second\nline")
    assert store.metrics_snapshot("other") == (pytest.approx(t), "x")
    store.put_metrics_snapshot("late", "y")  # the store's own clock
    taken, _ = store.metrics_snapshot("late") or (0.0, "")
    assert abs(taken - store.now()) < 5


def test_workers_record_their_slots_and_busy_ones(store: Store) -> None:
    store.put_worker("w-1", worker("w-1", slots=4, busy=1))
    store.put_worker("w-1", worker("w-1", slots=4, busy=3))  # the next heartbeat
    [found] = store.live_workers(60)
    assert (found.slots, found.busy) == (4, 3)


def test_the_monitor_round_writes_the_cluster_gauges(app: Conveyor, store: Store) -> None:
    insert(store, *[new_job(queue="default") for _ in range(3)], new_job(queue="mail"))
    claim_one(store)  # one running in default
    store.put_worker("w-1", worker("w-1", slots=4, busy=1))
    store.put_worker("w-2", worker("w-2", slots=2, busy=2))
    t = store.now()

    monitor = Monitor(app, holder="m", store=store)
    assert monitor.tick().acted
    assert monitor.write_gauges()

    found = store.metrics_snapshot(SNAPSHOT_NAME)
    assert found is not None
    taken, body = found
    assert abs(taken - t) < 5
    values = gauges(body)
    expected: dict[str, Any] = {
        'conveyor_queue_jobs{queue="default",state="queued"}': 2,
        'conveyor_queue_jobs{queue="default",state="running"}': 1,
        'conveyor_queue_jobs{queue="mail",state="queued"}': 1,
        'conveyor_queue_jobs{queue="mail",state="dead"}': 0,
        "conveyor_workers_live": 2,
        "conveyor_worker_slots_busy": 3,
        "conveyor_worker_slots_free": 3,
    }
    assert {k: values.get(k) for k in expected} == expected
    assert "# TYPE conveyor_queue_desired_slots gauge" in body


def test_a_monitor_without_the_lease_writes_no_snapshot(app: Conveyor, store: Store) -> None:
    assert store.set_lease("monitor", "someone-else", 60)
    monitor = Monitor(app, holder="m", store=store)
    assert not monitor.tick().acted
    assert not monitor.write_gauges()
    assert store.metrics_snapshot(SNAPSHOT_NAME) is None
