"""Conformance: completion webhooks (``notify_url=``): finding finished jobs to notify and the
delivery rows' claims, outcomes, listing and pruning, on both stores."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable

import psycopg
from store_helpers import (
    claim_one,
    complete,
    insert_one,
    wait_until,
)

from conveyor._outbox import DeliveryKind, DeliveryRow, DeliveryState, NewDelivery
from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.postgres import PostgresStore
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter, Retention
from conveyor.store.sqlite import SQLiteStore

URL = "http://127.0.0.1:9/hook"


def finished_job(
    store: Store,
    kind: CompletionKind = CompletionKind.SUCCEEDED,
    *,
    url: str | None = URL,
    result: object = None,
) -> int:
    """Insert a job (with ``notify_url`` unless None), run it and finish it as ``kind``."""
    meta = {} if url is None else {"notify_url": url}
    job_id = insert_one(store, meta=meta)
    claimed = claim_one(store)
    assert claimed.id == job_id
    dead = kind is CompletionKind.DEAD
    error = ErrorInfo("ValueError", "boom", "Traceback ...") if dead else None
    assert complete(store, claimed, kind, result=result, error=error)
    return job_id


OWNER = "conformance-deliverer"


def new_webhook(job_id: int, url: str, body: str, finished_at: float) -> NewDelivery:
    """A webhook delivery to add, as the deliverer adds it."""
    return NewDelivery(DeliveryKind.WEBHOOK, job_id, "finished", url, body, finished_at)


def enroll(store: Store, since: float = 0.0) -> list[int]:
    """Add a delivery for every job to notify (as the deliverer does); their ids."""
    jobs = store.jobs_to_notify(since)
    store.add_deliveries(
        [
            new_webhook(j.id, str(j.meta["notify_url"]), json.dumps({"job_id": j.id}),
                        j.finished_at or 0.0)
            for j in jobs
        ]
    )
    return [j.id for j in jobs]


def get_webhook(store: Store, job_id: int) -> DeliveryRow | None:
    """A job's webhook delivery, or None."""
    found = store.list_deliveries(kind=DeliveryKind.WEBHOOK, subject=job_id, limit=1)
    return found[0] if found else None


def webhook(store: Store, job_id: int) -> DeliveryRow:
    row = get_webhook(store, job_id)
    assert row is not None
    return row


def claim(
    store: Store, limit: int, lease: float, now: float | None = None
) -> list[DeliveryRow]:
    """Claim due webhook deliveries as this test's deliverer."""
    return store.claim_deliveries(OWNER, limit, lease, kinds=[DeliveryKind.WEBHOOK], now=now)


def record(
    store: Store, job_id: int, attempts: int, *, error: str | None, retry_in: float | None
) -> bool:
    """Record an attempt on a job's delivery as this test's deliverer."""
    row = get_webhook(store, job_id)
    if row is None:
        return False
    return store.record_delivery(row.id, OWNER, attempts, error=error, retry_in=retry_in)


def failing_rows(store: Store, limit: int = 100) -> list[DeliveryRow]:
    """Webhook deliveries that failed and are not delivered, newest first."""
    return store.list_deliveries(kind=DeliveryKind.WEBHOOK, failing=True, limit=limit)


# -- finding finished jobs --------------------------------------------------------------------


def test_only_finished_jobs_with_a_notify_url_are_found(store: Store) -> None:
    succeeded = finished_job(store, result={"rows": 3})
    dead = finished_job(store, CompletionKind.DEAD)
    finished_job(store, url=None)  # finished, but asked for nothing
    waiting = insert_one(store, meta={"notify_url": URL}, delay=3600)
    cancelled = insert_one(store, meta={"notify_url": URL})
    assert store.cancel_jobs(JobFilter(ids=(cancelled,))) == [cancelled]

    found = store.jobs_to_notify(0.0)
    assert [j.id for j in found] == [succeeded, dead, cancelled]  # oldest finish first
    assert waiting not in [j.id for j in found]
    by_id = {j.id: j for j in found}
    assert by_id[succeeded].state is JobState.SUCCEEDED
    assert by_id[succeeded].result == {"rows": 3}
    assert by_id[dead].error_type == "ValueError"
    assert by_id[cancelled].state is JobState.CANCELLED
    assert by_id[dead].meta == {"notify_url": URL}


def test_since_and_limit_bound_the_search(store: Store) -> None:
    first = finished_job(store)
    second = finished_job(store)
    assert [j.id for j in store.jobs_to_notify(0.0, limit=1)] == [first]
    later = store.jobs_to_notify(0.0)[1].finished_at
    assert later is not None
    assert [j.id for j in store.jobs_to_notify(later)] == [second]
    assert store.jobs_to_notify(store.now() + 60) == []


def test_a_job_with_a_delivery_is_not_found_again(store: Store) -> None:
    job_id = finished_job(store)
    assert enroll(store) == [job_id]
    assert store.jobs_to_notify(0.0) == []
    row = webhook(store, job_id)
    assert row.state is DeliveryState.PENDING
    assert row.attempts == 0 and row.last_error is None and row.delivered_at is None
    assert row.destination == URL and json.loads(row.payload_json) == {"job_id": job_id}
    assert abs(row.next_try_at - store.now()) < 5
    assert abs(row.created_at - store.now()) < 5


def test_adding_the_same_finish_twice_writes_it_once(store: Store) -> None:
    job_id = finished_job(store)
    (job,) = store.jobs_to_notify(0.0)
    assert job.finished_at is not None
    row = new_webhook(job_id, URL, "{}", job.finished_at)
    assert store.add_deliveries([row]) == 1
    assert store.add_deliveries([row]) == 0
    assert store.add_deliveries([]) == 0


def test_a_job_that_finishes_again_is_found_again_and_its_delivery_replaced(
    store: Store,
) -> None:
    job_id = finished_job(store, CompletionKind.DEAD)
    enroll(store)
    (claimed,) = claim(store, 1, 30)
    assert record(store, job_id, 0, error="HTTP 500", retry_in=None)
    assert webhook(store, job_id).state is DeliveryState.FAILED

    assert store.retry_jobs(JobFilter(ids=(job_id,))) == [job_id]
    assert store.jobs_to_notify(0.0) == []  # running again: not finished
    again = claim_one(store)
    wait_until(lambda: store.now() > claimed.event_at + 0.001)
    assert complete(store, again, CompletionKind.SUCCEEDED, result=1)

    assert enroll(store) == [job_id]
    row = webhook(store, job_id)
    assert row.state is DeliveryState.PENDING
    assert row.attempts == 0 and row.last_error is None
    assert row.event_at > claimed.event_at
    # A late report about the old finish changes nothing.
    assert not record(store, job_id, 0, error=None, retry_in=None)
    assert webhook(store, job_id).state is DeliveryState.PENDING


# -- claims -----------------------------------------------------------------------------------


def test_a_claim_leases_due_rows_oldest_first(store: Store) -> None:
    ids = [finished_job(store) for _ in range(3)]
    enroll(store)
    claimed = claim(store, 2, 30)
    assert [r.subject for r in claimed] == ids[:2]
    assert all(r.lease_until is not None and r.lease_until > store.now() + 20 for r in claimed)
    # Leased rows are not due: only the third one is left.
    assert [r.subject for r in claim(store, 10, 30)] == ids[2:]
    assert claim(store, 10, 30) == []


def test_an_expired_lease_makes_the_row_claimable_again(store: Store) -> None:
    job_id = finished_job(store)
    enroll(store)
    (first,) = claim(store, 1, 0.2)
    assert claim(store, 1, 0.2) == []
    assert first.lease_until is not None
    # Moving the claim's clock past the lease's end stands for the time going by.
    (second,) = claim(store, 1, 30, now=first.lease_until + 0.01)
    assert second.subject == job_id and second.attempts == 0


def test_delivered_and_failed_rows_are_never_claimed(store: Store) -> None:
    delivered = finished_job(store)
    failed = finished_job(store)
    enroll(store)
    for row in claim(store, 10, 0.1):
        error = None if row.subject == delivered else "refused"
        assert record(store, row.subject, 0, error=error, retry_in=None)
    wait_until(lambda: store.now() > webhook(store, failed).next_try_at + 0.05)
    assert claim(store, 10, 30) == []


def test_concurrent_claimers_never_get_the_same_row(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    ids = [finished_job(store) for _ in range(40)]
    enroll(store)
    stores = [open_store_on() for _ in range(4)]
    got: list[list[int]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def claimer(index: int) -> None:
        start.wait(timeout=30)
        while True:
            claimed = claim(stores[index], 3, 60)
            if not claimed:
                return
            got[index].extend(r.subject for r in claimed)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [job_id for part in got for job_id in part]
    assert sorted(everything) == ids  # each row exactly once


# -- outcomes ---------------------------------------------------------------------------------


def test_a_delivery_is_recorded_once(store: Store) -> None:
    job_id = finished_job(store)
    enroll(store)
    assert claim(store, 1, 30)
    assert record(store, job_id, 0, error=None, retry_in=None)
    done = webhook(store, job_id)
    assert done.state is DeliveryState.DELIVERED
    assert done.attempts == 1 and done.delivered_at is not None
    assert abs(done.delivered_at - store.now()) < 5
    # The same report again (another notifier, or a repeat) changes nothing.
    assert not record(store, job_id, 0, error=None, retry_in=None)
    assert not record(store, job_id, 1, error="x", retry_in=None)
    assert webhook(store, job_id) == done


def test_a_failure_is_retried_later_and_stays_visible(store: Store) -> None:
    job_id = finished_job(store)
    other = finished_job(store)
    enroll(store)
    assert any(r.subject == job_id for r in claim(store, 10, 30))
    before = store.now()
    assert record(store, job_id, 0, error="HTTP 503", retry_in=120)
    failing = webhook(store, job_id)
    assert failing.state is DeliveryState.PENDING
    assert failing.attempts == 1 and failing.last_error == "HTTP 503"
    assert before + 110 < failing.next_try_at < store.now() + 130
    assert [r.subject for r in failing_rows(store)] == [job_id]
    assert other not in [r.subject for r in failing_rows(store)]

    # Due again soon: the retry succeeds, and the row leaves the failing list. (A record
    # releases the claim: the second attempt is claimed when due, on a clock moved there.)
    assert any(
        r.subject == job_id for r in claim(store, 10, 30, now=failing.next_try_at + 1)
    )
    assert record(store, job_id, 1, error="timeout", retry_in=0.05)
    wait_until(lambda: store.now() > webhook(store, job_id).next_try_at)
    (again,) = claim(store, 1, 30)
    assert again.subject == job_id and again.attempts == 2 and again.last_error == "timeout"
    assert record(store, job_id, 2, error=None, retry_in=None)
    assert webhook(store, job_id).state is DeliveryState.DELIVERED
    assert failing_rows(store) == []


def test_giving_up_keeps_the_error(store: Store) -> None:
    first = finished_job(store)
    second = finished_job(store)
    enroll(store)
    for row in claim(store, 10, 30):
        assert record(
            store, row.subject, 0, error=f"refused {row.subject}", retry_in=None
        )
    gone = webhook(store, first)
    assert gone.state is DeliveryState.FAILED and gone.last_error == f"refused {first}"
    assert gone.attempts == 1 and gone.delivered_at is None
    assert [r.subject for r in failing_rows(store)] == [second, first]  # newest job first
    assert [r.subject for r in failing_rows(store, limit=1)] == [second]


def test_unknown_jobs_have_no_delivery(store: Store) -> None:
    assert get_webhook(store, 12345) is None
    assert not record(store, 12345, 0, error=None, retry_in=None)


# -- pruning ----------------------------------------------------------------------------------


def test_prune_removes_finished_deliveries_of_jobs_that_are_gone(store: Store) -> None:
    kept = finished_job(store)  # delivered, job still there
    gone = finished_job(store)  # delivered, job discarded
    pending = finished_job(store)  # job discarded, but not delivered yet
    enroll(store)
    for row in claim(store, 10, 30):
        if row.subject != pending:
            assert record(store, row.subject, 0, error=None, retry_in=None)
    assert store.discard_jobs(JobFilter(ids=(gone, pending))) == 2

    assert store.prune(Retention()) == 1
    assert get_webhook(store, gone) is None
    assert get_webhook(store, kept) is not None
    assert get_webhook(store, pending) is not None
    assert store.prune(Retention()) == 0


# -- the index --------------------------------------------------------------------------------


def test_the_search_reads_the_partial_index(store: Store) -> None:
    """Jobs without a notify_url must cost the notifier nothing: its query uses the index."""
    if isinstance(store, SQLiteStore):
        from conveyor.store.sqlite.connection import query

        conn = sqlite3.connect(store.path)
        try:
            plan = conn.execute(
                "EXPLAIN QUERY PLAN " + query("webhook_jobs_to_notify"),
                {"since": 0.0, "limit": 10},
            ).fetchall()
        finally:
            conn.close()
        text = " ".join(str(row[-1]) for row in plan)
        assert "conveyor_jobs_notify" in text, text
        return
    assert isinstance(store, PostgresStore)
    from conveyor.store.postgres.sql import query as pg_query

    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # tiny tables: show the index is usable
        sql = "EXPLAIN " + pg_query("webhook_jobs_to_notify", store.schema)
        plan = conn.execute(sql, {"since": 0.0, "limit": 10}).fetchall()  # type: ignore[arg-type]
    text = "\n".join(str(row[0]) for row in plan)
    assert "conveyor_jobs_notify" in text, text
