"""Conformance: a job's output stream (``ctx.emit``): appended while it runs under its token,
bounded, read in order, and deleted with the job."""

from __future__ import annotations

import json

import pytest
from store_helpers import claim_one, complete, insert_one

from conveyor.errors import OutputLimitError
from conveyor.store import Store
from conveyor.store.protocol import CompletionKind, ErrorInfo, JobFilter

LIMIT = 1000


def test_chunks_are_appended_in_order_and_read_after_a_point(store: Store) -> None:
    job_id = insert_one(store)
    job = claim_one(store)
    assert store.read_output(job_id) == []
    seqs = [store.append_output(job_id, job.token, job.attempt, json.dumps(text), LIMIT)
            for text in ("one", "two", "three")]
    assert seqs == [1, 2, 3]
    chunks = store.read_output(job_id)
    assert [json.loads(c.chunk_json) for c in chunks] == ["one", "two", "three"]
    assert {c.attempt for c in chunks} == {1}
    assert chunks[0].at <= chunks[-1].at
    assert [c.seq for c in store.read_output(job_id, after=1)] == [2, 3]
    assert [c.seq for c in store.read_output(job_id, after=1, limit=1)] == [2]
    assert store.read_output(job_id + 1000) == []


def test_only_the_running_attempt_writes(store: Store) -> None:
    job_id = insert_one(store, max_attempts=2)
    first = claim_one(store)
    assert store.append_output(job_id, first.token, 1, '"a"', LIMIT) == 1
    assert store.append_output(job_id, first.token + 1, 1, '"forged"', LIMIT) is None
    assert complete(store, first, CompletionKind.RETRY, error=ErrorInfo("E", "x"), now=None)
    # Between attempts, and with the old token, nothing is written.
    assert store.append_output(job_id, first.token, 1, '"late"', LIMIT) is None
    second = claim_one(store, now=store.now() + 120)
    assert store.append_output(job_id, second.token, 2, '"b"', LIMIT) == 2
    assert complete(store, second)
    assert store.append_output(job_id, second.token, 2, '"after"', LIMIT) is None
    # Output is kept after the job finishes, attempt by attempt.
    assert [(c.attempt, c.chunk_json) for c in store.read_output(job_id)] == [
        (1, '"a"'), (2, '"b"')]


def test_the_limit_refuses_what_does_not_fit_and_writes_nothing(store: Store) -> None:
    job_id = insert_one(store)
    job = claim_one(store)
    chunk = json.dumps("x" * 398)  # 400 bytes
    assert store.append_output(job_id, job.token, 1, chunk, LIMIT) == 1
    assert store.append_output(job_id, job.token, 1, chunk, LIMIT) == 2
    with pytest.raises(OutputLimitError, match=r"limit of 1,000 bytes \(800 stored already"):
        store.append_output(job_id, job.token, 1, chunk, LIMIT)
    with pytest.raises(OutputLimitError, match="emitting 2,002 bytes"):
        store.append_output(job_id, job.token, 1, json.dumps("y" * 2000), LIMIT)
    assert len(store.read_output(job_id)) == 2
    assert store.append_output(job_id, job.token, 1, '"ok"', LIMIT) == 3  # still fits


def test_output_goes_with_its_job(store: Store) -> None:
    job_id = insert_one(store, max_attempts=1)
    job = claim_one(store)
    store.append_output(job_id, job.token, 1, '"kept"', LIMIT)
    assert complete(store, job, CompletionKind.DEAD, error=ErrorInfo("E", "x"))
    assert store.discard_jobs(JobFilter(ids=(job_id,))) == 1
    assert store.read_output(job_id) == []
