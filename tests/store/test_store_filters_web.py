"""Conformance: the dashboard's job filters (tenant and text search) in every verb that filters."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from store_helpers import claim, complete, insert, insert_one, new_job

from conveyor.models import JobState
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter, Replay


def _ids(store: Store, flt: JobFilter) -> list[int]:
    return [j.id for j in store.list_jobs(flt)]


def _state(store: Store, job_id: int) -> JobState:
    job = store.get_job(job_id)
    assert job is not None
    return job.state


# -- tenant ------------------------------------------------------------------------------------


def test_tenant_is_an_exact_match_in_lists_and_counts(store: Store) -> None:
    acme, acme2, globex, nobody = insert(
        store,
        new_job(tenant="acme"),
        new_job(tenant="acme"),
        new_job(tenant="globex"),
        new_job(),
    )
    assert _ids(store, JobFilter(tenant="acme")) == [acme2, acme]
    assert store.count_jobs(JobFilter(tenant="acme")) == 2
    assert _ids(store, JobFilter(tenant="globex")) == [globex]
    # Exact: no prefix, no case folding, no wildcard.
    for other in ("acm", "ACME", "acme ", "%", "_cme"):
        assert _ids(store, JobFilter(tenant=other)) == []
    assert len(_ids(store, JobFilter())) == 4 and nobody in _ids(store, JobFilter())
    page = store.list_jobs(JobFilter(tenant="acme", limit=1, before_id=acme2))
    assert [j.id for j in page] == [acme]


def test_tenant_scopes_retry_cancel_and_discard(store: Store) -> None:
    acme = insert_one(store, tenant="acme")
    globex = insert_one(store, tenant="globex")
    assert store.cancel_jobs(JobFilter(tenant="acme")) == [acme]
    assert _state(store, globex) is JobState.QUEUED
    assert store.retry_jobs(JobFilter(tenant="acme")) == [acme]
    assert _state(store, acme) is JobState.QUEUED
    store.cancel_jobs(JobFilter())
    assert store.discard_jobs(JobFilter(tenant="globex")) == 1
    assert store.get_job(globex) is None and store.get_job(acme) is not None


# -- search ------------------------------------------------------------------------------------


def test_search_finds_a_substring_of_args_ignoring_case(store: Store) -> None:
    alice = insert_one(store, args={"email": "Alice@Example.COM"})
    bob = insert_one(store, args={"email": "bob@example.org"})
    insert_one(store, args={"email": "carol@elsewhere.net"})
    assert _ids(store, JobFilter(search="example")) == [bob, alice]
    assert _ids(store, JobFilter(search="ALICE@example.com")) == [alice]
    assert _ids(store, JobFilter(search="Bob@")) == [bob]
    assert store.count_jobs(JobFilter(search="EXAMPLE")) == 2
    assert _ids(store, JobFilter(search="dave")) == []


def test_search_takes_percent_underscore_and_backslash_literally(store: Store) -> None:
    percent = insert_one(store, args={"note": "100% sure"})
    insert_one(store, args={"note": "1000 sure"})
    underscore = insert_one(store, args={"note": "a_b"})
    insert_one(store, args={"note": "axb"})
    slash = insert_one(store, args={"path": "C:\\temp"})  # stored as "C:\\temp" in JSON
    assert _ids(store, JobFilter(search="0%")) == [percent]
    assert _ids(store, JobFilter(search="%")) == [percent]
    assert _ids(store, JobFilter(search="a_b")) == [underscore]
    assert _ids(store, JobFilter(search="_")) == [underscore]
    assert _ids(store, JobFilter(search="c:\\\\TEMP")) == [slash]
    assert _ids(store, JobFilter(search="\\")) == [slash]


def test_search_finds_the_last_error_message(store: Store) -> None:
    job_id = insert_one(store, args={"order": 7}, max_attempts=1)
    other = insert_one(store, args={"order": 8}, max_attempts=1)
    first, second = claim(store, limit=2)
    error = ErrorInfo("TimeoutError", "Vendor API timed out after 30s", None)
    by_id = {first.id: first, second.id: second}
    assert complete(store, by_id[job_id], CompletionKind.DEAD, error=error)
    assert complete(store, by_id[other])
    assert _ids(store, JobFilter(search="vendor api")) == [job_id]
    assert _ids(store, JobFilter(search="TIMED OUT", states=(JobState.DEAD,))) == [job_id]
    assert _ids(store, JobFilter(search="timed out", states=(JobState.SUCCEEDED,))) == []
    assert store.count_jobs(JobFilter(search="30S")) == 1


def _insert_as_enqueued(store: Store, args: object, **kwargs: Any) -> int:
    """Insert with args encoded as ``enqueue`` encodes them: compact, non-ASCII kept as is."""
    text = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
    return insert(store, replace(new_job(**kwargs), args_json=text))[0]


def test_search_folds_the_case_of_non_ascii_letters(store: Store) -> None:
    umlaut = _insert_as_enqueued(store, {"city": "Ärhus", "note": "äbc straße"})
    greek = _insert_as_enqueued(store, {"name": "ΣΟΦΙΑ"})
    insert_one(store, args={"city": "abc"})
    assert _ids(store, JobFilter(search="ÄBC")) == [umlaut]
    assert _ids(store, JobFilter(search="ärhus")) == [umlaut]
    assert _ids(store, JobFilter(search="STRASSE")) == []  # lower-casing, not full case folding
    assert _ids(store, JobFilter(search="σοφια")) == [greek]
    assert store.count_jobs(JobFilter(search="ÄRHUS")) == 1


def test_search_folds_non_ascii_letters_in_error_messages(store: Store) -> None:
    job_id = insert_one(store, max_attempts=1)
    [job] = claim(store)
    assert complete(
        store, job, CompletionKind.DEAD, error=ErrorInfo("E", "Überweisung fehlgeschlagen", None)
    )
    assert _ids(store, JobFilter(search="ÜBERWEISUNG")) == [job_id]
    assert _ids(store, JobFilter(search="überweisung")) == [job_id]


def test_search_reads_args_in_one_rendering_on_every_store(store: Store) -> None:
    """Keys shortest first, ", " and ": " between items, numbers without exponents."""
    mail = _insert_as_enqueued(store, {"recipient": "a@x.org", "to": "b@y.org", "n": [1, 2]})
    tiny = _insert_as_enqueued(store, {"ratio": 1e-07, "big": 15e15})
    assert _ids(store, JobFilter(search='"to": "b@')) == [mail]
    assert _ids(store, JobFilter(search='"to":"b@')) == []
    assert _ids(store, JobFilter(search="[1, 2]")) == [mail]
    assert _ids(store, JobFilter(search="[1,2]")) == []
    assert _ids(store, JobFilter(search='{"n": [1, 2], "to": "b@y.org", "recipient"')) == [mail]
    assert _ids(store, JobFilter(search='"ratio": 0.0000001')) == [tiny]
    assert _ids(store, JobFilter(search="15000000000000000")) == [tiny]
    assert _ids(store, JobFilter(search="e-07")) == []


def test_an_empty_search_does_not_filter(store: Store) -> None:
    ids = insert(store, new_job(), new_job())
    assert _ids(store, JobFilter(search="")) == ids[::-1]


def test_search_and_tenant_scope_bulk_actions(store: Store) -> None:
    hit = insert_one(store, args={"sku": "Widget-9"}, tenant="acme")
    wrong_tenant = insert_one(store, args={"sku": "widget-9"}, tenant="globex")
    no_hit = insert_one(store, args={"sku": "gadget"}, tenant="acme")
    flt = JobFilter(search="WIDGET", tenant="acme")
    assert store.cancel_jobs(flt) == [hit]
    assert [_state(store, j) for j in (wrong_tenant, no_hit)] == [JobState.QUEUED] * 2
    assert store.retry_jobs(flt) == [hit]
    store.cancel_jobs(JobFilter())
    assert store.discard_jobs(JobFilter(search="widget")) == 2
    assert store.get_job(no_hit) is not None
    assert store.get_job(hit) is None and store.get_job(wrong_tenant) is None


def test_search_and_tenant_scope_a_replay(store: Store) -> None:
    dead = []
    for tenant, sku in (("acme", "widget"), ("acme", "gadget"), ("globex", "widget")):
        job_id = insert_one(store, args={"sku": sku}, tenant=tenant, max_attempts=1)
        [job] = claim(store)
        assert complete(store, job, CompletionKind.DEAD, error=ErrorInfo("E", "m", None))
        dead.append(job_id)
    assert store.retry_jobs(JobFilter(tenant="acme", search="WIDG"), replay=Replay()) == [dead[0]]
    assert [_state(store, j) for j in dead] == [JobState.QUEUED, JobState.DEAD, JobState.DEAD]


# -- state filters (one state is an equality, several a set) -----------------------------------


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ((JobState.QUEUED,), ["queued"]),
        ((JobState.CANCELLED,), ["cancelled"]),
        ((JobState.QUEUED, JobState.CANCELLED), ["cancelled", "queued"]),
        ((), ["cancelled", "queued"]),
    ],
)
def test_one_or_several_states(
    store: Store, states: tuple[JobState, ...], expected: list[str]
) -> None:
    queued = insert_one(store)
    cancelled = insert_one(store)
    store.cancel_jobs(JobFilter(ids=(cancelled,)))
    by_state = {"queued": queued, "cancelled": cancelled}
    want = sorted((by_state[s] for s in expected), reverse=True)
    assert _ids(store, JobFilter(states=states)) == want
    assert store.count_jobs(JobFilter(states=states)) == len(want)
