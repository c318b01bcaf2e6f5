"""Conformance: pipeline runs start, hand off between stages, fan in, fail and finish."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import psycopg
import pytest
from run_helpers import (
    BOOM,
    args_of,
    claim_stage,
    detail,
    done,
    finish,
    jobs_of,
    run_one,
    stage,
    stage_of,
    start,
)

from conveyor.errors import ConfigurationError
from conveyor.models import JobState, RunState, StageState
from conveyor.store import Store, open_async_store
from conveyor.store.contract.run_records import NewRun, ParentOutput, RunFilter
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.copy_rows import COPY_MIN_BATCH
from conveyor.store.protocol import ClaimParams, CompletionKind, JobFilter, NewJob
from conveyor.store.run_graph import INLINE_INPUT_MAX
from conveyor.store.sqlite import SQLiteStore

CHAIN = (stage("a"), stage("b", "a"), stage("c", "b"))


def test_start_run_inserts_the_run_its_stages_and_the_first_job(store: Store) -> None:
    run_id = start(store, *CHAIN, input={"doc": 7})
    run = detail(store, run_id)
    assert run.state is RunState.RUNNING
    assert json.loads(run.input_json) == {"doc": 7}
    assert [(s.stage, s.state, s.pending_parents) for s in run.stages] == [
        ("a", StageState.ACTIVE, 0),
        ("b", StageState.WAITING, 1),
        ("c", StageState.WAITING, 1),
    ]
    assert jobs_of(store, "b") == jobs_of(store, "c") == []
    [job_id] = jobs_of(store, "a")
    a = stage_of(store, run_id, "a")
    assert a.job_ids == (job_id,)
    # The first stage's job carries the run's input (``given``): no read when it starts.
    assert args_of(store, job_id) == {
        "run_id": run_id, "stage_run_id": a.id, "item": 0, "given": {"run_input": {"doc": 7}}
    }
    first = store.stage_input(a.id, 0)
    assert first is not None
    assert (first.run_id, first.stage, first.parents) == (run_id, "a", ())
    assert json.loads(first.run_input_json) == {"doc": 7}


def test_run_ids_are_never_reused_and_runs_list_newest_first(store: Store) -> None:
    first = start(store, stage("a"))
    second = start(store, stage("a"))
    assert second > first
    assert [r.id for r in store.list_runs(RunFilter())] == [second, first]
    assert [r.id for r in store.list_runs(RunFilter(before_id=second))] == [first]
    assert store.list_runs(RunFilter(pipeline="other")) == []
    [summary] = store.list_runs(RunFilter(limit=1))
    assert (summary.stages_total, summary.stages_done) == (1, 0)
    assert [r.id for r in store.list_runs(RunFilter(limit=1, offset=1))] == [first]
    assert store.cancel_run(first)
    assert [r.id for r in store.list_runs(RunFilter(states=(RunState.CANCELLED,)))] == [first]
    assert [r.id for r in store.list_runs(RunFilter(states=(RunState.RUNNING,)))] == [second]
    tenant = start(store, stage("a"), tenant="acme")
    assert [r.id for r in store.list_runs(RunFilter(tenant="acme"))] == [tenant]
    assert detail(store, tenant).tenant == "acme"


def test_a_bad_graph_is_refused_naming_the_problem(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="unknown stage 'x'"):
        start(store, stage("a", "x"))
    with pytest.raises(ConfigurationError, match="cycle"):
        start(store, stage("a", "b"), stage("b", "a"))
    with pytest.raises(ConfigurationError, match="exactly one"):
        start(store, stage("a"), stage("b"), stage("e", "a", "b", fan_out=True))
    with pytest.raises(ConfigurationError, match="two stages named 'a'"):
        start(store, stage("a"), stage("a"))
    with pytest.raises(ConfigurationError, match="no stage"):
        store.start_run(NewRun(pipeline="p", input_json="{}", stages=()))
    assert store.list_runs(RunFilter()) == []


def test_completing_a_stage_enqueues_its_child_exactly_once(store: Store) -> None:
    run_id = start(store, *CHAIN)
    [job] = claim_stage(store, "a")
    assert finish(store, job, {"rows": 3})
    assert not finish(store, job, {"rows": 3})  # a repeat is refused and advances nothing
    assert len(jobs_of(store, "b", JobState.QUEUED)) == 1
    assert stage_of(store, run_id, "a").state is StageState.SUCCEEDED
    assert stage_of(store, run_id, "a").output_json == json.dumps({"rows": 3})
    b = stage_of(store, run_id, "b")
    assert b.state is StageState.ACTIVE
    got = store.stage_input(b.id, 0)
    assert got is not None
    assert got.parents == (ParentOutput("a", json.dumps({"rows": 3})),)
    run_one(store, "b", [1, 2])
    run_one(store, "c", {"done": True})
    run = detail(store, run_id)
    assert run.state is RunState.SUCCEEDED
    assert json.loads(run.result_json or "") == {"done": True}
    assert run.finished_at is not None
    assert len(jobs_of(store, "b")) == len(jobs_of(store, "c")) == 1


def test_a_hand_off_copies_small_inputs_into_the_next_job(store: Store) -> None:
    """The transaction that finishes a plain stage gives its child's job the output as
    ``given``; an output over INLINE_INPUT_MAX, or one from an earlier transaction (a parent
    that finished before the other), is left for the job to read (no ``given``)."""
    run_id = start(store, *CHAIN)
    run_one(store, "a", {"rows": 3})
    [b_job] = jobs_of(store, "b")
    b = stage_of(store, run_id, "b")
    assert args_of(store, b_job) == {
        "run_id": run_id, "stage_run_id": b.id, "item": 0,
        "given": {"parents": [["a", {"rows": 3}]]},
    }
    run_one(store, "b", "x" * INLINE_INPUT_MAX)
    [c_job] = jobs_of(store, "c")
    assert "given" not in args_of(store, c_job)
    got = store.stage_input(stage_of(store, run_id, "c").id, 0)
    assert got is not None and json.loads(got.parents[0].output_json) == "x" * INLINE_INPUT_MAX

    joined = start(store, stage("x"), stage("y"), stage("j", "x", "y"))
    run_one(store, "x", "X")
    run_one(store, "y", "Y")
    [j_job] = jobs_of(store, "j")
    assert "given" not in args_of(store, j_job)  # x's output is from an earlier transaction
    assert stage_of(store, joined, "j").state is StageState.ACTIVE


def test_fan_in_over_three_parents_fires_once(store: Store) -> None:
    run_id = start(store, stage("x"), stage("y"), stage("z"), stage("j", "x", "y", "z"))
    assert stage_of(store, run_id, "j").pending_parents == 3
    run_one(store, "y", "Y")
    run_one(store, "x", "X")
    assert jobs_of(store, "j") == []
    assert stage_of(store, run_id, "j").pending_parents == 1
    run_one(store, "z", "Z")
    assert len(jobs_of(store, "j")) == 1
    got = store.stage_input(stage_of(store, run_id, "j").id, 0)
    assert got is not None
    assert [(p.stage, json.loads(p.output_json)) for p in got.parents] == [
        ("x", "X"), ("y", "Y"), ("z", "Z"),
    ]


def test_several_sinks_make_an_object_result(store: Store) -> None:
    run_id = start(store, stage("a"), stage("l", "a"), stage("r", "a"))
    run_one(store, "a", 1)
    run_one(store, "r", "right")
    assert detail(store, run_id).state is RunState.RUNNING
    run_one(store, "l", None)
    run = detail(store, run_id)
    assert run.state is RunState.SUCCEEDED
    assert json.loads(run.result_json or "") == {"l": None, "r": "right"}


def test_a_retry_scheduled_completion_advances_nothing(store: Store) -> None:
    run_id = start(store, stage("a", attempts=3), stage("b", "a"))
    [job] = claim_stage(store, "a")
    assert finish(store, job, kind=CompletionKind.RETRY, error=BOOM)
    assert stage_of(store, run_id, "a").state is StageState.ACTIVE
    assert detail(store, run_id).state is RunState.RUNNING
    assert jobs_of(store, "b") == []


def test_a_dead_stage_fails_the_run_and_cancels_its_other_jobs(store: Store) -> None:
    run_id = start(store, stage("a"), stage("side"), stage("b", "a"))
    [job] = claim_stage(store, "a")
    assert finish(store, job, kind=CompletionKind.DEAD, error=BOOM)
    run = detail(store, run_id)
    assert run.state is RunState.FAILED
    assert run.error is not None and "'a'" in run.error and "boom" in run.error
    states = {s.stage: s.state for s in run.stages}
    assert states == {
        "a": StageState.FAILED, "side": StageState.CANCELLED, "b": StageState.CANCELLED,
    }
    assert jobs_of(store, "side", JobState.CANCELLED) == jobs_of(store, "side")
    assert jobs_of(store, "b") == []


def test_complete_and_claim_advances_and_can_claim_the_child(store: Store) -> None:
    run_id = start(store, *CHAIN)
    [job] = claim_stage(store, "a")
    params = ClaimParams("w1", ("runs",), ("p.b",), 5, 30.0)
    round_ = store.complete_and_claim([done(job, {"n": 1})], params)
    assert [r.accepted for r in round_.completed] == [True]
    assert [c.id for c in round_.claimed] == jobs_of(store, "b")
    assert stage_of(store, run_id, "a").state is StageState.SUCCEEDED


def test_a_handler_transaction_completion_advances_on_commit(store: Store) -> None:
    run_id = start(store, *CHAIN)
    [job] = claim_stage(store, "a")
    tx = store.begin()
    assert tx.complete(done(job, 5))
    tx.commit()
    assert len(jobs_of(store, "b")) == 1
    [job] = claim_stage(store, "b")
    tx = store.begin()
    assert tx.complete(done(job, 6))
    tx.rollback()  # nothing happened: the job still runs and c is not there
    assert jobs_of(store, "c") == []
    assert stage_of(store, run_id, "b").state is StageState.ACTIVE


def test_cancelling_a_stage_job_cancels_its_run(store: Store) -> None:
    run_id = start(store, *CHAIN)
    [job_id] = jobs_of(store, "a")
    assert store.cancel_jobs(JobFilter(ids=(job_id,))) == [job_id]
    run = detail(store, run_id)
    assert run.state is RunState.CANCELLED
    assert stage_of(store, run_id, "a").state is StageState.CANCELLED


def test_a_lost_stage_job_without_attempts_left_fails_its_run(store: Store) -> None:
    run_id = start(store, *CHAIN)
    [job] = claim_stage(store, "a")
    assert store.rescue_expired(now=job.lease_until + 1) == [job.id]
    run = detail(store, run_id)
    assert run.state is RunState.FAILED
    assert run.error is not None and "WorkerLost" in run.error


def test_plain_jobs_are_untouched_by_runs(store: Store) -> None:
    # A job that belongs to no run.
    plain = NewJob(queue="runs", name="send", args_json="{}", max_attempts=1)
    [inserted] = store.insert_jobs([plain])
    [job] = store.claim_jobs(ClaimParams("w1", ("runs",), ("send",), 1, 30.0))
    [outcome] = store.complete_jobs([done(job)])  # in_run set by mistake: nothing to advance
    assert outcome.accepted
    assert store.list_runs(RunFilter()) == []
    assert inserted.id == job.id


def test_async_twins_start_read_and_cancel(store: Store) -> None:
    async def scenario() -> tuple[int, RunState, bool]:
        astore = open_async_store(store)
        try:
            run_id = await astore.start_run(
                NewRun(pipeline="p", input_json="1", stages=CHAIN)
            )
            got = await astore.get_run(run_id)
            assert got is not None
            cancelled = await astore.cancel_run(run_id, by="tester")
            listed = await astore.list_runs(RunFilter())
            return run_id, listed[0].state, cancelled
        finally:
            await astore.release()

    run_id, state, cancelled = asyncio.run(scenario())
    assert cancelled and state is RunState.CANCELLED
    assert detail(store, run_id).state is RunState.CANCELLED


def _caller_connection(store: Store) -> Any:
    """A driver connection of the caller's own to the store's database."""
    if isinstance(store, SQLiteStore):
        return sqlite3.connect(store.path)
    assert isinstance(store, PostgresStore)
    return psycopg.connect(store.url)


def test_start_run_inside_the_callers_transaction(store: Store) -> None:
    conn = _caller_connection(store)
    try:
        run = NewRun(pipeline="p", input_json="1", stages=CHAIN)
        rolled_back = store.start_run(run, connection=conn)
        conn.rollback()
        assert store.get_run(rolled_back) is None
        assert jobs_of(store, "a") == []
        kept = store.start_run(run, connection=conn)
        conn.commit()
    finally:
        conn.close()
    assert detail(store, kept).state is RunState.RUNNING
    assert len(jobs_of(store, "a")) == 1
    with pytest.raises(ConfigurationError, match=r"start\(connection=\.\.\.\)"):
        store.start_run(run, connection=object())


def test_one_completion_batch_advances_each_of_its_runs(store: Store) -> None:
    # The advance is set-based across runs: one batch hands off two runs, fails a third
    # (cancelling only that run's other job), and later finishes two runs at once, each with
    # its own result.
    runs = [start(store, stage("a"), stage("side"), stage("b", "a"), input=n) for n in range(3)]
    claimed = {args_of(store, j.id)["run_id"]: j for j in claim_stage(store, "a")}
    batch = [done(claimed[runs[0]], "A0"), done(claimed[runs[1]], "A1")]
    batch.append(done(claimed[runs[2]], kind=CompletionKind.DEAD, error=BOOM))
    assert all(r.accepted for r in store.complete_jobs(batch))
    failed = detail(store, runs[2])
    assert failed.state is RunState.FAILED and "boom" in (failed.error or "")
    assert [s.state for s in failed.stages if s.stage == "side"] == [StageState.CANCELLED]
    b_jobs = {args_of(store, j.id)["run_id"]: j for j in claim_stage(store, "b")}
    assert sorted(b_jobs) == runs[:2]
    for n in (0, 1):
        got = store.stage_input(stage_of(store, runs[n], "b").id, 0)
        assert got is not None and got.parents == (ParentOutput("a", json.dumps(f"A{n}")),)
    sides = {args_of(store, j.id)["run_id"]: j for j in claim_stage(store, "side")}
    assert sorted(sides) == runs[:2]
    batch = [done(b_jobs[r], f"B{n}") for n, r in enumerate(runs[:2])]
    batch += [done(sides[r], f"S{n}") for n, r in enumerate(runs[:2])]
    assert all(r.accepted for r in store.complete_jobs(batch))
    for n in (0, 1):
        run = detail(store, runs[n])
        assert run.state is RunState.SUCCEEDED
        assert json.loads(run.result_json or "") == {"side": f"S{n}", "b": f"B{n}"}


def test_a_hand_off_keeps_every_stage_template_and_moves_the_runs_progress(
    store: Store,
) -> None:
    # The advance writes a stage row's template back only when a resume changed it, and a
    # running run's row only gets its progress time: both must still read as they were.
    run_id = start(store, *CHAIN, now=1_000.0)
    [a] = claim_stage(store, "a")
    assert all(r.accepted for r in store.complete_jobs([done(a, "A")], now=1_050.0))
    run = detail(store, run_id)
    assert run.state is RunState.RUNNING and run.error is None and run.result_json is None
    assert run.finished_at is None and run.last_progress_at == 1_050.0
    assert [s.template for s in run.stages] == [s.template for s in CHAIN]
    assert [s.state for s in run.stages] == [
        StageState.SUCCEEDED, StageState.ACTIVE, StageState.WAITING
    ]
    run_one(store, "b", "B")
    run_one(store, "c", "C")
    done_run = detail(store, run_id)
    assert done_run.state is RunState.SUCCEEDED and json.loads(done_run.result_json or "") == "C"
    assert [s.template for s in done_run.stages] == [s.template for s in CHAIN]


def test_a_round_that_readies_more_stages_than_a_copy_batch_claims_them(store: Store) -> None:
    # On PostgreSQL a worker's round that completes stage jobs is pipelined, which cannot
    # COPY: its advance inserts the next jobs with INSERT however many there are.
    n = COPY_MIN_BATCH + 5
    for i in range(n):
        start(store, stage("a"), stage("b", "a"), input=i)
    first = claim_stage(store, "a", limit=n)
    assert len(first) == n
    params = ClaimParams("w1", ("runs",), ("p.b",), n, 30.0)
    round_ = store.complete_and_claim([done(j, "A") for j in first], params)
    assert all(r.accepted for r in round_.completed)
    assert len(round_.claimed) == n
    assert sorted(c.id for c in round_.claimed) == sorted(jobs_of(store, "b"))
