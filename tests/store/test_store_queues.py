"""Conformance: queue controls (pause and resume), bounded depth, and the jobs ahead of a job."""

from __future__ import annotations

import asyncio

from store_helpers import NAMES, claim, claim_one, complete, insert, insert_one, new_job

from conveyor.models import COUNT_CAP, JobState
from conveyor.store import Store, open_async_store
from conveyor.store.protocol import CompletionKind

# -- pause and resume --------------------------------------------------------------------------


def test_nothing_is_paused_at_first(store: Store) -> None:
    assert store.paused_queues() == frozenset()
    assert store.queue_control("default") is None


def test_a_paused_queue_is_hidden_from_claims_and_resume_restores_it(store: Store) -> None:
    held = insert_one(store, queue="held")
    free = insert_one(store, queue="free")
    assert store.set_queue_paused("held", True, "alice") is True
    assert store.paused_queues() == frozenset({"held"})
    claimed = claim(store, queues=("held", "free"))
    assert [j.id for j in claimed] == [free]
    assert claim(store, queues=("held",)) == []
    job = store.get_job(held)
    assert job is not None and job.state is JobState.QUEUED and job.attempt == 0

    assert store.set_queue_paused("held", False, "bob") is True
    assert store.paused_queues() == frozenset()
    assert [j.id for j in claim(store, queues=("held", "free"))] == [held]


def test_pause_and_resume_record_who_and_when(store: Store) -> None:
    before = store.now()
    store.set_queue_paused("held", True, "alice")
    control = store.queue_control("held")
    assert control is not None
    assert control.paused is True
    assert control.changed_by == "alice"
    assert before - 1 <= control.changed_at <= store.now() + 1
    # Pausing again changes nothing: the first pause's author and time stay.
    assert store.set_queue_paused("held", True, "carol") is False
    again = store.queue_control("held")
    assert again == control
    assert store.set_queue_paused("held", False, None) is True
    resumed = store.queue_control("held")
    assert resumed is not None and resumed.paused is False and resumed.changed_by is None
    assert store.set_queue_paused("held", False, "bob") is False
    assert store.set_queue_paused("never-paused", False, "bob") is False


def test_queue_controls_lists_every_changed_queue_by_name_at_the_callers_clock(
    store: Store,
) -> None:
    assert store.queue_controls() == []
    assert store.set_queue_paused("zeta", True, "alice", now=1000.0) is True
    assert store.set_queue_paused("alpha", True, "bob", now=2000.0) is True
    assert store.set_queue_paused("alpha", False, "carol", now=3000.0) is True
    controls = store.queue_controls()
    assert [(c.name, c.paused, c.changed_by, c.changed_at) for c in controls] == [
        ("alpha", False, "carol", 3000.0),
        ("zeta", True, "alice", 1000.0),
    ]
    assert store.queue_control("zeta") == controls[1]
    assert store.paused_queues() == frozenset({"zeta"})


def test_a_paused_queue_still_accepts_jobs(store: Store) -> None:
    store.set_queue_paused("held", True, None)
    ids = insert(store, new_job(queue="held"), new_job(queue="held"))
    assert [j.state for j in store.get_jobs(ids)] == [JobState.QUEUED, JobState.QUEUED]
    assert store.queue_depth("held", 10) == 2


def test_pausing_one_queue_leaves_claim_order_of_others(store: Store) -> None:
    store.set_queue_paused("held", True, None)
    low = insert_one(store, queue="a", priority=1)
    insert_one(store, queue="held", priority=9)
    high = insert_one(store, queue="b", priority=5)
    claimed = claim(store, queues=("a", "held", "b"), limit=10)
    assert [j.id for j in claimed] == [high, low]


def test_next_due_in_ignores_paused_queues(store: Store) -> None:
    insert_one(store, queue="held")
    insert_one(store, queue="free", delay=60)
    assert store.next_due_in(("held", "free"), NAMES) == 0
    store.set_queue_paused("held", True, None)
    due = store.next_due_in(("held", "free"), NAMES)
    assert due is not None and 50 < due <= 60
    assert store.next_due_in(("held",), NAMES) is None
    store.set_queue_paused("held", False, None)
    assert store.next_due_in(("held",), NAMES) == 0


def test_queue_stats_shows_paused_queues_even_without_jobs(store: Store) -> None:
    insert_one(store, queue="busy")
    insert_one(store, queue="held")
    store.set_queue_paused("held", True, None)
    store.set_queue_paused("empty", True, None)
    stats = {s.queue: s for s in store.queue_stats()}
    assert sorted(stats) == ["busy", "empty", "held"]
    assert stats["held"].paused and stats["held"].queued == 1
    assert stats["empty"].paused and stats["empty"].queued == 0
    assert not stats["busy"].paused
    store.set_queue_paused("empty", False, None)
    assert [s.queue for s in store.queue_stats()] == ["busy", "held"]


def test_async_store_pauses_resumes_and_counts(store: Store) -> None:
    async def scenario() -> tuple[bool, frozenset[str], int, bool, frozenset[str]]:
        astore = open_async_store(store)
        try:
            paused = await astore.set_queue_paused("held", True, "alice")
            seen = frozenset(c.name for c in await astore.queue_controls() if c.paused)
            depth = await astore.queue_depth("held", 10)
            resumed = await astore.set_queue_paused("held", False, "alice")
            after = frozenset(c.name for c in await astore.queue_controls() if c.paused)
            return paused, seen, depth, resumed, after
        finally:
            await astore.release()

    insert(store, new_job(queue="held"), new_job(queue="held"), new_job(queue="other"))
    assert asyncio.run(scenario()) == (True, frozenset({"held"}), 2, True, frozenset())


# -- queue depth -------------------------------------------------------------------------------


def test_queue_depth_counts_waiting_jobs_of_the_queue(store: Store) -> None:
    assert store.queue_depth("default", 100) == 0
    insert(store, new_job(), new_job(delay=3600), new_job(queue="other"))
    insert_one(store)
    assert store.queue_depth("default", 100) == 3
    claim_one(store)
    # One of the due ones now runs: running and finished jobs are not waiting.
    assert store.queue_depth("default", 100) == 2
    assert store.queue_depth("other", 100) == 1


def test_queue_depth_stops_counting_at_the_cap(store: Store) -> None:
    insert(store, *[new_job() for _ in range(7)])
    assert store.queue_depth("default", 3) == 3
    assert store.queue_depth("default", 7) == 7
    assert store.queue_depth("default", 8) == 7


# -- jobs ahead --------------------------------------------------------------------------------


def test_count_ahead_follows_claim_order(store: Store) -> None:
    first, second = insert(store, new_job(), new_job())
    urgent = insert_one(store, priority=5)
    insert_one(store, priority=-1)
    insert_one(store, queue="other", priority=9)
    insert_one(store, priority=9, delay=3600)  # not ready yet: does not count
    assert store.count_ahead(urgent, 100) == 0
    assert store.count_ahead(first, 100) == 1
    assert store.count_ahead(second, 100) == 2
    assert store.count_ahead(second, 1) == 1
    assert store.count_ahead(999_999, 100) == 0


def test_count_ahead_orders_equal_priority_by_run_at(store: Store) -> None:
    past = store.now() - 60
    late = insert_one(store)
    early = insert_one(store, run_at=past)
    assert store.count_ahead(early, 100) == 0
    assert store.count_ahead(late, 100) == 1
    # Claims agree with the count.
    assert claim_one(store).id == early


def test_queue_counts_stop_at_the_cap_and_say_so(store: Store) -> None:
    # One queue deeper than the cap, one shallow: only the deep count is a lower bound.
    insert(store, *[new_job(queue="deep") for _ in range(COUNT_CAP + 3)])
    insert(store, new_job(queue="shallow"), new_job(queue="shallow"))
    stats = {s.queue: s for s in store.queue_stats()}
    deep, shallow = stats["deep"], stats["shallow"]
    assert (deep.queued, deep.at_least, deep.approximate) == (COUNT_CAP, ("queued",), True)
    assert deep.shown("queued") == "10,000+" and deep.shown("running") == "0"
    assert (shallow.queued, shallow.at_least, shallow.approximate) == (2, (), False)
    assert deep.waiting_names == (NAMES[0],) and deep.oldest_queued_age is not None
    # Plain ints on both stores (a PostgreSQL SUM is numeric: it must not leak as a Decimal).
    counts = ("queued", "scheduled", "running", "retrying", "dead", "succeeded_last_hour")
    assert {type(getattr(s, c)) for s in (deep, shallow) for c in counts} == {int}
    assert store.queue_depth("deep", 50) == 50
    assert store.queue_depth("shallow", 50) == 2


def test_waiting_names_lists_each_queues_due_names_once(store: Store) -> None:
    # Several names per queue and several queues, in every waiting state; only due ones count.
    insert(
        store,
        new_job(name=NAMES[0], queue="a"),
        new_job(name=NAMES[0], queue="a"),
        new_job(name=NAMES[1], queue="a"),
        new_job(name=NAMES[1], queue="b", delay=3600),  # scheduled, not due
        new_job(name=NAMES[0], queue="c"),
    )
    [job] = claim(store, queues=("c",))
    complete(store, job, CompletionKind.RETRY, retry_delay=0.0)  # retrying, due now
    insert(store, new_job(name=NAMES[2], queue="c", delay=3600))
    stats = {s.queue: s for s in store.queue_stats()}
    assert stats["a"].waiting_names == tuple(sorted(NAMES[:2]))
    assert stats["b"].waiting_names == () and stats["b"].scheduled == 1
    assert stats["c"].waiting_names == (NAMES[0],)
    assert (stats["c"].queued, stats["c"].scheduled, stats["c"].retrying) == (1, 1, 0)
