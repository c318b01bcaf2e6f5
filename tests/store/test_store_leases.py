"""Conformance: leases (heartbeat, rescue, expired workers), progress, and worker rows."""

from __future__ import annotations

from store_helpers import (
    LEASE,
    WORKER,
    claim,
    claim_one,
    complete,
    heartbeat,
    insert,
    insert_one,
    lapse,
    new_job,
    wait_until,
)

from conveyor.models import AttemptOutcome, JobState, WorkerInfo
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind

# -- heartbeat ---------------------------------------------------------------------------------


def test_heartbeat_renews_the_leases_of_held_jobs(store: Store) -> None:
    ids = insert(store, new_job(), new_job())
    claimed = claim(store, lease=5)
    before = store.now()
    renewed = heartbeat(store, [(j.id, j.token) for j in claimed], lease=300)
    after = store.now()
    assert renewed == frozenset(ids)
    for job in store.get_jobs(ids):
        assert job.lease_until is not None
        assert before + 300 <= job.lease_until <= after + 300
        assert job.state is JobState.RUNNING


def test_heartbeat_returns_only_ids_still_held(store: Store) -> None:
    insert(store, new_job(), new_job(), new_job())
    a, b, c = claim(store)
    assert complete(store, a)
    assert complete(store, b, CompletionKind.RETRY, retry_delay=60)
    renewed = heartbeat(store, [(a.id, a.token), (b.id, b.token), (c.id, c.token)])
    assert renewed == frozenset({c.id})
    done = store.get_job(a.id)
    assert done is not None
    assert done.lease_until is None


def test_heartbeat_does_not_renew_a_job_held_under_another_token(store: Store) -> None:
    job_id = insert_one(store)
    old = claim_one(store, lease=0.05)
    lapse(store, old)
    assert store.rescue_expired() == [job_id]
    new = claim_one(store, lease=5)  # same worker, a new attempt
    assert new.token != old.token
    renewed = heartbeat(store, [(job_id, old.token)], lease=300)
    assert renewed == frozenset()
    job = store.get_job(job_id)
    assert job is not None
    assert job.lease_until == new.lease_until


def test_heartbeat_does_not_renew_a_job_held_by_another_worker(store: Store) -> None:
    job_id = insert_one(store)
    held = claim_one(store, worker="owner", lease=5)
    renewed = heartbeat(store, [(job_id, held.token)], worker="intruder", lease=300)
    assert renewed == frozenset()
    job = store.get_job(job_id)
    assert job is not None
    assert job.lease_until == held.lease_until
    assert job.worker_id == "owner"


def test_heartbeat_of_unknown_jobs_returns_nothing(store: Store) -> None:
    assert heartbeat(store, [(123456, 1)]) == frozenset()
    assert heartbeat(store, []) == frozenset()


def test_a_renewed_lease_is_not_rescued(store: Store) -> None:
    job_id = insert_one(store)
    held = claim_one(store, lease=0.3)
    assert heartbeat(store, [(job_id, held.token)], lease=60) == frozenset({job_id})
    # Past the first, short lease by the caller's clock (advanced instead of sleeping).
    assert store.rescue_expired(now=store.now() + 0.35) == []
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.RUNNING


# -- rescue ------------------------------------------------------------------------------------


def test_rescue_retries_an_attempt_whose_lease_lapsed(store: Store) -> None:
    job_id = insert_one(store, max_attempts=3)
    held = claim_one(store, lease=0.05, worker="gone")
    lapse(store, held)
    before = store.now()
    assert store.rescue_expired() == [job_id]
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.RETRYING
    assert job.attempt == 1
    assert job.error_type == "WorkerLost"
    assert job.error_message
    assert job.run_at <= after
    assert job.lease_until is None
    (attempt,) = store.list_attempts(job_id)
    assert attempt.outcome is AttemptOutcome.LOST
    assert attempt.error_type == "WorkerLost"
    assert attempt.worker_id == "gone"
    assert attempt.attempt == 1
    assert attempt.started_at == held.started_at
    assert attempt.finished_at is not None
    assert before <= attempt.finished_at <= after
    again = claim_one(store)
    assert again.id == job_id
    assert again.attempt == 2


def test_a_rescued_job_keeps_its_place_in_claim_order(store: Store) -> None:
    """Issue 11, item 3: the orphan goes back where it was (its run_at is kept), not behind
    every job enqueued while its worker held it; priority still comes first."""
    now = store.now()
    orphan_id = insert_one(store, run_at=now - 100)
    held = claim_one(store, lease=0.05, worker="killed")
    backlog = insert(store, *[new_job(run_at=now - 50 + i) for i in range(3)])
    urgent = insert_one(store, priority=5, run_at=now - 10)
    later = insert_one(store, priority=-1, run_at=now - 200)
    lapse(store, held)
    assert store.rescue_expired() == [orphan_id]

    orphan = store.get_job(orphan_id)
    assert orphan is not None
    assert orphan.state is JobState.RETRYING
    assert orphan.run_at == now - 100  # its original due time, not the rescue's
    # `conveyor jobs why` counts the same order the claim takes.
    assert store.count_ahead(orphan_id, cap=100) == 1
    assert store.count_ahead(backlog[0], cap=100) == 2

    order = [job.id for job in claim(store, limit=10, worker="survivor")]
    assert order == [urgent, orphan_id, *backlog, later]
    again = next(job for job in store.get_jobs([orphan_id]))
    assert again.attempt == 2


def test_an_ordinary_retry_still_waits_its_backoff_from_now(store: Store) -> None:
    """Only a rescue keeps run_at: a handler's retry is due after its delay, from now."""
    now = store.now()
    job_id = insert_one(store, run_at=now - 100)
    held = claim_one(store)
    before = store.now()
    assert complete(store, held, CompletionKind.RETRY, retry_delay=60)
    after = store.now()
    job = store.get_job(job_id)
    assert job is not None
    assert before + 60 <= job.run_at <= after + 60
    assert claim(store) == []


def test_rescue_sends_an_exhausted_job_to_dead(store: Store) -> None:
    job_id = insert_one(store, max_attempts=2)
    first = claim_one(store)
    assert complete(store, first, CompletionKind.RETRY, retry_delay=0)
    second = claim_one(store, lease=0.05)
    assert second.attempt == 2
    lapse(store, second)
    assert store.rescue_expired() == [job_id]
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.DEAD
    assert job.error_type == "WorkerLost"
    assert job.finished_at is not None
    last = store.list_attempts(job_id)[-1]
    assert last.attempt == 2
    assert last.error_type == "WorkerLost"
    assert last.outcome in (AttemptOutcome.DEAD, AttemptOutcome.LOST)
    assert claim(store) == []


def test_rescue_leaves_live_leases_alone(store: Store) -> None:
    live_id = insert_one(store)
    live = claim_one(store, lease=LEASE)
    lapsed_id = insert_one(store)
    lapsed = claim_one(store, lease=0.05)
    lapse(store, lapsed)
    assert store.rescue_expired() == [lapsed_id]
    job = store.get_job(live_id)
    assert job is not None
    assert job.state is JobState.RUNNING
    assert job.lease_until == live.lease_until
    assert store.list_attempts(live_id) == []
    assert complete(store, live)


def test_rescue_with_nothing_expired_does_nothing(store: Store) -> None:
    insert_one(store)
    assert store.rescue_expired() == []
    assert store.rescue_expired(limit=10) == []


def test_rescue_respects_its_limit(store: Store) -> None:
    ids = insert(store, *[new_job() for _ in range(3)])
    claimed = claim(store, lease=0.05)
    for job in claimed:
        lapse(store, job)
    first = store.rescue_expired(limit=2)
    second = store.rescue_expired(limit=2)
    assert len(first) == 2
    assert len(second) == 1
    assert sorted(first + second) == ids
    assert store.rescue_expired(limit=2) == []


def test_expire_worker_lapses_its_leases_for_rescue(store: Store) -> None:
    insert(store, *[new_job() for _ in range(3)])
    dead_held = claim(store, limit=2, worker="dead", lease=LEASE)
    alive = claim_one(store, worker="alive", lease=LEASE)
    assert store.rescue_expired() == []
    assert store.expire_worker("dead") == 2
    rescued = store.rescue_expired()
    assert sorted(rescued) == sorted(j.id for j in dead_held)
    for job in store.get_jobs(rescued):
        assert job.state is JobState.RETRYING
        assert job.error_type == "WorkerLost"
    still = store.get_job(alive.id)
    assert still is not None
    assert still.state is JobState.RUNNING
    assert heartbeat(store, [(alive.id, alive.token)], worker="alive") == frozenset({alive.id})


def test_expire_an_unknown_worker_expires_nothing(store: Store) -> None:
    insert_one(store)
    claim_one(store)
    assert store.expire_worker("nobody") == 0
    assert store.rescue_expired() == []


def test_a_rescued_attempt_cannot_heartbeat_back(store: Store) -> None:
    job_id = insert_one(store)
    held = claim_one(store, lease=0.05)
    lapse(store, held)
    assert store.rescue_expired() == [job_id]
    assert heartbeat(store, [(job_id, held.token)]) == frozenset()
    job = store.get_job(job_id)
    assert job is not None
    assert job.state is JobState.RETRYING
    assert job.lease_until is None


# -- progress ----------------------------------------------------------------------------------


def test_set_progress_for_the_holding_attempt(store: Store) -> None:
    job_id = insert_one(store)
    held = claim_one(store)
    assert store.set_progress(job_id, held.token, 0.25, "a quarter")
    job = store.get_job(job_id)
    assert job is not None
    assert (job.progress, job.progress_message) == (0.25, "a quarter")
    assert store.set_progress(job_id, held.token, 0.5, None)
    job = store.get_job(job_id)
    assert job is not None
    assert (job.progress, job.progress_message) == (0.5, None)


def test_set_progress_is_refused_without_the_token(store: Store) -> None:
    job_id = insert_one(store)
    held = claim_one(store)
    assert store.set_progress(job_id, held.token, 0.5, "half")
    assert not store.set_progress(job_id, held.token + 1, 0.9, "stale")
    assert not store.set_progress(424242, 1, 0.9, "missing")
    job = store.get_job(job_id)
    assert job is not None
    assert (job.progress, job.progress_message) == (0.5, "half")
    assert complete(store, held)
    assert not store.set_progress(job_id, held.token, 1.0, "after the end")


def test_set_progress_on_a_queued_job_is_refused(store: Store) -> None:
    job_id = insert_one(store)
    assert not store.set_progress(job_id, 0, 0.5, None)
    job = store.get_job(job_id)
    assert job is not None
    assert job.progress is None


def test_a_new_attempt_starts_without_progress(store: Store) -> None:
    job_id = insert_one(store)
    first = claim_one(store)
    assert store.set_progress(job_id, first.token, 0.75, "most")
    assert complete(store, first, CompletionKind.RELEASED)
    second = claim_one(store)
    assert not store.set_progress(job_id, first.token, 0.8, "stale")
    job = store.get_job(job_id)
    assert job is not None
    assert (job.progress, job.progress_message) == (None, None)
    assert store.set_progress(job_id, second.token, 0.1, "again")


# -- workers -----------------------------------------------------------------------------------


def _worker(worker_id: str = WORKER, **kwargs: object) -> WorkerInfo:
    values: dict[str, object] = {
        "id": worker_id,
        "hostname": "host-a",
        "pid": 4242,
        "queues": ("default", "emails"),
        "names": ("send_email", "resize"),
    }
    values.update(kwargs)
    return WorkerInfo(**values)  # type: ignore[arg-type]


def test_register_and_list_live_workers(store: Store) -> None:
    before = store.now()
    store.put_worker("w-1", _worker("w-1"))
    store.put_worker("w-2", _worker("w-2", hostname="host-b", pid=7, queues=("x",), names=()))
    after = store.now()
    workers = {w.id: w for w in store.live_workers(stale_after=60)}
    assert sorted(workers) == ["w-1", "w-2"]
    one = workers["w-1"]
    assert (one.hostname, one.pid, one.queues, one.names) == (
        "host-a",
        4242,
        ("default", "emails"),
        ("send_email", "resize"),
    )
    two = workers["w-2"]
    assert (two.hostname, two.pid, two.queues, two.names) == ("host-b", 7, ("x",), ())
    for w in workers.values():
        assert before <= w.started_at <= after
        assert before <= w.last_seen <= after


def test_registering_again_replaces_the_worker_row(store: Store) -> None:
    store.put_worker("w-1", _worker("w-1", pid=1))
    store.put_worker("w-1", _worker("w-1", pid=2, queues=("other",)))
    (worker,) = store.live_workers(stale_after=60)
    assert worker.id == "w-1"
    assert worker.pid == 2
    assert worker.queues == ("other",)


def test_deregister_removes_the_worker(store: Store) -> None:
    store.put_worker("w-1", _worker("w-1"))
    store.put_worker("w-2", _worker("w-2"))
    store.put_worker("w-1", None)
    assert [w.id for w in store.live_workers(stale_after=60)] == ["w-2"]
    store.put_worker("never-registered", None)
    assert [w.id for w in store.live_workers(stale_after=60)] == ["w-2"]


def test_a_worker_row_is_started_and_seen_at_the_callers_clock(store: Store) -> None:
    store.put_worker("w-1", _worker("w-1"), now=1000.0)
    store.put_worker("w-1", _worker("w-1", pid=2), now=1030.0)
    (worker,) = store.live_workers(stale_after=60, now=1050.0)
    assert (worker.started_at, worker.last_seen, worker.pid) == (1000.0, 1030.0, 2)
    assert store.live_workers(stale_after=60, now=1100.0) == []


def test_a_silent_worker_goes_stale_and_a_heartbeat_marks_it_seen(store: Store) -> None:
    store.put_worker("w-1", _worker("w-1"))
    (registered,) = store.live_workers(stale_after=60)
    wait_until(lambda: store.live_workers(stale_after=0.3) == [], timeout=5.0)
    assert heartbeat(store, [], worker="w-1") == frozenset()
    (seen,) = store.live_workers(stale_after=0.3)
    assert seen.id == "w-1"
    assert seen.last_seen > registered.last_seen
    assert seen.started_at == registered.started_at
