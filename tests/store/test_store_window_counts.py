"""Conformance: what finished in each queue since a point in time (the monitor's failure-rate
and dead-letter rules read these), and pruning the schedules' judged ledger rows."""

from __future__ import annotations

from store_helpers import claim, claim_one, complete, insert_one, lapse

from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo, Retention
from conveyor.store.watch_types import SlotFire, SlotStatus, Verdict, WindowCounts

BOOM = ErrorInfo("ValueError", "boom")


def succeed(store: Store, queue: str) -> None:
    """Run one job of ``queue`` to success."""
    insert_one(store, queue=queue)
    assert complete(store, claim_one(store, queues=(queue,)))


def fail_then_succeed(store: Store, queue: str, now: float | None = None) -> None:
    """One job whose first attempt fails and is retried, then succeeds (at the caller's
    ``now`` when given)."""
    insert_one(store, queue=queue)
    first = claim_one(store, queues=(queue,), now=now)
    assert complete(store, first, CompletionKind.RETRY, error=BOOM, now=now)
    assert complete(store, claim_one(store, queues=(queue,), now=now), now=now)


def die(store: Store, queue: str) -> None:
    """One job that fails its only attempt into the dead-letter queue."""
    insert_one(store, queue=queue, max_attempts=1)
    assert complete(store, claim_one(store, queues=(queue,)), CompletionKind.DEAD, error=BOOM)


def test_nothing_finished_means_no_counts(store: Store) -> None:
    insert_one(store, queue="waiting")
    assert store.window_counts(0.0) == []


def test_counts_per_queue_of_successes_failed_attempts_and_dead_jobs(store: Store) -> None:
    since = store.now() - 1
    succeed(store, "mail")
    fail_then_succeed(store, "mail")
    die(store, "mail")
    succeed(store, "reports")
    insert_one(store, queue="idle")  # waiting jobs count nowhere
    claim_one(store, queues=("idle",))  # nor running ones
    assert store.window_counts(since) == [
        WindowCounts(queue="mail", succeeded=2, failed_attempts=2, dead=1),
        WindowCounts(queue="reports", succeeded=1, failed_attempts=0, dead=0),
    ]


def test_an_attempt_lost_with_its_worker_counts_as_failed(store: Store) -> None:
    since = store.now() - 1
    insert_one(store, queue="mail", max_attempts=3)
    [job] = claim(store, queues=("mail",), limit=1, lease=0.05)
    lapse(store, job)
    assert store.rescue_expired() == [job.id]
    assert store.window_counts(since) == [WindowCounts(queue="mail", failed_attempts=1)]


def test_only_what_finished_since_the_point_counts(store: Store) -> None:
    succeed(store, "mail")
    die(store, "mail")
    # The point lies after those finishes, and the next ones after it, on the caller's clock
    # (advanced instead of sleeping).
    since = store.now() + 0.05
    fail_then_succeed(store, "mail", now=since + 0.05)
    assert store.window_counts(since) == [
        WindowCounts(queue="mail", succeeded=1, failed_attempts=1, dead=0)
    ]
    assert store.window_counts(store.now() + 60) == []


# -- pruning the schedules' ledger ---------------------------------------------------------------


def test_pruning_drops_judged_slots_past_the_retention(store: Store) -> None:
    fires = [SlotFire(slot=float(n), status=SlotStatus.MISSED) for n in range(1, 5)]
    written = store.fire_slots("nightly", fires)
    assert [w.written for w in written] == [True] * 4
    store.set_verdicts(
        [("nightly", 1.0, Verdict.MISSED, None), ("nightly", 2.0, Verdict.MISSED, "down")]
    )
    # The caller's clock, advanced instead of sleeping: slot 3 is judged 0.3 s later.
    later = store.now() + 0.3
    store.set_verdicts([("nightly", 3.0, Verdict.MISSED, None)], now=later)
    assert store.prune(Retention(watch=3600.0), now=later) == 0
    # Judged long enough ago: slots 1 and 2. Slot 3 was judged just now, slot 4 never.
    assert store.prune(Retention(watch=0.2), now=later) == 2
    assert sorted(e.slot for e in store.schedule_ledger("nightly")) == [3.0, 4.0]
    assert store.prune(Retention(watch=0.0), limit=5, now=later + 0.05) == 1
    assert [e.slot for e in store.schedule_ledger("nightly")] == [4.0]


def test_pruning_slots_stops_at_the_limit(store: Store) -> None:
    fires = [SlotFire(slot=float(n), status=SlotStatus.MISSED) for n in range(1, 6)]
    store.fire_slots("nightly", fires)
    store.set_verdicts([("nightly", float(n), Verdict.MISSED, None) for n in range(1, 6)])
    later = store.now() + 0.05  # the caller's clock, advanced instead of sleeping
    assert store.prune(Retention(watch=0.0), limit=3, now=later) == 3
    assert len(store.schedule_ledger("nightly")) == 2
    assert store.prune(Retention(watch=0.0), limit=3, now=later) == 2
    assert store.schedule_ledger("nightly") == []


# -- the load a queue put on its workers (the scale hint) ---------------------------------------


def test_queue_load_counts_every_finished_attempt_and_its_run_time(store: Store) -> None:
    since = store.now() - 1
    assert store.queue_load(since) == []
    insert_one(store, queue="mail", max_attempts=1, priority=1)
    insert_one(store, queue="mail")
    # The caller's clock, advanced instead of sleeping: a failed attempt that ran 2 s and a
    # successful one that ran 3 s.
    start = store.now() + 0.05
    failing = claim_one(store, queues=("mail",), now=start)
    assert complete(store, failing, CompletionKind.DEAD, error=BOOM, now=start + 2)
    working = claim_one(store, queues=("mail",), now=start + 2)
    assert complete(store, working, now=start + 5)
    succeed(store, "reports")
    insert_one(store, queue="idle")  # waiting jobs put no load
    loads = {load.queue: load for load in store.queue_load(since)}
    assert sorted(loads) == ["mail", "reports"]
    assert loads["mail"].attempts == 2
    assert abs(loads["mail"].busy_seconds - 5.0) < 0.01
    assert loads["reports"].attempts == 1 and loads["reports"].busy_seconds >= 0.0
    # Only what finished since the point counts.
    [late] = store.queue_load(start + 4)
    assert late.queue == "mail" and late.attempts == 1
    assert abs(late.busy_seconds - 3.0) < 0.01
