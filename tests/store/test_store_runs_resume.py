"""Conformance: cancelling and resuming runs, ``ctx.step`` checkpoints, and pruning runs."""

from __future__ import annotations

import json

import pytest
from run_helpers import (
    BOOM,
    claim_stage,
    detail,
    finish,
    jobs_of,
    run_one,
    stage,
    stage_of,
    start,
)

from conveyor.errors import ConfigurationError
from conveyor.models import JobState, RunState, StageState
from conveyor.store import Store
from conveyor.store.contract.records import Retention
from conveyor.store.contract.run_records import JobTemplate, RunFilter, RunReset
from conveyor.store.protocol import CompletionKind

FIVE = (stage("a"), stage("b", "a"), stage("c", "b"), stage("d", "c"), stage("e", "d"))


def test_cancel_run_cancels_waiting_and_running_jobs(store: Store) -> None:
    run_id = start(store, stage("a"), stage("b"), stage("c", "a", "b"))
    [running] = claim_stage(store, "a")
    [queued] = jobs_of(store, "b")
    assert store.cancel_run(run_id, by="ops")
    run = detail(store, run_id)
    assert run.state is RunState.CANCELLED and run.finished_at is not None
    assert run.error == "cancelled by ops"
    assert {s.state for s in run.stages} == {StageState.CANCELLED}
    assert store.get_job(queued).state is JobState.CANCELLED  # type: ignore[union-attr]
    assert store.get_job(running.id).state is JobState.CANCELLED  # type: ignore[union-attr]
    assert not finish(store, running, "late")  # its completion is refused
    assert not store.cancel_run(run_id, by="ops")  # a repeat does nothing
    assert not store.cancel_run(10**9)
    [action] = store.list_actions(target=f"run:{run_id}")
    assert (action.actor, action.action) == ("ops", "run.cancel")


def _fail_at_d(store: Store) -> int:
    run_id = start(store, *FIVE)
    for name in "abc":
        run_one(store, name, name.upper())
    [job] = claim_stage(store, "d")
    assert finish(store, job, kind=CompletionKind.DEAD, error=BOOM)
    assert detail(store, run_id).state is RunState.FAILED
    return run_id


def test_reset_run_re_runs_only_the_named_stages(store: Store) -> None:
    run_id = _fail_at_d(store)
    before = {n: jobs_of(store, n) for n in "abc"}
    assert store.reset_run(RunReset(run_id, ("d", "e"), by="ops"))
    run = detail(store, run_id)
    assert run.state is RunState.RUNNING and run.resumes == 1 and run.error is None
    assert run.finished_at is None
    states = {s.stage: s.state for s in run.stages}
    assert states == {
        "a": StageState.SUCCEEDED, "b": StageState.SUCCEEDED, "c": StageState.SUCCEEDED,
        "d": StageState.ACTIVE, "e": StageState.WAITING,
    }
    got = store.stage_input(stage_of(store, run_id, "d").id, 0)
    assert got is not None and [json.loads(p.output_json) for p in got.parents] == ["C"]
    run_one(store, "d", "D")
    run_one(store, "e", "E")
    assert detail(store, run_id).state is RunState.SUCCEEDED
    assert {n: jobs_of(store, n) for n in "abc"} == before  # nothing upstream ran again
    assert len(jobs_of(store, "d")) == 2
    [action] = store.list_actions(target=f"run:{run_id}")
    assert action.action == "run.resume"
    assert json.loads(action.details_json)["stages"] == ["d", "e"]


def test_reset_run_with_new_input_and_template(store: Store) -> None:
    run_id = _fail_at_d(store)
    template = JobTemplate(queue="runs", name="p.d", max_attempts=4, priority=9)
    reset = RunReset(
        run_id, ("d", "e"), input_override=("d", '{"fixed": true}'), templates=(("d", template),)
    )
    assert store.reset_run(reset)
    d = stage_of(store, run_id, "d")
    assert d.override_json == '{"fixed": true}' and d.template == template
    got = store.stage_input(d.id, 0)
    assert got is not None and got.override_json == '{"fixed": true}'
    [job] = claim_stage(store, "d")
    assert (job.max_attempts, job.priority) == (4, 9)


def test_reset_run_refuses_an_open_set_or_a_running_run(store: Store) -> None:
    run_id = _fail_at_d(store)
    with pytest.raises(ConfigurationError, match="'e' is cancelled and is not re-run"):
        store.reset_run(RunReset(run_id, ("d",)))
    with pytest.raises(ConfigurationError, match="'d' is failed"):
        store.reset_run(RunReset(run_id, ("e",)))
    with pytest.raises(ConfigurationError, match="no stage 'x'"):
        store.reset_run(RunReset(run_id, ("x",)))
    with pytest.raises(ConfigurationError, match="not re-run"):
        store.reset_run(RunReset(run_id, ("d", "e"), input_override=("c", "1")))
    assert detail(store, run_id).resumes == 0  # a refused resume wrote nothing
    assert store.reset_run(RunReset(run_id, ("d", "e")))
    assert not store.reset_run(RunReset(run_id, ("d", "e")))  # running now
    assert not store.reset_run(RunReset(10**9, ("d",)))


def test_a_succeeded_run_can_be_replayed_from_a_stage(store: Store) -> None:
    run_id = start(store, stage("a"), stage("b", "a"))
    run_one(store, "a", 1)
    run_one(store, "b", 2)
    with pytest.raises(ConfigurationError, match="'b' runs after 'a'"):
        store.reset_run(RunReset(run_id, ("a",)))
    assert store.reset_run(RunReset(run_id, ("a", "b"), input_override=("a", "5")))
    assert detail(store, run_id).result_json is None
    run_one(store, "a", 10)
    run_one(store, "b", 20)
    run = detail(store, run_id)
    assert (run.state, run.result_json, run.resumes) == (RunState.SUCCEEDED, "20", 1)


def test_steps_are_fenced_by_the_attempt_and_kept_for_retries(store: Store) -> None:
    start(store, stage("a", attempts=3))
    [job] = claim_stage(store, "a")
    assert store.save_step(job.id, job.token, "download", '{"bytes": 10}')
    assert not store.save_step(job.id, job.token, "download", '{"bytes": 99}')  # first stays
    assert not store.save_step(job.id, job.token + 1, "parse", "1")  # a stale token
    assert store.load_steps(job.id) == {"download": '{"bytes": 10}'}
    assert finish(store, job, kind=CompletionKind.RETRY, error=BOOM)
    [again] = claim_stage(store, "a")
    assert again.id == job.id
    assert store.load_steps(job.id) == {"download": '{"bytes": 10}'}
    assert not store.save_step(job.id, job.token, "parse", "1")  # the old attempt is fenced
    assert store.save_step(job.id, again.token, "parse", "1")
    assert store.load_steps(10**9) == {}


def test_prune_keeps_running_runs_and_drops_old_finished_ones(store: Store) -> None:
    running = start(store, stage("a"))
    done_id = start(store, stage("a"))
    [first, second] = sorted(claim_stage(store, "a"), key=lambda j: j.id)
    assert finish(store, second, "x")
    [job] = [j for j in (first, second) if j is not second]
    later = store.now() + 3600
    keep = Retention(runs=600)
    store.prune(keep, now=later)
    assert {r.id for r in store.list_runs(RunFilter())} == {running}
    assert store.get_run(done_id) is None
    store.prune(Retention(runs=600), now=later + 10 * 86400)
    assert store.get_run(running) is not None  # never, whatever its age
    assert finish(store, job, "y")
    assert detail(store, running).state is RunState.SUCCEEDED
