"""Conformance: the ledger of schedule slots (fire once, read, judge)."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable

from store_helpers import claim, claim_one, complete, new_job

from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter
from conveyor.store.watch_types import (
    ScheduleRow,
    SlotFire,
    SlotStatus,
    SlotWritten,
    Verdict,
)

NAME = "nightly"


def define(store: Store, name: str = NAME, grace: float = 0.0) -> None:
    """Declare a schedule as a worker would at start."""
    store.put_schedules(
        [ScheduleRow(name=name, job_name="send_email", timing="every:60", grace=grace)]
    )


def enqueued(slot: float, *, schedule: str = NAME, **fire: object) -> SlotFire:
    """A slot fired with its job (whose meta names the slot, as the scheduler's does)."""
    job = new_job(meta={"schedule": schedule, "slot": slot})
    return SlotFire(slot=slot, status=SlotStatus.ENQUEUED, job=job, **fire)  # type: ignore[arg-type]


def jobs(store: Store) -> int:
    return store.count_jobs(JobFilter())


# -- firing -------------------------------------------------------------------------------------


def test_fire_writes_the_slot_and_its_job(store: Store) -> None:
    define(store)
    [written] = store.fire_slots(NAME, [enqueued(600.0)])
    assert written.slot == 600.0 and written.written is True and written.job_id is not None
    job = store.get_job(written.job_id)
    assert job is not None and job.state is JobState.QUEUED
    assert job.meta == {"schedule": NAME, "slot": 600.0}
    [entry] = store.schedule_ledger(NAME)
    assert entry.schedule == NAME and entry.slot == 600.0
    assert entry.status is SlotStatus.ENQUEUED and entry.job_id == written.job_id
    assert entry.job_state is JobState.QUEUED
    assert entry.manual is False and entry.by is None and entry.verdict is None
    assert store.now() - 5 <= entry.fired_at <= store.now() + 1
    row = store.get_schedule(NAME)
    assert row is not None and row.last_slot == 600.0


def test_fire_nothing_writes_nothing(store: Store) -> None:
    define(store)
    assert store.fire_slots(NAME, []) == []
    assert store.schedule_ledger(NAME) == []


def test_one_call_fires_the_slots_of_many_schedules(store: Store) -> None:
    names = [f"every-{i}" for i in range(5)]
    for name in names:
        define(store, name)
    store.fire_slots(names[0], [enqueued(600.0, schedule=names[0])])  # already written
    batches = [
        (name, [enqueued(600.0, schedule=name), enqueued(660.0, schedule=name)])
        for name in names
    ]
    batches.append(("every-quiet", []))
    answers = store.fire_schedules(batches)
    assert [len(a) for a in answers] == [2, 2, 2, 2, 2, 0]
    assert answers[0][0] == SlotWritten(slot=600.0, written=False, job_id=None)
    assert answers[0][1].written and answers[0][1].job_id is not None
    assert all(w.written and w.job_id is not None for a in answers[1:5] for w in a)
    assert jobs(store) == 2 * 5  # one before, one now for the first; two each for the rest
    for name, answer in zip(names, answers, strict=False):
        ledger = {e.slot: e.job_id for e in store.schedule_ledger(name)}
        assert set(ledger) == {600.0, 660.0}
        for w in answer:
            if w.written:
                assert ledger[w.slot] == w.job_id
                job = store.get_job(w.job_id or 0)
                assert job is not None and job.meta == {"schedule": name, "slot": w.slot}
        row = store.get_schedule(name)
        assert row is not None and row.last_slot == 660.0
    # Again: nothing is written twice.
    again = store.fire_schedules(batches)
    assert not any(w.written for a in again for w in a) and jobs(store) == 10
    assert store.fire_schedules([]) == [] and store.fire_schedules([(NAME, [])]) == [[]]


def test_a_slot_fires_once(store: Store) -> None:
    define(store)
    [first] = store.fire_slots(NAME, [enqueued(600.0)])
    [again] = store.fire_slots(NAME, [enqueued(600.0)])
    assert again == SlotWritten(slot=600.0, written=False, job_id=None)
    assert jobs(store) == 1
    assert [e.job_id for e in store.schedule_ledger(NAME)] == [first.job_id]
    # A manual trigger at the same instant is the same slot, and is refused too.
    [manual] = store.fire_slots(NAME, [enqueued(600.0, manual=True, by="alice")])
    assert manual.written is False and jobs(store) == 1


def test_a_slot_given_twice_in_one_call_is_written_once(store: Store) -> None:
    define(store)
    first, second = store.fire_slots(NAME, [enqueued(60.0), enqueued(60.0)])
    assert first.written is True and first.job_id is not None
    assert second == SlotWritten(slot=60.0, written=False, job_id=None)
    assert jobs(store) == 1


def test_the_same_slot_of_two_schedules_are_two_slots(store: Store) -> None:
    define(store, "a")
    define(store, "b")
    [a] = store.fire_slots("a", [enqueued(60.0, schedule="a")])
    [b] = store.fire_slots("b", [enqueued(60.0, schedule="b")])
    assert a.written and b.written and a.job_id != b.job_id


def test_missed_and_skipped_slots_have_no_job_and_advance_last_slot(store: Store) -> None:
    define(store)
    written = store.fire_slots(
        NAME,
        [
            SlotFire(slot=60.0, status=SlotStatus.MISSED),
            SlotFire(slot=120.0, status=SlotStatus.SKIPPED),
            enqueued(180.0),
        ],
    )
    assert [(w.slot, w.written, w.job_id is None) for w in written] == [
        (60.0, True, True),
        (120.0, True, True),
        (180.0, True, False),
    ]
    assert jobs(store) == 1
    ledger = store.schedule_ledger(NAME)
    assert [(e.slot, e.status, e.job_id, e.job_state) for e in ledger] == [
        (180.0, SlotStatus.ENQUEUED, written[2].job_id, JobState.QUEUED),
        (120.0, SlotStatus.SKIPPED, None, None),
        (60.0, SlotStatus.MISSED, None, None),
    ]
    row = store.get_schedule(NAME)
    assert row is not None and row.last_slot == 180.0


def test_a_manual_slot_records_who_and_leaves_last_slot(store: Store) -> None:
    define(store)
    store.fire_slots(NAME, [enqueued(60.0)])
    [manual] = store.fire_slots(NAME, [enqueued(1000.5, manual=True, by="alice")])
    assert manual.written and manual.job_id is not None
    row = store.get_schedule(NAME)
    assert row is not None and row.last_slot == 60.0
    newest = store.schedule_ledger(NAME)[0]
    assert newest.slot == 1000.5 and newest.manual is True and newest.by == "alice"


def test_last_slot_never_moves_back(store: Store) -> None:
    define(store)
    store.fire_slots(NAME, [SlotFire(slot=600.0, status=SlotStatus.MISSED)])
    store.fire_slots(NAME, [SlotFire(slot=300.0, status=SlotStatus.MISSED)])
    row = store.get_schedule(NAME)
    assert row is not None and row.last_slot == 600.0


def test_slots_are_kept_exactly(store: Store) -> None:
    define(store)
    # Two instants one representable step apart are two slots.
    base = 1_700_000_000.123456
    slots = [base, math.nextafter(base, math.inf), 0.1 + 0.2]
    written = store.fire_slots(NAME, [SlotFire(slot=s, status=SlotStatus.MISSED) for s in slots])
    assert all(w.written for w in written)
    assert sorted(e.slot for e in store.schedule_ledger(NAME)) == sorted(slots)
    again = store.fire_slots(NAME, [SlotFire(slot=s, status=SlotStatus.MISSED) for s in slots])
    assert not any(w.written for w in again)
    row = store.get_schedule(NAME)
    assert row is not None and row.last_slot == max(slots)
    below = store.schedule_ledger(NAME, before=slots[1])
    assert [e.slot for e in below] == [base, 0.1 + 0.2]


def test_a_slot_whose_job_key_is_held_links_the_holder(store: Store) -> None:
    define(store)
    fires = [
        SlotFire(slot=s, status=SlotStatus.ENQUEUED, job=new_job(unique_key="nightly-report"))
        for s in (60.0, 120.0)
    ]
    first, second = store.fire_slots(NAME, fires[:1]) + store.fire_slots(NAME, fires[1:])
    assert first.written and second.written
    assert first.job_id is not None and second.job_id == first.job_id
    assert jobs(store) == 1
    assert store.active_schedule_jobs(NAME) == [first.job_id]
    # Both in one call: the batch's second holder is its first job.
    third, fourth = store.fire_slots(
        NAME,
        [
            SlotFire(slot=s, status=SlotStatus.ENQUEUED, job=new_job(unique_key="other"))
            for s in (180.0, 240.0)
        ],
    )
    assert third.job_id is not None and fourth.job_id == third.job_id
    assert jobs(store) == 2


def test_schedulers_racing_for_the_same_slots_write_each_once(
    open_store_on: Callable[..., Store],
) -> None:
    stores = [open_store_on() for _ in range(8)]
    define(stores[0])
    slots = [60.0 * i for i in range(1, 51)]
    barrier = threading.Barrier(len(stores))
    results: list[list[SlotWritten]] = []
    errors: list[BaseException] = []

    def fire(s: Store, turn: int) -> None:
        # Each scheduler sees the slots in another order: none may wait on another in a cycle.
        mine = slots[turn * 7 :] + slots[: turn * 7]
        barrier.wait()
        try:
            results.append(s.fire_slots(NAME, [enqueued(slot) for slot in mine]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(results) == len(stores)
    won = [w for result in results for w in result if w.written]
    assert sorted(w.slot for w in won) == slots
    assert all(w.job_id is not None for w in won)
    assert all(w.job_id is None for result in results for w in result if not w.written)
    assert jobs(stores[0]) == len(slots)
    ledger = stores[0].schedule_ledger(NAME, limit=100)
    assert {e.slot: e.job_id for e in ledger} == {w.slot: w.job_id for w in won}
    row = stores[0].get_schedule(NAME)
    assert row is not None and row.last_slot == max(slots)


# -- the ledger -------------------------------------------------------------------------------


def test_ledger_pages_newest_first(store: Store) -> None:
    define(store)
    store.fire_slots(NAME, [SlotFire(slot=60.0 * i, status=SlotStatus.MISSED) for i in range(7)])
    define(store, "other")
    store.fire_slots("other", [SlotFire(slot=1e6, status=SlotStatus.MISSED)])
    first = store.schedule_ledger(NAME, limit=3)
    assert [e.slot for e in first] == [360.0, 300.0, 240.0]
    second = store.schedule_ledger(NAME, limit=3, before=first[-1].slot)
    assert [e.slot for e in second] == [180.0, 120.0, 60.0]
    last = store.schedule_ledger(NAME, limit=3, before=second[-1].slot)
    assert [e.slot for e in last] == [0.0]
    assert store.schedule_ledger(NAME, before=0.0) == []
    assert store.schedule_ledger("never") == []


def test_ledger_shows_a_succeeded_run(store: Store) -> None:
    define(store)
    [written] = store.fire_slots(NAME, [enqueued(60.0)])
    job = claim_one(store)
    assert job.id == written.job_id
    running = store.schedule_ledger(NAME)[0]
    assert running.job_state is JobState.RUNNING and running.started_at is not None
    assert running.finished_at is None
    assert complete(store, job, result={"rows": 3})
    [entry] = store.schedule_ledger(NAME)
    assert entry.job_state is JobState.SUCCEEDED
    assert entry.result_json is not None and json.loads(entry.result_json) == {"rows": 3}
    assert entry.started_at is not None and entry.finished_at is not None
    assert entry.started_at <= entry.finished_at
    assert entry.error_type is None and entry.error_message is None


def test_ledger_shows_a_dead_run(store: Store) -> None:
    define(store)
    store.fire_slots(NAME, [enqueued(60.0)])
    job = claim_one(store)
    error = ErrorInfo(type="ValueError", message="bad row", traceback="...")
    assert complete(store, job, CompletionKind.DEAD, error=error)
    [entry] = store.schedule_ledger(NAME)
    assert entry.job_state is JobState.DEAD
    assert entry.error_type == "ValueError" and entry.error_message == "bad row"
    assert entry.result_json is None


def test_ledger_keeps_the_slot_after_its_job_is_gone(store: Store) -> None:
    define(store)
    [written] = store.fire_slots(NAME, [enqueued(60.0)])
    complete(store, claim_one(store))
    assert store.discard_jobs(JobFilter(ids=(written.job_id or 0,))) == 1
    [entry] = store.schedule_ledger(NAME)
    assert entry.job_id == written.job_id
    assert entry.job_state is None and entry.started_at is None and entry.result_json is None


# -- active jobs ------------------------------------------------------------------------------


def test_busy_schedules_names_those_with_an_unfinished_job(store: Store) -> None:
    for name in (NAME, "other", "idle", "finished"):
        define(store, name)
    store.fire_slots(NAME, [enqueued(60.0)])
    store.fire_slots("other", [enqueued(60.0, schedule="other")])
    store.fire_slots("idle", [SlotFire(slot=60.0, status=SlotStatus.MISSED)])
    [done] = store.fire_slots("finished", [enqueued(60.0, schedule="finished")])
    job = next(j for j in claim(store, limit=3) if j.id == done.job_id)
    complete(store, job)
    everything = [NAME, "other", "idle", "finished", "never"]
    assert store.busy_schedules(everything) == frozenset({NAME, "other"})
    assert store.busy_schedules(["idle", "never"]) == frozenset()
    assert store.busy_schedules([]) == frozenset()


def test_active_schedule_jobs_lists_unfinished_runs_oldest_first(store: Store) -> None:
    define(store)
    define(store, "other")
    done, running, queued = store.fire_slots(
        NAME, [enqueued(60.0), enqueued(120.0), enqueued(180.0)]
    )
    store.fire_slots("other", [enqueued(60.0, schedule="other")])
    store.fire_slots(NAME, [SlotFire(slot=240.0, status=SlotStatus.MISSED)])
    first, second = claim(store, limit=2)
    assert (first.id, second.id) == (done.job_id, running.job_id)
    complete(store, first)
    assert store.active_schedule_jobs(NAME) == [running.job_id, queued.job_id]
    assert store.active_schedule_jobs("never") == []

    # A slot judged late may still be running; one judged otherwise is over.
    store.set_verdicts([(NAME, 120.0, Verdict.LATE, "still running")])
    assert store.active_schedule_jobs(NAME) == [running.job_id, queued.job_id]
    complete(store, second)
    assert store.active_schedule_jobs(NAME) == [queued.job_id]


# -- judging ----------------------------------------------------------------------------------


def test_missed_and_skipped_slots_can_be_judged_at_once(store: Store) -> None:
    define(store, grace=3600.0)
    future = store.now() + 3600
    store.fire_slots(
        NAME,
        [
            SlotFire(slot=future, status=SlotStatus.MISSED),
            SlotFire(slot=future + 60, status=SlotStatus.SKIPPED),
        ],
    )
    judged = store.slots_to_judge()
    assert [(e.slot, e.status) for e in judged] == [
        (future, SlotStatus.MISSED),
        (future + 60, SlotStatus.SKIPPED),
    ]


def test_a_waiting_run_is_judged_once_its_grace_ran_out(store: Store) -> None:
    now = store.now()
    define(store, "relaxed", grace=3600.0)
    define(store, "strict", grace=10.0)
    store.fire_slots("relaxed", [enqueued(now - 60, schedule="relaxed")])
    [late] = store.fire_slots("strict", [enqueued(now - 60, schedule="strict")])
    store.fire_slots("strict", [enqueued(now + 3600, schedule="strict")])
    [entry] = store.slots_to_judge()
    assert (entry.schedule, entry.slot, entry.job_id) == ("strict", now - 60, late.job_id)
    assert entry.job_state is JobState.QUEUED


def test_a_finished_or_gone_run_is_judged_within_its_grace(store: Store) -> None:
    future = store.now() + 3600
    define(store, grace=60.0)
    done, dead, gone, waiting = store.fire_slots(
        NAME,
        [enqueued(future), enqueued(future + 1), enqueued(future + 2), enqueued(future + 3)],
    )
    one, two, three = claim(store, limit=3)
    complete(store, one, result={"ok": True})
    complete(store, two, CompletionKind.DEAD, error=ErrorInfo("KeyError", "x", None))
    complete(store, three)
    store.discard_jobs(JobFilter(ids=(three.id,)))
    judged = store.slots_to_judge()
    assert [(e.job_id, e.job_state) for e in judged] == [
        (done.job_id, JobState.SUCCEEDED),
        (dead.job_id, JobState.DEAD),
        (gone.job_id, None),
    ]
    assert waiting.job_id not in {e.job_id for e in judged}
    assert judged[0].result_json is not None and json.loads(judged[0].result_json) == {"ok": True}
    assert judged[1].error_type == "KeyError"


def test_slots_of_removed_schedules_are_not_judged(store: Store) -> None:
    define(store)
    store.fire_slots(NAME, [SlotFire(slot=60.0, status=SlotStatus.MISSED)])
    store.remove_schedule(NAME)
    assert store.slots_to_judge() == []


def test_slots_to_judge_oldest_first_up_to_the_limit(store: Store) -> None:
    define(store, "a")
    define(store, "b")
    store.fire_slots("b", [SlotFire(slot=s, status=SlotStatus.MISSED) for s in (30.0, 90.0)])
    store.fire_slots("a", [SlotFire(slot=s, status=SlotStatus.MISSED) for s in (60.0, 90.0)])
    judged = store.slots_to_judge(limit=3)
    assert [(e.schedule, e.slot) for e in judged] == [("b", 30.0), ("a", 60.0), ("a", 90.0)]


def test_set_verdicts_records_judgements_and_ends_judging(store: Store) -> None:
    define(store)
    define(store, "other")
    store.fire_slots(NAME, [SlotFire(slot=s, status=SlotStatus.MISSED) for s in (60.0, 120.0)])
    store.fire_slots("other", [SlotFire(slot=60.0, status=SlotStatus.SKIPPED)])
    store.set_verdicts([])
    before = store.now()
    store.set_verdicts(
        [
            (NAME, 60.0, Verdict.MISSED, "no scheduler was running"),
            ("other", 60.0, Verdict.SKIPPED, None),
        ]
    )
    assert [(e.schedule, e.slot) for e in store.slots_to_judge()] == [(NAME, 120.0)]
    judged = store.schedule_ledger(NAME)[1]
    assert judged.verdict is Verdict.MISSED
    assert judged.verdict_detail == "no scheduler was running"
    assert judged.judged_at is not None and before - 1 <= judged.judged_at <= store.now() + 1
    [other] = store.schedule_ledger("other")
    assert other.verdict is Verdict.SKIPPED and other.verdict_detail is None
    assert store.schedule_ledger(NAME)[0].verdict is None
