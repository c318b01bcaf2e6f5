"""What plain jobs pay for pipelines on SQLite: not one statement (traced on a real file).

A worker's round (complete_and_claim), a batch completion and a ``ctx.transaction``
completion of plain jobs send no statement that touches a run table; a stage job's does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from run_helpers import QUEUE, claim_stage, done, stage, start

from conveyor.store.protocol import ClaimParams, Completion, CompletionKind, NewJob
from conveyor.store.sqlite.store import SQLiteStore


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "cost.db")
    yield store
    store.close()


def _traced(store: SQLiteStore) -> list[str]:
    sent: list[str] = []
    store.db.conn.set_trace_callback(sent.append)
    return sent


def _run_statements(sent: list[str]) -> list[str]:
    return [s for s in sent if "conveyor_stage" in s or "conveyor_runs" in s]


def _plain(store: SQLiteStore, n: int) -> list[Completion]:
    job = NewJob(queue=QUEUE, name="plain", args_json="{}", max_attempts=1)
    store.insert_jobs([job] * n)
    params = ClaimParams(
        worker_id="w1", queues=(QUEUE,), names=("plain",), limit=n, lease_seconds=30.0
    )
    return [Completion(j.id, j.token, CompletionKind.SUCCEEDED) for j in store.claim_jobs(params)]


def test_plain_completions_touch_no_run_table(sqlite_store: SQLiteStore) -> None:
    start(sqlite_store, stage("a"))  # the database has a run: still nothing for plain jobs
    batch = _plain(sqlite_store, 3)
    sent = _traced(sqlite_store)
    assert all(r.accepted for r in sqlite_store.complete_jobs(batch[:1]))
    params = ClaimParams(
        worker_id="w1", queues=(QUEUE,), names=("plain",), limit=1, lease_seconds=30.0
    )
    assert all(r.accepted for r in sqlite_store.complete_and_claim(batch[1:2], params).completed)
    tx = sqlite_store.begin()
    tx.connection.set_trace_callback(sent.append)
    assert tx.complete(batch[2])
    tx.commit()
    assert sent and _run_statements(sent) == []


def test_a_stage_jobs_completion_advances_in_the_round(sqlite_store: SQLiteStore) -> None:
    start(sqlite_store, stage("a"), stage("b", "a"))
    [job] = claim_stage(sqlite_store, "a")
    sent = _traced(sqlite_store)
    params = ClaimParams(
        worker_id="w1", queues=(QUEUE,), names=("p.b",), limit=1, lease_seconds=30.0
    )
    round_ = sqlite_store.complete_and_claim([done(job, 1)], params)
    assert [r.accepted for r in round_.completed] == [True]
    assert [c.name for c in round_.claimed] == ["p.b"]
    assert _run_statements(sent)


def test_ending_items_probes_the_jobs_by_id_not_every_finished_job(
    sqlite_store: SQLiteStore,
) -> None:
    """run_finish_items looks the batch's jobs up by id: driven by the (state, finished_at)
    index instead, it walked every finished job in the table per completion batch."""
    import sqlite3

    from conveyor.store.sqlite.connection import query

    # Finished plain jobs, then ANALYZE, so the planner sees a table of finished jobs too.
    store = sqlite_store
    store.complete_jobs(_plain(store, 200))
    start(store, stage("a"), stage("b", "a"))
    conn = sqlite3.connect(store.path)
    try:
        for analyzed in (False, True):
            if analyzed:
                conn.execute("ANALYZE")
            plan = " / ".join(
                row[3]
                for row in conn.execute(
                    "EXPLAIN QUERY PLAN " + query("run_finish_items"), {"ids": "[1, 2]"}
                )
            )
            assert "conveyor_jobs_finished" not in plan, plan
            assert "SEARCH j USING INTEGER PRIMARY KEY" in plan, plan
    finally:
        conn.close()
