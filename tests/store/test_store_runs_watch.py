"""Conformance: what the monitor reads to watch runs (deadline, stall), a resume's deadline, and
schedules that start pipeline runs (the slot judged by the run)."""

from __future__ import annotations

import json
import sqlite3

import psycopg
from run_helpers import BOOM, PIPELINE, claim_stage, detail, done, finish, run_one, stage, start

from conveyor.models import JobState, RunState
from conveyor.store import Store
from conveyor.store.contract.run_records import NewRun, RunReset
from conveyor.store.postgres import PostgresStore
from conveyor.store.protocol import CompletionKind
from conveyor.store.sqlite import SQLiteStore
from conveyor.store.watch_types import ScheduleRow, SlotFire, SlotStatus

T0 = 1_700_000_000.0  # the test's clock, in the past so the jobs it makes are due now


def overdue(store: Store, at: float) -> dict[int, tuple[bool, bool]]:
    """Run id -> (past its deadline, stalled) at ``at``, as the monitor reads them."""
    return {r.id: (r.past_deadline(at), r.stalled(at)) for r in store.overdue_runs(now=at)}


def test_a_run_past_its_deadline_is_overdue_until_it_finishes(store: Store) -> None:
    late = start(store, stage("a"), stage("b", "a"), deadline_at=T0 + 60)
    start(store, stage("a"), stage("b", "a"))  # no deadline, no stall: never watched
    assert overdue(store, T0 + 59) == {}
    assert overdue(store, T0 + 60) == {late: (True, False)}
    for job in claim_stage(store, "a"):
        assert finish(store, job, "x")
    assert overdue(store, T0 + 600) == {late: (True, False)}  # progress does not help
    for job in claim_stage(store, "b"):
        assert finish(store, job, "y")
    assert detail(store, late).state is RunState.SUCCEEDED
    assert overdue(store, T0 + 600) == {}


def test_a_stalled_run_is_overdue_until_a_stage_finishes(store: Store) -> None:
    run_id = store.start_run(
        NewRun(PIPELINE, "{}", (stage("a"), stage("b", "a")), stall_after=300.0), now=T0
    )
    assert overdue(store, T0 + 299) == {}
    assert overdue(store, T0 + 300) == {run_id: (False, True)}
    [a] = claim_stage(store, "a")
    store.complete_jobs([done(a, "x")], now=T0 + 400)  # a stage finished: progress at +400
    assert overdue(store, T0 + 699) == {}
    assert overdue(store, T0 + 700) == {run_id: (False, True)}
    [b] = claim_stage(store, "b")
    store.complete_jobs([done(b, None, CompletionKind.DEAD, BOOM)], now=T0 + 800)
    assert detail(store, run_id).state is RunState.FAILED
    assert overdue(store, T0 + 10_000) == {}  # a failed run is not stalled: it is over


def test_a_run_both_late_and_stalled_is_read_once(store: Store) -> None:
    run_id = store.start_run(
        NewRun(PIPELINE, "{}", (stage("a"),), deadline_at=T0 + 10, stall_after=20.0), now=T0
    )
    found = store.overdue_runs(now=T0 + 30)
    assert [r.id for r in found] == [run_id]
    assert found[0].past_deadline(T0 + 30) and found[0].stalled(T0 + 30)
    assert found[0].pipeline == PIPELINE and found[0].created_at == T0


def test_a_resume_moves_the_deadline_by_the_time_the_run_was_stopped(store: Store) -> None:
    run_id = store.start_run(
        NewRun(PIPELINE, "{}", (stage("a"), stage("b", "a")), deadline_at=T0 + 100), now=T0
    )
    [a] = claim_stage(store, "a")
    store.complete_jobs([done(a, None, CompletionKind.DEAD, BOOM)], now=T0 + 40)
    assert detail(store, run_id).state is RunState.FAILED
    # Stopped for 1,000 s: the run keeps the 60 s it had left when it failed.
    assert store.reset_run(RunReset(run_id, ("a", "b")), now=T0 + 1040)
    assert detail(store, run_id).deadline_at == T0 + 1100
    assert overdue(store, T0 + 1099) == {}
    assert run_id in overdue(store, T0 + 1100)


def test_the_overdue_reads_use_their_partial_indexes(store: Store) -> None:
    if isinstance(store, SQLiteStore):
        from conveyor.store.sqlite.connection import query

        conn = sqlite3.connect(store.path)
        try:
            plan = conn.execute(
                "EXPLAIN QUERY PLAN " + query("watch_runs"), {"now": T0, "limit": 10}
            ).fetchall()
        finally:
            conn.close()
        text = " ".join(str(row[-1]) for row in plan)
    else:
        assert isinstance(store, PostgresStore)
        from conveyor.store.postgres.sql import query as pg_query

        with psycopg.connect(store.url, autocommit=True) as conn_pg:
            conn_pg.execute("SET enable_seqscan = off")  # tiny tables: show the index is usable
            sql = "EXPLAIN " + pg_query("watch_runs", store.schema)
            rows = conn_pg.execute(sql, {"limit": 10}).fetchall()  # type: ignore[arg-type]
        text = "\n".join(str(row[0]) for row in rows)
    assert "conveyor_runs_deadline" in text, text
    assert "conveyor_runs_stall" in text, text


# -- schedules that start pipeline runs ---------------------------------------------------------


def _pipeline_schedule(store: Store) -> None:
    store.put_schedules(
        [ScheduleRow(name="nightly", job_name=f"pipeline:{PIPELINE}", timing="60", grace=600.0)]
    )


def _fire(store: Store, slot: float) -> int:
    run = NewRun(PIPELINE, json.dumps({"doc": 1}), (stage("a"), stage("b", "a")))
    [written] = store.fire_slots("nightly", [SlotFire(slot, SlotStatus.ENQUEUED, run=run)])
    assert written.written and written.job_id is None and written.run_id is not None
    return written.run_id


def test_a_slot_starts_its_run_in_the_fire_and_is_judged_by_the_run(store: Store) -> None:
    _pipeline_schedule(store)
    slot = store.now() - 10
    run_id = _fire(store, slot)
    assert detail(store, run_id).state is RunState.RUNNING
    [again] = store.fire_slots(
        "nightly",
        [SlotFire(slot, SlotStatus.ENQUEUED, run=NewRun(PIPELINE, "{}", (stage("a"),)))],
    )
    assert not again.written and again.run_id is None  # the race loser starts nothing

    [entry] = store.schedule_ledger("nightly")
    assert entry.run_id == run_id and entry.job_state is JobState.RUNNING
    assert store.slots_to_judge() == []  # running, grace not over: nothing to judge
    assert store.active_schedule_jobs("nightly")  # overlap "skip" sees the running run

    run_one(store, "a", "x")  # the first stage's success does not decide the slot
    assert store.slots_to_judge() == []
    assert store.active_schedule_jobs("nightly")
    run_one(store, "b", {"rows": 3})
    [judged] = store.slots_to_judge()
    assert judged.run_id == run_id and judged.job_state is JobState.SUCCEEDED
    assert json.loads(judged.result_json or "null") == {"rows": 3}
    assert judged.finished_at is not None and judged.started_at is not None
    assert store.active_schedule_jobs("nightly") == []


def test_a_failed_run_reads_as_dead_with_the_runs_error(store: Store) -> None:
    _pipeline_schedule(store)
    run_id = _fire(store, store.now() - 10)
    run_one(store, "a", "x")
    [b] = claim_stage(store, "b")
    assert finish(store, b, kind=CompletionKind.DEAD, error=BOOM)
    [judged] = store.slots_to_judge()
    assert judged.run_id == run_id and judged.job_state is JobState.DEAD
    assert judged.error_type == "RunFailed" and "boom" in (judged.error_message or "")


def test_a_late_run_is_judged_at_its_grace(store: Store) -> None:
    _pipeline_schedule(store)
    slot = store.now() - 10
    _fire(store, slot)
    assert store.slots_to_judge(now=slot + 599) == []
    [late] = store.slots_to_judge(now=slot + 600)
    assert late.job_state is JobState.RUNNING
