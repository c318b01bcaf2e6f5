"""Conformance: the dashboard's verbs (actions audit, dead-letter groups, replays, series)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from store_helpers import claim, complete, insert_one, lapse, wait_until

from conveyor.errors import ConfigurationError
from conveyor.models import AttemptOutcome, Job, JobState
from conveyor.store import Store
from conveyor.store.postgres import PostgresStore
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter, Replay
from conveyor.store.web_types import SeriesPoint
from conveyor.web.series_cache import SeriesCache

BOOM = ErrorInfo("ValueError", "boom", "Traceback ...")


def _dead(
    store: Store,
    name: str = "send_email",
    queue: str = "default",
    error: ErrorInfo | None = BOOM,
) -> int:
    """A job that failed its only attempt; nothing else may be ready in its queue and name."""
    job_id = insert_one(store, name=name, queue=queue, max_attempts=1)
    [job] = claim(store, queues=(queue,), names=(name,), limit=1)
    assert job.id == job_id
    assert complete(store, job, CompletionKind.DEAD, error=error)
    # Deaths a little apart, so "oldest death first" is an order of times, not only of ids.
    time.sleep(0.002)
    return job_id


def _job(store: Store, job_id: int) -> Job:
    job = store.get_job(job_id)
    assert job is not None
    return job


# -- the actions audit -------------------------------------------------------------------------


def test_an_action_is_recorded_with_who_what_and_when(store: Store) -> None:
    before = store.now()
    details = '{"count": 3,  "filter": {"queue": "emails"}}'  # kept as written, spaces too
    action_id = store.record_action("alice", "replay", "dlq:name=send_email", details)
    [row] = store.list_actions()
    assert row.id == action_id
    assert (row.actor, row.action, row.target) == ("alice", "replay", "dlq:name=send_email")
    assert row.details_json == details
    assert before - 1 <= row.at <= store.now() + 1


def test_actions_come_newest_first_and_page_by_id(store: Store) -> None:
    ids = [store.record_action("bob", "retry", f"job:{n}", "{}") for n in range(7)]
    assert ids == sorted(ids) and len(set(ids)) == 7
    first = store.list_actions(limit=3)
    assert [a.target for a in first] == ["job:6", "job:5", "job:4"]
    second = store.list_actions(limit=3, before_id=first[-1].id)
    assert [a.target for a in second] == ["job:3", "job:2", "job:1"]
    last = store.list_actions(limit=3, before_id=second[-1].id)
    assert [a.target for a in last] == ["job:0"]
    assert store.list_actions(limit=3, before_id=last[-1].id) == []
    assert store.list_actions(limit=0) == []


def test_actions_of_one_target(store: Store) -> None:
    store.record_action("alice", "pause_queue", "queue:emails", "{}")
    store.record_action("alice", "retry", "job:1", "{}")
    store.record_action("bob", "resume_queue", "queue:emails", '{"why": "fixed"}')
    store.record_action("bob", "pause_queue", "queue:emails-2", "{}")
    mine = store.list_actions(target="queue:emails")
    assert [(a.actor, a.action) for a in mine] == [
        ("bob", "resume_queue"),
        ("alice", "pause_queue"),
    ]
    paged = store.list_actions(limit=1, before_id=mine[0].id, target="queue:emails")
    assert paged == [mine[1]]
    assert store.list_actions(target="queue:nothing") == []


def test_a_negative_page_size_is_refused(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="page size"):
        store.list_actions(limit=-1)
    with pytest.raises(ConfigurationError, match="page size"):
        store.dead_groups(limit=-1)


# -- dead-letter groups ------------------------------------------------------------------------


def test_dead_groups_by_name_and_error_type_biggest_first(store: Store) -> None:
    assert store.dead_groups() == []
    timeout = ErrorInfo("TimeoutError", "vendor slow", None)
    _dead(store, "send_email", error=BOOM)
    _dead(store, "send_email", error=timeout)
    _dead(store, "send_email", error=ErrorInfo("TimeoutError", "vendor slower", None))
    _dead(store, "resize", error=ErrorInfo("ValueError", "bad size", None))
    _dead(store, "report", error=None)  # dead without an error (e.g. a lost final attempt)
    newest = _dead(store, "send_email", error=ErrorInfo("TimeoutError", "vendor gone", None))
    # Jobs in other states never count.
    insert_one(store, name="send_email")
    done_id = insert_one(store, name="resize", queue="other")
    [done] = claim(store, queues=("other",), names=("resize",))
    assert done.id == done_id and complete(store, done)

    groups = store.dead_groups()
    keys = [(g.name, g.error_type, g.count) for g in groups]
    # Biggest first; ties by name, then error type (none first).
    assert keys == [
        ("send_email", "TimeoutError", 3),
        ("report", None, 1),
        ("resize", "ValueError", 1),
        ("send_email", "ValueError", 1),
    ]
    top = groups[0]
    assert top.sample_message == "vendor gone"  # the newest one's
    newest_job = _job(store, newest)
    assert top.newest_at == pytest.approx(newest_job.finished_at)
    assert top.oldest_at < top.newest_at
    assert groups[1].sample_message is None
    assert [g.name for g in store.dead_groups(limit=2)] == ["send_email", "report"]
    assert store.dead_groups(limit=0) == []


# -- replays -----------------------------------------------------------------------------------


def test_replay_gives_dead_jobs_fresh_attempts_and_keeps_history(store: Store) -> None:
    job_id = _dead(store)
    history = store.list_attempts(job_id)
    assert [a.outcome for a in history] == [AttemptOutcome.DEAD]
    before = store.now()
    assert store.retry_jobs(JobFilter(ids=(job_id,)), replay=Replay()) == [job_id]
    job = _job(store, job_id)
    assert job.state is JobState.QUEUED
    assert job.attempt == 0 and job.finished_at is None and job.result is None
    assert before - 1 <= job.run_at <= store.now() + 1
    assert store.list_attempts(job_id) == history
    [again] = claim(store)
    assert again.id == job_id and again.attempt == 1
    assert complete(store, again)
    outcomes = [a.outcome for a in store.list_attempts(job_id)]
    assert outcomes == [AttemptOutcome.DEAD, AttemptOutcome.SUCCEEDED]
    # Replaying again finds nothing: the job is not dead any more.
    assert store.retry_jobs(JobFilter(ids=(job_id,)), replay=Replay()) == []


def test_replay_takes_only_dead_jobs_whatever_the_filter_says(store: Store) -> None:
    dead = [_dead(store), _dead(store)]
    queued = insert_one(store)
    running_id = insert_one(store, queue="busy")
    [running] = claim(store, queues=("busy",))
    assert running.id == running_id
    done_id = insert_one(store, queue="done")
    [done] = claim(store, queues=("done",))
    assert complete(store, done)
    cancelled = insert_one(store, queue="gone")
    store.cancel_jobs(JobFilter(ids=(cancelled,)))
    later = insert_one(store, delay=3600)
    before = {j: _job(store, j) for j in (queued, running_id, done_id, cancelled, later)}

    flt = JobFilter(states=(JobState.SUCCEEDED, JobState.QUEUED, JobState.CANCELLED))
    assert store.retry_jobs(flt, replay=Replay()) == dead
    for job_id, job in before.items():
        assert _job(store, job_id) == job
    assert [_job(store, j).state for j in dead] == [JobState.QUEUED, JobState.QUEUED]


def test_replay_matches_the_filter_and_takes_every_match(store: Store) -> None:
    a = _dead(store, "send_email", queue="emails")
    b = _dead(store, "resize", queue="images", error=ErrorInfo("OSError", "disk", None))
    c = _dead(store, "resize", queue="images")
    # What count_jobs counts is what a replay takes: limit and before_id do not page it.
    flt = JobFilter(name="resize", limit=1, before_id=c)
    assert store.count_jobs(JobFilter(name="resize", states=(JobState.DEAD,))) == 2
    assert store.retry_jobs(flt, replay=Replay()) == [b, c]
    assert _job(store, a).state is JobState.DEAD
    assert store.retry_jobs(JobFilter(name="resize"), replay=Replay()) == []
    assert store.retry_jobs(JobFilter(queue="emails", error_type="OSError"), replay=Replay()) == []
    flt = JobFilter(queue="emails", error_type="ValueError")
    assert store.retry_jobs(flt, replay=Replay()) == [a]
    assert store.retry_jobs(JobFilter(), replay=Replay()) == []


def test_replay_goes_oldest_death_first(store: Store) -> None:
    # Insert three, then kill them in the order c, a, b.
    a = insert_one(store, max_attempts=1)
    b = insert_one(store, max_attempts=1)
    c = insert_one(store, max_attempts=1)
    claimed = {j.id: j for j in claim(store, limit=3)}
    for job_id in (c, a, b):
        assert complete(store, claimed[job_id], CompletionKind.DEAD, error=BOOM)
        time.sleep(0.002)
    assert store.retry_jobs(JobFilter(), replay=Replay()) == [c, a, b]


def test_a_replay_rate_spreads_due_times(store: Store) -> None:
    dead = [_dead(store) for _ in range(4)]
    untouched = insert_one(store, queue="elsewhere")
    before = store.now()
    assert store.retry_jobs(JobFilter(), replay=Replay(per_second=2)) == dead
    jobs = [_job(store, j) for j in dead]
    first = jobs[0].run_at
    assert before - 1 <= first <= store.now() + 1
    assert [round(j.run_at - first, 3) for j in jobs] == [0.0, 0.5, 1.0, 1.5]
    # Due now: queued; due later: scheduled, as a delayed insert would be.
    assert [j.state for j in jobs] == [
        JobState.QUEUED,
        JobState.SCHEDULED,
        JobState.SCHEDULED,
        JobState.SCHEDULED,
    ]
    assert _job(store, untouched).state is JobState.QUEUED
    # Only the first is claimable now; the others follow at the rate.
    assert [j.id for j in claim(store, limit=4)] == [dead[0]]
    wait_until(lambda: store.now() > first + 0.5)
    assert [j.id for j in claim(store, limit=4)] == [dead[1]]


def test_a_slow_replay_rate_is_allowed_and_a_bad_one_refused(store: Store) -> None:
    dead = [_dead(store), _dead(store)]
    assert store.retry_jobs(JobFilter(), replay=Replay(per_second=0.01)) == dead
    jobs = [_job(store, j) for j in dead]
    assert jobs[1].run_at - jobs[0].run_at == pytest.approx(100.0, abs=0.01)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ConfigurationError, match="positive number of jobs per second"):
            store.retry_jobs(JobFilter(), replay=Replay(per_second=bad))


def test_replay_of_nothing_is_an_empty_list(store: Store) -> None:
    assert store.retry_jobs(JobFilter(), replay=Replay()) == []
    assert store.retry_jobs(JobFilter(ids=(12345,)), replay=Replay(per_second=5)) == []


def test_concurrent_replays_take_each_job_once(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    dead = [_dead(store) for _ in range(40)]
    others = [open_store_on() for _ in range(4)]
    start = threading.Barrier(len(others))

    def replay(mine: Store) -> list[int]:
        start.wait(timeout=30)
        return mine.retry_jobs(JobFilter(), replay=Replay())

    with ThreadPoolExecutor(len(others)) as pool:
        taken = list(pool.map(replay, others))
    flat = [i for ids in taken for i in ids]
    assert sorted(flat) == dead  # every job once, none twice
    assert store.count_jobs(JobFilter(states=(JobState.QUEUED,))) == len(dead)


def test_replays_wake_listening_workers_on_postgres(store: Store) -> None:
    if not isinstance(store, PostgresStore):
        pytest.skip("SQLite workers notice commits through the file's data version")
    first, second = _dead(store, queue="emails"), _dead(store, queue="images")
    # Where the store's own workers LISTEN: a direct connection when behind a pooler.
    listen = store.pooling.listen_target(store.url)
    assert listen is not None
    with psycopg.connect(listen, autocommit=True) as conn:
        conn.execute(f'LISTEN "conveyor_{store.schema}"')
        assert store.retry_jobs(JobFilter(ids=(first,)), replay=Replay(per_second=1)) == [first]
        assert replay_with_args(store, second, "{}") is True
        heard = [n.payload for n in conn.notifies(timeout=5, stop_after=2)]
    assert sorted(heard) == ["emails", "images"]


def replay_with_args(store: Store, job_id: int, args_json: str) -> bool:
    """The dashboard's "replay with new arguments": one dead job, by id."""
    replayed = store.retry_jobs(JobFilter(ids=(job_id,)), replay=Replay(args_json=args_json))
    assert replayed in ([], [job_id])
    return replayed == [job_id]


def test_replay_with_args_changes_args_of_a_dead_job_only(store: Store) -> None:
    job_id = _dead(store)
    history = store.list_attempts(job_id)
    assert replay_with_args(store, job_id, json.dumps({"user_id": 2, "fixed": True})) is True
    job = _job(store, job_id)
    assert job.args == {"user_id": 2, "fixed": True}
    assert job.state is JobState.QUEUED and job.attempt == 0 and job.finished_at is None
    assert store.list_attempts(job_id) == history
    # Queued now, so not dead: a second replay does nothing and the args stay.
    assert replay_with_args(store, job_id, json.dumps({"user_id": 3})) is False
    assert _job(store, job_id).args == {"user_id": 2, "fixed": True}
    [again] = claim(store)
    assert again.id == job_id and json.loads(again.args_json) == {"user_id": 2, "fixed": True}


def test_a_spread_replay_with_args_gives_every_job_the_args_and_the_lifecycles_states(
    store: Store,
) -> None:
    first, second = _dead(store), _dead(store)
    t = store.now()
    replay = Replay(per_second=2, args_json='{"user_id": 7}')
    assert store.retry_jobs(JobFilter(), replay=replay, now=t) == [first, second]
    one, two = _job(store, first), _job(store, second)
    assert (one.state, one.run_at, one.args) == (JobState.QUEUED, t, {"user_id": 7})
    assert (two.state, two.run_at, two.args) == (JobState.SCHEDULED, t + 0.5, {"user_id": 7})


def test_replay_with_args_of_an_unknown_or_live_job_is_false(store: Store) -> None:
    assert replay_with_args(store, 999_999, "{}") is False
    queued = insert_one(store, args={"user_id": 1})
    assert replay_with_args(store, queued, '{"user_id": 9}') is False
    assert _job(store, queued).args == {"user_id": 1}


# -- the finished series -----------------------------------------------------------------------


def _totals(points: list[SeriesPoint], queue: str) -> tuple[int, int]:
    mine = [p for p in points if p.queue == queue]
    return sum(p.succeeded for p in mine), sum(p.failed for p in mine)


def test_finished_series_counts_successes_deaths_and_failed_attempts(store: Store) -> None:
    since = store.now() - 1
    # emails: two succeed, one fails once then succeeds (a failed attempt), one dies.
    for _ in range(2):
        insert_one(store, queue="emails")
    flaky = insert_one(store, queue="emails", max_attempts=3)
    for job in claim(store, queues=("emails",), limit=3):
        if job.id == flaky:
            assert complete(store, job, CompletionKind.RETRY, error=BOOM)
        else:
            assert complete(store, job)
    [retried] = claim(store, queues=("emails",))
    assert complete(store, retried)
    _dead(store, queue="emails")
    # images: one attempt lost (its lease lapsed), then the job dies.
    lost_id = insert_one(store, queue="images", max_attempts=2)
    [lost] = claim(store, queues=("images",), lease=0.05)
    lapse(store, lost)
    assert store.rescue_expired() == [lost_id]
    [last] = claim(store, queues=("images",))
    assert complete(store, last, CompletionKind.DEAD, error=BOOM)
    # cancelled and waiting jobs are not finished work
    store.cancel_jobs(JobFilter(ids=(insert_one(store, queue="emails"),)))
    insert_one(store, queue="idle")

    points = store.finished_series(since, 60)
    assert _totals(points, "emails") == (3, 2)
    assert _totals(points, "images") == (0, 2)
    assert {p.queue for p in points} == {"emails", "images"}
    now = store.now()
    for p in points:
        assert p.bucket % 60 == 0 and since - 60 < p.bucket <= now
    assert points == sorted(points, key=lambda p: (p.bucket, p.queue))
    # One bucket that holds everything.
    [emails, images] = store.finished_series(since, 10**10)
    assert (emails.queue, emails.bucket, emails.succeeded, emails.failed) == ("emails", 0, 3, 2)
    assert (images.queue, images.succeeded, images.failed) == ("images", 0, 2)


def test_finished_series_starts_at_since(store: Store) -> None:
    insert_one(store)
    [job] = claim(store)
    assert complete(store, job)
    assert store.finished_series(store.now() + 60, 60) == []
    assert _totals(store.finished_series(store.now() - 60, 60), "default") == (1, 0)
    for bad in (0, -60, float("nan")):
        with pytest.raises(ConfigurationError, match="bucket"):
            store.finished_series(0, bad)


def test_replayed_job_counts_its_death_no_more(store: Store) -> None:
    since = store.now() - 1
    job_id = _dead(store)
    assert _totals(store.finished_series(since, 60), "default") == (0, 1)
    store.retry_jobs(JobFilter(ids=(job_id,)), replay=Replay())
    assert _totals(store.finished_series(since, 60), "default") == (0, 0)


def test_the_series_cache_reads_each_ended_bucket_once(store: Store) -> None:
    # Jobs finish at times the test picks (the store's clock is passed in), in three buckets.
    base = (store.now() // 60) * 60 - 600
    asked: list[float] = []

    class Watched:
        """The store, noting where each finished_series read starts."""

        def finished_series(
            self, since: float, bucket: float, *, now: float | None = None
        ) -> list[SeriesPoint]:
            asked.append(since)
            return store.finished_series(since, bucket, now=now)

    def finish_at(at: float) -> None:
        insert_one(store, queue="emails")
        [job] = claim(store, queues=("emails",))
        assert complete(store, job, now=at)

    cache = SeriesCache()
    watched: Any = Watched()
    finish_at(base + 10)
    finish_at(base + 70)
    first = cache.series(watched, base, 60, now=base + 80)
    assert first == store.finished_series(base, 60, now=base + 80)
    assert [(p.bucket, p.succeeded) for p in first] == [(base, 1), (base + 60, 1)]
    finish_at(base + 75)  # in the bucket still open at the first read
    finish_at(base + 130)
    second = cache.series(watched, base, 60, now=base + 140)
    assert second == store.finished_series(base, 60, now=base + 140)
    assert asked == [base, base + 60]  # the ended bucket was not read again
    # A later window drops the buckets before it.
    third = cache.series(watched, base + 60, 60, now=base + 140)
    assert [(p.bucket, p.succeeded) for p in third] == [(base + 60, 2), (base + 120, 1)]


def _finish_at(store: Store, at: float, queue: str = "emails", *, dead: bool = False) -> int:
    job_id = insert_one(store, queue=queue)
    [job] = claim(store, queues=(queue,))
    kind = CompletionKind.DEAD if dead else CompletionKind.SUCCEEDED
    assert complete(store, job, kind, error=BOOM if dead else None, now=at)
    return job_id


def test_settled_buckets_are_rolled_up_and_keep_their_counts(store: Store) -> None:
    # Jobs finish at times the test picks; the reads pass a clock well after them, so the
    # buckets have settled (series_plans.SETTLE_SECONDS) and the first read rolls them up.
    base = (store.now() // 60) * 60 - 1200
    _finish_at(store, base + 10)
    _finish_at(store, base + 20, "images")
    dead = _finish_at(store, base + 70, dead=True)
    later = base + 1200
    first = store.finished_series(base, 60, now=later)
    assert [(p.bucket, p.queue, p.succeeded, p.failed) for p in first] == [
        (base, "emails", 1, 0), (base, "images", 1, 0), (base + 60, "emails", 0, 1),
    ]  # fmt: skip
    # A settled bucket keeps its counts: a late finish stamped inside it and a replay of its
    # dead job change the jobs, not the rolled bucket...
    _finish_at(store, base + 30)
    store.retry_jobs(JobFilter(ids=(dead,)), replay=Replay())
    assert store.finished_series(base, 60, now=later) == first
    # ...while a read off the bucket grid counts the jobs themselves.
    assert _totals(store.finished_series(base + 1, 60, now=later), "emails") == (2, 0)
    # Buckets still open, or ended too recently to be settled, are read from the jobs each time.
    _finish_at(store, later - 30, "reports")
    _finish_at(store, later - 30, "reports")
    fresh = store.finished_series(base, 60, now=later)
    assert fresh[:3] == first
    assert [(p.bucket, p.queue, p.succeeded) for p in fresh[3:]] == [
        ((later - 30) // 60 * 60, "reports", 2)
    ]


def test_rolled_buckets_join_fresh_ones_as_time_moves(store: Store) -> None:
    base = (store.now() // 60) * 60 - 3000
    for minute in range(0, 40, 3):  # a job every third minute, the rest of the minutes empty
        _finish_at(store, base + minute * 60 + 5)
    expected = [(base + m * 60, 1) for m in range(0, 40, 3)]
    for step in (600, 900, 1500, 2700, 2990):  # each read settles a few more buckets
        points = store.finished_series(base, 60, now=base + step)
        assert [(p.bucket, p.succeeded) for p in points] == expected
    # A window that starts later leaves the earlier buckets out, rolled or not.
    later = store.finished_series(base + 600, 60, now=base + 2990)
    assert [(p.bucket, p.succeeded) for p in later] == [e for e in expected if e[0] >= base + 600]


def test_dashboards_rolling_up_the_same_buckets_at_once_agree(store: Store) -> None:
    base = (store.now() // 3600) * 3600 - 4 * 3600
    for hour in range(4):
        _finish_at(store, base + hour * 3600 + 60)
    now = base + 4 * 3600 + 10

    def read(_: int) -> list[SeriesPoint]:
        return store.finished_series(base, 3600, now=now)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, range(8)))
    assert all(r == results[0] for r in results)
    assert [(p.bucket, p.succeeded) for p in results[0]] == [(base + h * 3600, 1) for h in range(4)]
