"""Conformance: time is a parameter. Verbs that depend on "now" run at the caller's clock when
given one, so leases, retries and retention are tested by advancing time, not by sleeping."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from store_helpers import (
    NAMES,
    QUEUE,
    claim,
    claim_one,
    complete,
    heartbeat,
    insert_one,
    new_job,
)

from conveyor.models import JobState, WorkerInfo
from conveyor.store import Store, open_async_store
from conveyor.store.protocol import (
    ClaimParams,
    Completion,
    CompletionKind,
    ErrorInfo,
    JobFilter,
    Replay,
    Retention,
)
from conveyor.store.watch_types import CheckinRow, ScheduleRow, SlotFire, SlotStatus, Verdict

BOOM = ErrorInfo("ValueError", "boom", None)
HOUR = 3600.0


def _job_state(store: Store, job_id: int) -> JobState:
    job = store.get_job(job_id)
    assert job is not None
    return job.state


def test_a_lease_lapses_when_the_callers_clock_passes_it(store: Store) -> None:
    job_id = insert_one(store, max_attempts=3)
    t = store.now()  # after the inserts: their jobs are due by then
    held = claim_one(store, lease=60, now=t)
    assert abs(held.started_at - t) < 0.01
    assert abs(held.lease_until - (t + 60)) < 0.01
    assert store.rescue_expired(now=t + 59) == []
    assert _job_state(store, job_id) is JobState.RUNNING
    assert store.rescue_expired(now=t + 61) == [job_id]
    assert _job_state(store, job_id) is JobState.RETRYING


def test_a_heartbeat_renews_the_lease_from_the_callers_clock(store: Store) -> None:
    job_id = insert_one(store)
    t = store.now()  # after the inserts: their jobs are due by then
    held = claim_one(store, lease=60, now=t)
    # Renewed at t + 50 for another minute: the lease now ends at t + 110.
    assert heartbeat(store, [(job_id, held.token)], lease=60, now=t + 50) == {job_id}
    job = store.get_job(job_id)
    assert job is not None and job.lease_until is not None
    assert abs(job.lease_until - (t + 110)) < 0.01
    assert store.rescue_expired(now=t + 100) == []
    assert store.rescue_expired(now=t + 111) == [job_id]


def test_a_retry_is_due_its_delay_after_the_callers_clock(store: Store) -> None:
    job_id = insert_one(store, max_attempts=3)
    t = store.now()  # after the inserts: their jobs are due by then
    first = claim_one(store, now=t)
    assert complete(store, first, CompletionKind.RETRY, retry_delay=HOUR, error=BOOM, now=t + 5)
    job = store.get_job(job_id)
    assert job is not None and job.finished_at is None
    assert abs(job.run_at - (t + 5 + HOUR)) < 0.01
    assert claim(store, now=t + 5 + HOUR - 1) == []
    [again] = claim(store, now=t + 5 + HOUR + 1)
    assert again.id == job_id and again.attempt == 2


def test_complete_and_claim_runs_at_the_callers_clock(store: Store) -> None:
    first = insert_one(store)
    second = insert_one(store, delay=HOUR)  # due in an hour by the store's clock
    t = store.now()  # after the inserts: their jobs are due by then
    held = claim_one(store, now=t)
    params = ClaimParams("w", (QUEUE,), NAMES, 5, 30.0, now=t + 2 * HOUR)
    done = Completion(held.id, held.token, CompletionKind.SUCCEEDED)
    round_ = store.complete_and_claim([done], params)
    assert [r.accepted for r in round_.completed] == [True]
    assert [j.id for j in round_.claimed] == [second]
    finished = store.get_job(first)
    assert finished is not None and finished.finished_at is not None
    assert abs(finished.finished_at - (t + 2 * HOUR)) < 0.01


def test_prune_measures_retention_at_the_callers_clock(store: Store) -> None:
    job_id = insert_one(store)
    t = store.now()  # after the inserts: their jobs are due by then
    assert complete(store, claim_one(store, now=t), now=t)
    retention = Retention(succeeded=HOUR)
    assert store.prune(retention, now=t + HOUR - 60) == 0
    assert store.prune(retention, now=t + HOUR + 60) == 1
    assert store.get_job(job_id) is None


def test_live_workers_are_judged_at_the_callers_clock(store: Store) -> None:
    store.register_worker(WorkerInfo(id="w-1", hostname="h", pid=1, queues=("q",), names=("n",)))
    t = store.now()  # after the inserts: their jobs are due by then
    assert [w.id for w in store.live_workers(60, now=t + 30)] == ["w-1"]
    assert store.live_workers(60, now=t + 120) == []


def test_the_async_store_takes_the_callers_clock(store: Store) -> None:
    job_id = insert_one(store, max_attempts=1)
    t = store.now()  # after the inserts: their jobs are due by then
    claim_one(store, lease=60, now=t)

    async def scenario() -> tuple[list[int], list[int], int]:
        astore = open_async_store(store)
        try:
            early = await astore.rescue_expired(now=t + 30)
            late = await astore.rescue_expired(now=t + 90)
            pruned = await astore.prune(Retention(dead=60), now=t + 200)
            return early, late, pruned
        finally:
            await astore.release()

    assert asyncio.run(scenario()) == ([], [job_id], 1)
    assert store.count_jobs(JobFilter()) == 0


def test_an_insert_is_due_its_delay_after_the_callers_clock(store: Store) -> None:
    t = store.now() + HOUR
    [inserted] = store.insert_jobs([new_job(delay=60)], now=t)
    job = store.get_job(inserted.id)
    assert job is not None
    assert abs(job.run_at - (t + 60)) < 0.01
    assert abs(job.created_at - t) < 0.01
    assert claim(store, now=t + 59) == []
    assert [j.id for j in claim(store, now=t + 61)] == [inserted.id]


def test_a_unique_hold_ends_by_the_callers_clock(store: Store) -> None:
    job = replace(new_job(unique_key="digest"), unique_for=HOUR)
    [first] = store.insert_jobs([job])
    t = store.now()
    assert complete(store, claim_one(store, now=t), now=t)
    assert store.held_unique_keys(["digest"], now=t + HOUR - 60) == {"digest"}
    [duplicate] = store.insert_jobs([job], now=t + HOUR - 60)
    assert duplicate.duplicate and duplicate.id == first.id
    assert store.held_unique_keys(["digest"], now=t + HOUR + 60) == frozenset()
    [fresh] = store.insert_jobs([job], now=t + HOUR + 60)
    assert not fresh.duplicate


def test_reads_measure_ages_and_due_times_at_the_callers_clock(store: Store) -> None:
    job_id = insert_one(store, delay=HOUR)
    t = store.now()
    assert store.count_jobs(JobFilter(older_than=60), now=t + 120) == 1
    assert store.count_jobs(JobFilter(older_than=60), now=t) == 0
    assert [j.id for j in store.list_jobs(JobFilter(newer_than=60), now=t + 120)] == []
    due = store.next_due_in((QUEUE,), NAMES, now=t + HOUR - 10)
    assert due is not None and 9 < due <= 10.01
    assert store.next_due_in((QUEUE,), NAMES, now=t + HOUR + 10) == 0.0
    [stats] = store.queue_stats(now=t + 2 * HOUR)
    assert stats.scheduled == 1 or stats.queued == 1
    assert store.count_ahead(job_id, 10, now=t + 2 * HOUR) == 0


def test_a_replay_spreads_from_the_callers_clock(store: Store) -> None:
    dead = []
    for _ in range(2):
        job_id = insert_one(store, max_attempts=1)
        job = claim_one(store)
        assert job.id == job_id
        assert complete(store, job, CompletionKind.DEAD, error=BOOM)
        dead.append(job_id)
    t = store.now() + HOUR
    assert store.retry_jobs(JobFilter(), replay=Replay(per_second=0.5), now=t) == dead
    run_at = [store.get_job(j).run_at for j in dead]  # type: ignore[union-attr]
    assert abs(run_at[0] - t) < 0.01 and abs(run_at[1] - (t + 2)) < 0.01


def test_retry_and_cancel_write_the_callers_clock(store: Store) -> None:
    waiting = insert_one(store, delay=HOUR)
    doomed = insert_one(store, delay=HOUR)
    t = store.now() + 10
    assert store.retry_jobs(JobFilter(ids=(waiting,)), now=t) == [waiting]
    job = store.get_job(waiting)
    assert job is not None and abs(job.run_at - t) < 0.01
    assert store.cancel_jobs(JobFilter(ids=(doomed,)), now=t + 5) == [doomed]
    job = store.get_job(doomed)
    assert job is not None and job.finished_at is not None
    assert abs(job.finished_at - (t + 5)) < 0.01


def test_expiring_a_worker_lapses_its_leases_before_the_callers_clock(store: Store) -> None:
    job_id = insert_one(store)
    t = store.now()
    claim_one(store, lease=HOUR, worker="gone", now=t)
    assert store.expire_worker("gone", now=t + 10) == 1
    assert store.rescue_expired(now=t + 10) == [job_id]


def test_a_named_lease_lapses_by_the_callers_clock(store: Store) -> None:
    t = store.now()
    assert store.acquire_lease("monitor", "a", HOUR, now=t)
    assert not store.acquire_lease("monitor", "b", 60, now=t + HOUR - 1)
    assert store.acquire_lease("monitor", "b", 60, now=t + HOUR + 1)


def test_a_slots_grace_runs_out_by_the_callers_clock(store: Store) -> None:
    store.sync_schedules(
        [ScheduleRow(name="nightly", job_name=NAMES[0], timing="every:60", grace=60.0)]
    )
    slot = store.now() + HOUR  # a slot in the future, its job waiting
    job = new_job(meta={"schedule": "nightly", "slot": slot})
    store.fire_slots("nightly", [SlotFire(slot=slot, status=SlotStatus.ENQUEUED, job=job)])
    assert store.slots_to_judge(now=slot + 59) == []
    [entry] = store.slots_to_judge(now=slot + 61)
    assert entry.slot == slot
    store.set_verdicts([("nightly", slot, Verdict.LATE, None)], now=slot + 61)
    assert store.slots_to_judge(now=slot + 61) == []


def test_check_in_pings_are_kept_and_pruned_by_the_callers_clock(store: Store) -> None:
    store.upsert_checkin(CheckinRow(name="backup", timing="every:86400", grace=60.0))
    t = store.now()
    first = store.record_checkin("backup", now=t)
    newest = store.record_checkin("backup", now=t + HOUR)
    assert first is not None and abs(first - t) < 0.01
    assert newest is not None and abs(newest - (t + HOUR)) < 0.01
    assert store.prune_watch(Retention(watch=2 * HOUR), now=t + HOUR) == 0
    assert store.prune_watch(Retention(watch=60), now=t + HOUR) == 1
    assert store.checkin_pings("backup", 0.0) == [newest]


def test_runs_are_stamped_and_pruned_at_the_callers_clock(store: Store) -> None:
    from run_helpers import claim_stage, done, stage, start

    t = store.now() - HOUR  # an hour ago: the run's first job is due by now
    run_id = start(store, stage("a"), stage("b", "a"), now=t)
    run = store.get_run(run_id)
    assert run is not None and (run.created_at, run.last_progress_at) == (t, t)
    [job] = claim_stage(store, "a")
    [ok] = store.complete_jobs([done(job, 1)], now=t + 60)
    assert ok.accepted
    run = store.get_run(run_id)
    assert run is not None and run.last_progress_at == t + 60
    [a, b] = run.stages
    assert (a.finished_at, b.started_at) == (t + 60, t + 60)
    assert store.cancel_run(run_id, by="ops", now=t + 120)
    run = store.get_run(run_id)
    assert run is not None and run.finished_at == t + 120
    retention = Retention(runs=HOUR)
    store.prune(retention, now=t + 120 + HOUR - 60)
    assert store.get_run(run_id) is not None
    store.prune(retention, now=t + 120 + HOUR + 60)
    assert store.get_run(run_id) is None
