"""Conformance: progress-aware liveness (``stall_after=``) on both stores, with the caller's
clock. A running job whose progress stands still for its ``stall_after`` is stalled; a
progress write that changes nothing does not count as progress."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from store_helpers import NAME, QUEUE, claim_one, heartbeat, insert_one

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.models import Job
from conveyor.monitor.rules import StalledJobs
from conveyor.monitor.service import Monitor
from conveyor.store import Store
from conveyor.why import explain

STALL = {"stall_after": 60.0}


def _job(store: Store, job_id: int) -> Job:
    job = store.get_job(job_id)
    assert job is not None
    return job


def test_progress_time_moves_only_when_progress_changes(store: Store) -> None:
    job_id = insert_one(store, meta=STALL)
    t = store.now()
    held = claim_one(store, now=t)
    assert _job(store, job_id).progress_at is None
    assert store.set_progress(job_id, held.token, 0.25, "a quarter", now=t + 10)
    assert _job(store, job_id).progress_at == pytest.approx(t + 10, abs=0.01)
    # The same fraction and message again: written, but it is not progress.
    assert store.set_progress(job_id, held.token, 0.25, "a quarter", now=t + 40)
    assert _job(store, job_id).progress_at == pytest.approx(t + 10, abs=0.01)
    # A new message alone is progress (a job may count items in its message).
    assert store.set_progress(job_id, held.token, 0.25, "item 7", now=t + 50)
    assert _job(store, job_id).progress_at == pytest.approx(t + 50, abs=0.01)
    assert store.set_progress(job_id, held.token, 0.5, None, now=t + 55)
    assert _job(store, job_id).progress_at == pytest.approx(t + 55, abs=0.01)


def test_a_running_job_stalls_after_its_stall_after(store: Store) -> None:
    job_id = insert_one(store, meta=STALL)
    t = store.now()
    held = claim_one(store, lease=30, now=t)
    assert _job(store, job_id).stalled_for(t + 59) is None  # never reported: since its start
    assert _job(store, job_id).stalled_for(t + 61) == pytest.approx(61, abs=0.05)
    assert store.set_progress(job_id, held.token, 0.1, None, now=t + 61)
    assert _job(store, job_id).stalled_for(t + 100) is None
    # The heartbeat keeps the lease alive, but it is not progress.
    assert heartbeat(store, [(job_id, held.token)], lease=30, now=t + 110) == {job_id}
    job = _job(store, job_id)
    assert job.stalled_for(t + 121) == pytest.approx(60, abs=0.05)
    assert job.stall_after == 60.0


def test_progress_of_an_earlier_attempt_does_not_count(store: Store) -> None:
    job_id = insert_one(store, meta=STALL)
    t = store.now()
    first = claim_one(store, lease=30, now=t)
    assert store.set_progress(job_id, first.token, 0.9, None, now=t + 5)
    assert store.rescue_expired(now=t + 40) == [job_id]  # its worker died; retried
    second = claim_one(store, lease=30, now=t + 100)
    assert second.id == job_id
    job = _job(store, job_id)
    assert job.progress is None  # a new attempt starts without progress
    assert job.stalled_for(t + 150) is None  # 50s into the new attempt
    assert job.stalled_for(t + 161) == pytest.approx(61, abs=0.05)


def test_without_stall_after_a_job_never_stalls(store: Store) -> None:
    job_id = insert_one(store)
    t = store.now()
    claim_one(store, now=t)
    job = _job(store, job_id)
    assert job.stall_after is None
    assert job.stalled_for(t + 86400) is None


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    app = Conveyor(store_url)
    yield app
    app.close()


def test_the_stalled_jobs_rule_opens_and_resolves_an_incident(app: Conveyor, store: Store) -> None:
    moving = insert_one(store, meta=STALL)
    stuck = insert_one(store, meta=STALL)
    insert_one(store)  # no stall_after: never fires
    t = store.now()
    a = claim_one(store, lease=600, now=t)
    b = claim_one(store, lease=600, now=t)
    claim_one(store, lease=600, now=t)
    held = {a.id: a, b.id: b}
    app.configure_monitor(rules=[StalledJobs()], reminder=None)
    monitor = Monitor(app, store=store)
    monitor.tick(now=t + 30)
    assert store.firing_incidents() == []
    assert store.set_progress(moving, held[moving].token, 0.5, None, now=t + 50)
    monitor.tick(now=t + 90)
    [incident] = store.firing_incidents()
    assert (incident.rule, incident.subject) == ("stalled_jobs", NAME)
    assert f"job {stuck} has stood still for 1m 30s" in incident.summary
    assert json.loads(incident.details_json)["jobs"] == [stuck]
    assert store.set_progress(stuck, held[stuck].token, 0.1, None, now=t + 100)
    monitor.tick(now=t + 105)
    assert store.firing_incidents() == []


def test_jobs_why_names_a_stalled_job(store: Store) -> None:
    t = store.now()
    job_id = insert_one(store, meta=STALL, run_at=t - 300)
    claim_one(store, lease=3600, now=t - 120)  # started two minutes ago by the store's clock
    codes = [r.code for r in explain(store, job_id)]
    assert codes == ["running", "stalled"]
    text = explain(store, job_id)[1].message
    assert "stall_after 1m" in text and f"conveyor jobs cancel {job_id}" in text


def test_stall_after_is_declared_and_stored_with_the_job(app: Conveyor, store: Store) -> None:
    @app.job(queue=QUEUE, stall_after="5m")
    def crawl(ctx: object) -> None: ...

    handle = crawl.enqueue()
    assert _job(store, handle.id).stall_after == 300.0
    with pytest.raises(ConfigurationError, match="stall_after must be longer than zero"):
        app.job(stall_after=0)
    with pytest.raises(ConfigurationError, match="stall_after"):
        app.job(stall_after="soon")
