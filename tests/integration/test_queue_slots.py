"""Per-queue slots (``--queues heavy=2,light=3``) in real worker processes."""

from __future__ import annotations

from collections import defaultdict

from conveyor.testing import eventually, max_overlap

from .conftest import Workers


def test_a_capped_queue_never_exceeds_its_slots_nor_blocks_another(workers: Workers) -> None:
    app = workers.app
    heavy = [app.jobs["lane_heavy"].prepare(n=n, seconds=0.5) for n in range(12)]
    light = [app.jobs["lane_light"].prepare(n=n, seconds=0.2) for n in range(6)]
    app.enqueue_many(heavy)
    app.enqueue_many(light)
    workers.start(queues=["heavy", "light"], queue_slots={"heavy": 2, "light": 3})

    eventually(lambda: len(workers.effects()) == 18 or None, timeout=60)
    lanes: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key in workers.effects():
        lane, _, start, end = key.split("|")
        lanes[lane].append((float(start), float(end)))
    # Two heavy and three light at once at most, and the caps were actually used.
    assert max_overlap(lanes["heavy"]) == 2
    assert 2 <= max_overlap(lanes["light"]) <= 3
    # The light queue did not wait behind the heavy backlog (about 3 s of work at 2 slots).
    last_light = max(end for _, end in lanes["light"])
    last_heavy = max(end for _, end in lanes["heavy"])
    assert last_light < last_heavy - 1.0


def test_a_high_priority_job_overtakes_a_backlog_without_prefetch(workers: Workers) -> None:
    app = workers.app
    sleeper = app.jobs["sleeper"]
    low = sleeper.enqueue_many([{"seconds": 0.05}] * 300, priority=0)
    workers.start(queues=["work"], concurrency=2)
    workers.wait_state(low[5].id, "succeeded")
    urgent = sleeper.enqueue(seconds=0.0, priority=10)
    high = workers.wait_state(urgent.id, "succeeded")
    assert high.started_at is not None
    # Between its enqueue and its start, at most one low job per slot may finish (those
    # running when it arrived) or begin (a slot freed while a claim was in flight). A worker
    # that prefetched a batch would finish the whole batch first.
    lows = app.store.get_jobs([h.id for h in low])
    window = (high.created_at, high.started_at)
    finished = [j for j in lows if j.finished_at and window[0] < j.finished_at < window[1]]
    started = [j for j in lows if j.started_at and window[0] < j.started_at < window[1]]
    assert len(finished) <= 2
    assert len(started) <= 2
    assert sum(1 for j in lows if j.state == "queued") > 100  # the backlog was still there
