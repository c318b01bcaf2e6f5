"""Pipelines run by real worker processes, on SQLite and on PostgreSQL.

The stages live in ``pipeapp.py``; each records one effect per attempt in the effects file, so
"no completed stage re-runs" is a count. Flags in the same file switch failures on and off.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, JobState
from conveyor.errors import ResumeRefusedError, RunCancelledError, RunFailedError
from conveyor.models import AttemptOutcome, RunState, StageState
from conveyor.store import run_plans
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Workers, load_itapp


@dataclass
class Pipes:
    """The workers fixture with ``pipeapp`` loaded in this process."""

    workers: Workers
    app: Conveyor

    def start(self, **config: Any) -> Any:
        config.setdefault("queues", ["pipe"])
        config.setdefault("poll_interval", 0.2)
        return self.workers.start("pipeapp:app", **config)

    def counts(self) -> Counter[str]:
        """How many attempts each stage made (``pipeline.stage`` -> count)."""
        return Counter(
            key.split(":")[0] for key in self.workers.effects() if not key.startswith("flag:")
        )

    def set_flag(self, name: str) -> None:
        conn = sqlite3.connect(self.workers.effects_db, isolation_level=None)
        conn.execute("INSERT OR IGNORE INTO effects (key) VALUES (?)", (f"flag:{name}",))
        conn.close()

    def clear_flag(self, name: str) -> None:
        conn = sqlite3.connect(self.workers.effects_db, isolation_level=None)
        conn.execute("DELETE FROM effects WHERE key = ?", (f"flag:{name}",))
        conn.close()


class Counted(pydantic.BaseModel):
    """What the next release's `s3` returns in the model-change test."""

    n: int


@pytest.fixture
def pipes(workers: Workers, tmp_path: Any) -> Iterator[Pipes]:
    app = load_itapp(f"{tmp_path.name}_pipes", "pipeapp")
    try:
        yield Pipes(workers, app)
    finally:
        app.close()


def test_fetch_embed_index_runs_end_to_end(pipes: Pipes) -> None:
    pipes.start(concurrency=4)
    ingest = pipes.app.pipelines["ingest"]
    run = ingest.start(doc_id=7, chunks=["a", "bb", "ccc"])
    result = run.result(timeout=30)
    assert type(result).__name__ == "Indexed"
    assert (result.doc_id, result.rows, result.failed) == (7, 3, [])
    status = run.status()
    assert status.state is RunState.SUCCEEDED
    assert [s.state for s in status.stages] == [StageState.SUCCEEDED] * 3
    embed = status.stage("embed")
    assert (embed.items_total, embed.items_left, embed.items_failed) == (3, 0, 0)
    assert [v["index"] for v in embed.output] == [1, 2, 3]  # item order
    assert status.stage("fetch").attempts == 1
    # Over the bound of item outputs read (decision 109): left out, the rest the same.
    bounded = run.status(outputs=2)
    assert bounded.stage("embed").output is None and bounded.stage("embed").output_left_out
    assert not embed.output_left_out and bounded.result == status.result
    assert replace(bounded.stage("embed"), output=embed.output, output_left_out=False) == embed
    assert pipes.counts() == Counter({"ingest.fetch": 1, "ingest.embed": 3, "ingest.index": 1})


def test_a_renamed_field_stops_the_run_at_that_seam_and_resume_input_finishes_it(
    pipes: Pipes,
) -> None:
    pipes.set_flag("renamed")
    pipes.start()
    feed = pipes.app.pipelines["feed"]
    run = feed.start(doc_id=3)
    with pytest.raises(RunFailedError) as failed:
        run.result(timeout=30)
    assert "normalize returned `vals`, expected `values: list[float]`" in str(failed.value)
    status = run.status()
    assert status.stage("normalize").state is StageState.FAILED
    assert status.stage("normalize").attempts == 1  # permanent: not retried with the bad shape
    assert status.stage("store").job_ids == ()  # the next stage was never enqueued
    job = pipes.app.store.get_job(status.stage("normalize").job_ids[0])
    assert job is not None and job.state is JobState.DEAD and job.error_type == "SeamError"

    plan = run.resume(from_="normalize", input={"doc_id": 3, "index": 0, "values": [1, 2, 3]})
    assert (plan.rerun, plan.reuse, plan.applied) == (("normalize", "store"), ("pull",), True)
    assert run.result(timeout=30) == 3
    assert pipes.counts()["feed.pull"] == 1  # upstream stages did not run again
    assert run.status().resumes == 1


def test_resume_after_stage_4_of_5_reruns_only_4_and_5(pipes: Pipes) -> None:
    pipes.set_flag("s4")
    pipes.start()
    chain = pipes.app.pipelines["chain"]
    run = chain.start(n=0)
    with pytest.raises(RunFailedError, match="s4"):
        run.result(timeout=30)
    before = run.refresh()

    plan = run.resume(dry_run=True)
    assert (plan.rerun, plan.reuse, plan.applied) == (("s4", "s5"), ("s1", "s2", "s3"), False)
    assert run.refresh() == before  # a dry run writes nothing

    pipes.clear_flag("s4")
    run.resume()
    assert run.result(timeout=30) == 5
    counts = pipes.counts()
    assert [counts[f"chain.s{i}"] for i in range(1, 6)] == [1, 1, 1, 2, 1]


def test_resume_is_refused_when_a_reused_output_no_longer_fits_the_code(pipes: Pipes) -> None:
    pipes.set_flag("s4")
    pipes.start()
    run = pipes.app.pipelines["chain"].start(n=0)
    with pytest.raises(RunFailedError):
        run.result(timeout=30)
    # The same pipeline as the next release declares it: s3 now returns a model.
    changed = Conveyor(pipes.app.url)
    chain = changed.pipeline("chain")
    s1 = chain.stage(name="s1")(lambda ctx, n: n)
    s2 = chain.stage(name="s2", after=s1)(lambda ctx, n: n)

    def s3_fn(ctx: Any, n: int) -> Counted:
        return Counted(n=n)

    def s4_fn(ctx: Any, c: Counted) -> int:
        return c.n

    s3 = chain.stage(name="s3", after=s2)(s3_fn)
    s4 = chain.stage(name="s4", after=s3)(s4_fn)
    chain.stage(name="s5", after=s4)(lambda ctx, n: n)
    before = changed.store.get_run(run.id)
    try:
        with pytest.raises(ResumeRefusedError, match=r"stage `s3`.*Resume from `s3`"):
            changed.run(run.id).resume()
        assert changed.store.get_run(run.id) == before
        plan = changed.run(run.id).resume(from_="s3", dry_run=True)
        assert plan.rerun == ("s3", "s4", "s5")
    finally:
        changed.close()


@pytest.mark.parametrize("policy", ["fail", "skip", "collect"])
def test_a_dead_item_follows_the_policy(pipes: Pipes, policy: str) -> None:
    pipes.start(concurrency=4)
    name = {"fail": "ingest", "skip": "ingest_skip", "collect": "ingest_collect"}[policy]
    chunks = ["a", "bb", "bad", "dddd", "eeeee"]
    run = pipes.app.pipelines[name].start(doc_id=1, chunks=chunks)
    if policy == "fail":
        with pytest.raises(RunFailedError, match="item 2"):
            run.result(timeout=30)
        assert run.status().stage("index").state is StageState.CANCELLED
        assert pipes.counts()[f"{name}.index"] == 0
        return
    result = run.result(timeout=30)
    assert result.rows == 4
    assert result.failed == ([2] if policy == "collect" else [])
    assert run.status().stage("embed").items_failed == 1
    assert pipes.counts()[f"{name}.index"] == 1


def test_steps_are_not_repeated_by_a_retry(pipes: Pipes) -> None:
    pipes.start()
    run = pipes.app.pipelines["steps"].start(n=4)
    assert run.result(timeout=30) == 82
    counts = pipes.counts()
    assert (counts["steps.first"], counts["steps.upload"]) == (1, 1)
    status = run.status()
    assert (status.stage("download").attempts, status.stage("upload").attempts) == (2, 2)


def test_cancel_stops_the_running_stage_and_enqueues_nothing_after_it(pipes: Pipes) -> None:
    pipes.start()
    run = pipes.app.pipelines["slow"].start(seconds=30.0)
    eventually(lambda: pipes.counts()["slow.wait"] == 1, timeout=20)
    assert run.cancel(by="test")
    with pytest.raises(RunCancelledError):
        run.result(timeout=10)
    status = run.status()
    assert status.stage("wait").state is StageState.CANCELLED
    assert status.stage("after_wait").job_ids == ()
    job_id = status.stage("wait").job_ids[0]
    pipes.workers.wait_state(job_id, JobState.CANCELLED)
    assert not run.cancel()


def test_sigterm_during_a_stage_does_not_charge_it(pipes: Pipes) -> None:
    proc = pipes.start(drain_timeout=0.5)
    run = pipes.app.pipelines["slow"].start(seconds=3.0)
    eventually(lambda: pipes.counts()["slow.wait"] == 1, timeout=20)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    job_id = run.status().stage("wait").job_ids[0]
    released = pipes.workers.job(job_id)
    assert (released.state, released.attempt) == (JobState.QUEUED, 0)
    assert run.refresh().state is RunState.RUNNING
    pipes.start()
    assert run.result(timeout=30) == 3.0
    assert pipes.workers.job(job_id).attempt == 1
    assert pipes.counts()["slow.wait"] == 2  # ran again from the start, as a released job does


def test_kill_9_mid_run_still_ends_the_run(pipes: Pipes) -> None:
    proc = pipes.start(lease=2.0)
    run = pipes.app.pipelines["slow"].start(seconds=30.0)
    eventually(lambda: pipes.counts()["slow.wait"] == 1, timeout=20)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # retries=0 on `wait`: the rescuer of the next worker ends the lost attempt as dead.
    pipes.start(lease=2.0, rescue_interval=0.3)
    with pytest.raises(RunFailedError, match="wait"):
        run.result(timeout=30)
    assert run.status().stage("after_wait").job_ids == ()


@pytest.mark.parametrize("policy", ["fail", "skip", "collect"])
def test_fan_out_of_10000_items_with_one_dead_item(pipes: Pipes, policy: str) -> None:
    n, bad = 10_000, 5_000
    pipeline = pipes.app.pipelines[f"wide_{policy}"]
    run = pipeline.start(n=n, bad=bad if policy != "fail" else 0)
    # Two worker processes, so on PostgreSQL items finish concurrently and the fan-in is
    # decided by whichever completes the last one.
    pipes.start(concurrency=16, processes=2)
    if policy == "fail":
        with pytest.raises(RunFailedError, match="item 0"):
            run.result(timeout=120)
        detail = run.refresh()
        square = next(s for s in detail.stages if s.stage == "square")
        bad_job = pipes.workers.job(square.job_ids[1])  # the expander first, then item 0
        assert bad_job.state is JobState.DEAD and bad_job.finished_at is not None
        assert detail.finished_at is not None
        assert detail.finished_at - bad_job.finished_at < 1.0
        cancelled = pipes.app.store.count_jobs(
            JobFilter(states=(JobState.CANCELLED,), name=f"wide_{policy}.square")
        )
        assert cancelled > 0
        assert pipes.counts()["wide_fail.total"] == 0
        return
    result = run.result(timeout=300)
    assert result["count"] == n - 1
    assert result["failures"] == (1 if policy == "collect" else 0)
    assert result["sum"] == sum(i * i for i in range(n)) - bad * bad
    assert pipes.counts()[f"wide_{policy}.total"] == 1  # the collector ran exactly once


def test_a_burst_worker_keeps_every_process_while_a_stage_may_hand_work_on(
    pipes: Pipes,
) -> None:
    # While the first stage runs, the second process finds nothing to claim. It used to exit
    # then (nothing due, nothing of its own running) and leave the fan-out to one process.
    run = pipes.app.pipelines["relay"].start(n=200, seconds=1.0, processes=2)
    proc = pipes.start(concurrency=4, processes=2, burst=True)
    assert proc.wait(timeout=120) == 0
    assert run.result(timeout=5) == 200
    items = next(s for s in run.refresh().stages if s.stage == "pass_on")
    workers = {pipes.workers.job(i).worker_id for i in items.job_ids[1:]}
    assert len(workers) == 2, f"the items ran in {workers}; both processes should have helped"


def test_kill_9_while_a_fan_out_is_written_continues_it_once(pipes: Pipes) -> None:
    # The expander writes its items in parts (run_plans.EXPAND_PART); killed between parts,
    # its retry writes the rest, and every item has one job. Ten parts leave the kill a wide
    # window; more items only make a loaded CI lane run past the test's time limit.
    n = 10 * run_plans.EXPAND_PART
    run = pipes.app.pipelines["spread"].start(n=n)
    proc = pipes.start(concurrency=8, lease=2.0)
    store = pipes.app.store
    part = JobFilter(name="spread.piece")
    eventually(lambda: store.count_jobs(part) > 2_001 or None, timeout=60, interval=0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    expander_id = run.refresh().stages[1].job_ids[0]
    assert store.count_jobs(part) < n + 1, "the fan-out was written before the kill"
    pipes.start(concurrency=16, processes=2, lease=2.0, rescue_interval=0.3)
    assert run.result(timeout=90) == n
    assert store.count_jobs(part) == n + 1
    outcomes = [a.outcome for a in store.list_attempts(expander_id)]
    assert outcomes[0] is AttemptOutcome.LOST and outcomes[-1] is AttemptOutcome.SUCCEEDED
