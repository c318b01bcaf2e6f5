"""Conformance: sequences (``sequence=``): one job of a key at a time, in enqueue order.

A job of a sequence is inserted ``held`` unless its key is free; the write that ends the
key's head (a completion, a rescue to dead, a cancel, an expiry, a discard) releases the next
one in the same transaction, and a replayed job goes back to the head of its key.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg
from store_helpers import claim, new_job

from conveyor import Conveyor
from conveyor.models import JobState
from conveyor.monitor.rules import BlockedSequences
from conveyor.monitor.service import Monitor
from conveyor.store import Store
from conveyor.store.protocol import (
    ClaimedJob,
    Completion,
    CompletionKind,
    ErrorInfo,
    JobFilter,
    NewJob,
    Replay,
    Retention,
)
from conveyor.store.sqlite import SQLiteStore

BOOM = ErrorInfo("ValueError", "boom")


def seq_job(key: str, n: int = 0, *, blocks: bool = True, **kwargs: object) -> NewJob:
    """A job of sequence ``key`` (its meta carries the key, as the app writes it)."""
    job = new_job(args={"n": n}, meta={"sequence": key}, **kwargs)  # type: ignore[arg-type]
    return replace(job, sequence_key=key, sequence_blocks=blocks)


def insert(store: Store, *jobs: NewJob) -> list[int]:
    return [i.id for i in store.insert_jobs(list(jobs))]


def states(store: Store, ids: list[int]) -> list[JobState]:
    by_id = {j.id: j.state for j in store.get_jobs(ids)}
    return [by_id[i] for i in ids]


def finish(
    store: Store, job: ClaimedJob, kind: CompletionKind = CompletionKind.SUCCEEDED,
    **kwargs: object,
) -> None:
    """Complete an attempt as the worker does for a sequenced job (``in_sequence``)."""
    completion = Completion(job.id, job.token, kind, in_sequence=True, **kwargs)  # type: ignore[arg-type]
    [result] = store.complete_jobs([completion])
    assert result.accepted


def claim_ids(store: Store, **kwargs: object) -> list[int]:
    return sorted(j.id for j in claim(store, **kwargs))  # type: ignore[arg-type]


def test_later_jobs_of_a_key_are_held_and_other_keys_run(store: Store) -> None:
    a1, a2, b1, plain, a3 = insert(
        store, seq_job("a", 1), seq_job("a", 2), seq_job("b", 1), new_job(), seq_job("a", 3)
    )
    assert states(store, [a1, a2, b1, plain, a3]) == [
        JobState.QUEUED, JobState.HELD, JobState.QUEUED, JobState.QUEUED, JobState.HELD,
    ]
    # The insert answers with the state each job has once the batch is written.
    [answer] = store.insert_jobs([seq_job("c", 1)])
    assert answer.state is JobState.QUEUED
    [held] = store.insert_jobs([seq_job("c", 2)])
    assert held.state is JobState.HELD
    assert claim_ids(store) == sorted([a1, b1, plain, answer.id])


def test_each_end_of_the_head_releases_the_next_in_enqueue_order(store: Store) -> None:
    # Priority does not reorder a key: the later job's higher priority waits its turn.
    ids = insert(store, seq_job("k", 0), seq_job("k", 1, priority=9), seq_job("k", 2))
    order = []
    for _ in ids:
        [job] = claim(store)
        order.append(job.id)
        assert claim(store) == []  # one at a time
        finish(store, job)
    assert order == ids
    assert states(store, ids) == [JobState.SUCCEEDED] * 3


def test_a_retrying_or_snoozed_head_keeps_its_place(store: Store) -> None:
    first, second = insert(store, seq_job("k", 1), seq_job("k", 2))
    [job] = claim(store)
    finish(store, job, CompletionKind.RETRY, error=BOOM)
    assert states(store, [first, second]) == [JobState.RETRYING, JobState.HELD]
    [job] = claim(store)
    assert job.id == first
    finish(store, job, CompletionKind.SNOOZED, retry_delay=0.0)
    assert states(store, [first, second]) == [JobState.SCHEDULED, JobState.HELD]
    [job] = claim(store)
    assert job.id == first
    finish(store, job)
    assert [j.id for j in claim(store)] == [second]


def test_a_dead_head_blocks_its_key_until_replayed(store: Store) -> None:
    first, second, third = insert(store, seq_job("k", 1), seq_job("k", 2), seq_job("k", 3))
    [other] = insert(store, seq_job("other"))
    [job, job_other] = sorted(claim(store), key=lambda j: j.id)
    finish(store, job, CompletionKind.DEAD, error=BOOM)
    finish(store, job_other)  # another key is not held up
    assert states(store, [first, second, third]) == [JobState.DEAD, JobState.HELD, JobState.HELD]
    assert claim(store) == []
    # Prune leaves a blocking dead job alone, however old.
    store.prune(Retention(succeeded=0, dead=0, cancelled=0), now=store.now() + 10)
    assert states(store, [first]) == [JobState.DEAD]
    assert store.get_jobs([other]) == []  # the other key's finished job was pruned
    # Replay puts the dead job back at the head: it runs before the key's later jobs.
    assert store.retry_jobs(JobFilter(ids=(first,))) == [first]
    assert states(store, [first, second, third]) == [
        JobState.QUEUED, JobState.HELD, JobState.HELD,
    ]
    [job] = claim(store)
    assert job.id == first
    finish(store, job)
    assert [j.id for j in claim(store)] == [second]


def test_a_dlq_replay_also_puts_the_dead_job_back_at_the_head(store: Store) -> None:
    first, second = insert(store, seq_job("k", 1), seq_job("k", 2))
    [job] = claim(store)
    finish(store, job, CompletionKind.DEAD, error=BOOM)
    assert store.retry_jobs(JobFilter(ids=(first,)), replay=Replay()) == [first]
    assert states(store, [first, second]) == [JobState.QUEUED, JobState.HELD]


def test_discarding_the_blocking_dead_job_lets_the_key_continue(store: Store) -> None:
    first, second = insert(store, seq_job("k", 1), seq_job("k", 2))
    [job] = claim(store)
    finish(store, job, CompletionKind.DEAD, error=BOOM)
    assert store.discard_jobs(JobFilter(ids=(first,))) == 1
    assert states(store, [second]) == [JobState.QUEUED]


def test_on_dead_continue_releases_the_next_job(store: Store) -> None:
    first, second = insert(store, seq_job("k", 1, blocks=False), seq_job("k", 2, blocks=False))
    [job] = claim(store)
    finish(store, job, CompletionKind.DEAD, error=BOOM)
    assert states(store, [first, second]) == [JobState.DEAD, JobState.QUEUED]
    # A replay of the dead one now waits behind the running head of its key.
    [head] = claim(store)
    assert store.retry_jobs(JobFilter(ids=(first,))) == [first]
    assert states(store, [first]) == [JobState.HELD]
    finish(store, head)
    assert [j.id for j in claim(store)] == [first]


def test_cancelling_the_head_releases_and_a_middle_job_is_just_removed(store: Store) -> None:
    ids = insert(store, *(seq_job("k", n) for n in range(4)))
    store.cancel_jobs(JobFilter(ids=(ids[2],)))  # a waiting job in the middle
    assert states(store, ids) == [
        JobState.QUEUED, JobState.HELD, JobState.CANCELLED, JobState.HELD,
    ]
    [job] = claim(store)
    store.cancel_jobs(JobFilter(ids=(job.id,)))  # the running head
    assert states(store, ids)[1] is JobState.QUEUED
    [job] = claim(store)
    finish(store, job)
    assert [j.id for j in claim(store)] == [ids[3]]


def test_an_expired_head_releases_the_next(store: Store) -> None:
    t = store.now()
    first, second = insert(store, replace(seq_job("k", 1), expires_in=60), seq_job("k", 2))
    assert store.cancel_expired(now=t + 61) == [first]
    assert states(store, [first, second]) == [JobState.CANCELLED, JobState.QUEUED]


def test_a_head_rescued_to_dead_blocks_and_one_with_attempts_left_keeps_its_place(
    store: Store,
) -> None:
    t = store.now()
    first, second = insert(store, replace(seq_job("k", 1), max_attempts=2), seq_job("k", 2))
    assert [j.id for j in claim(store, lease=1.0)] == [first]
    assert store.rescue_expired(now=t + 5) == [first]
    assert states(store, [first, second]) == [JobState.RETRYING, JobState.HELD]
    assert [j.id for j in claim(store, lease=1.0, now=t + 6)] == [first]
    assert store.rescue_expired(now=t + 20) == [first]
    assert states(store, [first, second]) == [JobState.DEAD, JobState.HELD]
    # Under on_dead="continue" the job rescued to dead lets the next one go.
    c1, c2 = insert(
        store,
        replace(seq_job("c", 1, blocks=False), max_attempts=1),
        seq_job("c", 2, blocks=False),
    )
    assert [j.id for j in claim(store, lease=1.0, now=t + 21)] == [c1]
    assert store.rescue_expired(now=t + 40) == [c1]
    assert states(store, [c1, c2]) == [JobState.DEAD, JobState.QUEUED]


def test_enqueues_racing_the_end_of_the_head_never_strand_a_job(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    """Producers on their own connections enqueue one key while a consumer completes its
    heads: every job runs, one at a time, in id order, and none is left held."""
    per_producer = 40
    producers = 3
    errors: list[BaseException] = []

    def produce(n: int) -> None:
        s = open_store_on()
        try:
            for i in range(per_producer):
                s.insert_jobs([seq_job("race", n * 1000 + i)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(producers)]
    for t in threads:
        t.start()
    ran: list[int] = []
    consumer = open_store_on()
    while len(ran) < per_producer * producers:
        claimed = claim(consumer)
        assert len(claimed) <= 1, "two jobs of one key ran at once"
        for job in claimed:
            ran.append(job.id)
            finish(consumer, job)
        if not claimed and not any(t.is_alive() for t in threads):
            # Every producer is done and nothing is claimable: nothing may be left held.
            left = store.list_jobs(JobFilter(states=(JobState.HELD,)))
            assert not left, f"jobs stranded held: {[j.id for j in left]}"
            assert not errors, errors
    for t in threads:
        t.join()
    assert not errors
    assert ran == sorted(ran)
    assert len(set(ran)) == per_producer * producers


def test_one_batch_of_one_key_keeps_its_order(store: Store) -> None:
    ids = insert(store, *(seq_job("b", n) for n in range(5)))
    assert states(store, ids) == [JobState.QUEUED] + [JobState.HELD] * 4
    got = []
    for _ in ids:
        [job] = claim(store)
        got.append(json.loads(job.args_json)["n"])
        finish(store, job)
    assert got == list(range(5))


def test_the_blocked_sequences_rule_opens_and_resolves_an_incident(store_url: str) -> None:
    app = Conveyor(store_url)
    try:
        store = app.store
        first, second = insert(store, seq_job("acct:7", 1), seq_job("acct:7", 2))
        [job] = claim(store)
        finish(store, job, CompletionKind.DEAD, error=BOOM)
        # A dead job without a sequence, and one whose key has nothing behind it, never fire.
        [lone] = insert(store, seq_job("acct:8", 1))
        [lone_job] = claim(store)
        finish(store, lone_job, CompletionKind.DEAD, error=BOOM)
        app.configure_monitor(rules=[BlockedSequences()], reminder=None)
        monitor = Monitor(app, store=store)
        monitor.tick()
        [incident] = store.firing_incidents()
        assert (incident.rule, incident.subject) == ("sequence_blocked", "acct:7")
        assert f"job {first} ({job.name}) is dead (ValueError: boom)" in incident.summary
        assert "1 job wait" in incident.summary
        assert json.loads(incident.details_json)["waiting"] == 1
        # Replaying the dead job moves the key again: the incident resolves.
        store.retry_jobs(JobFilter(ids=(first,)))
        monitor.tick()
        assert store.firing_incidents() == []
        assert states(store, [second, lone]) == [JobState.HELD, JobState.DEAD]
    finally:
        app.close()


def _raw_connection(store: Store) -> Any:
    """The application's own connection to the store's database, in a transaction."""
    if isinstance(store, SQLiteStore):
        return sqlite3.connect(store.path, isolation_level="")
    return psycopg.connect(store.url)  # type: ignore[attr-defined]


def test_an_enqueue_in_the_callers_transaction_takes_its_place_or_none(store: Store) -> None:
    [head] = insert(store, seq_job("tx", 0))
    conn = _raw_connection(store)
    try:
        [lost] = store.insert_jobs_in(conn, [seq_job("tx", 1)])
        assert lost.state is JobState.HELD
        conn.rollback()
        [kept] = store.insert_jobs_in(conn, [seq_job("tx", 2)])
        conn.commit()
    finally:
        conn.close()
    assert states(store, [head, kept.id]) == [JobState.QUEUED, JobState.HELD]
    [job] = claim(store)
    finish(store, job)
    # The rolled-back job never held a place: the committed one is next.
    assert [j.id for j in claim(store)] == [kept.id]
