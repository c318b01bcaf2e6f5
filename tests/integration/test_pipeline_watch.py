"""Runs watched, scheduled and pruned (issue 13, items 7 and 10), in process on both stores.

The monitor is ticked with its controllable clock (``tick(now=...)``) instead of sleeping; the
stages run with :func:`conveyor.testing.drain`, one queue at a time where a test needs a run
stopped between two stages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor
from conveyor.errors import ArgumentError, ConfigurationError
from conveyor.models import JobState, RunState, StageState
from conveyor.monitor.runs import RUN_DEADLINE_RULE, RUN_STALL_RULE
from conveyor.monitor.service import Monitor
from conveyor.pipelines import ExpectationError
from conveyor.store.contract.records import Retention
from conveyor.store.protocol import JobFilter
from conveyor.store.watch_types import IncidentState, Verdict
from conveyor.testing import drain


class Rows(pydantic.BaseModel):
    rows: int


FAIL: dict[str, int] = {}
"""``load`` raises while ``FAIL["load"]`` is set to its number of values, or to -1 (any);
module state: the stages run in this process."""


def build(url: str, **retention: float) -> Conveyor:
    """App with pipeline ``etl``: ``extract`` (queue ``first``) -> ``load`` (queue ``second``,
    ``expect`` rows > 0), deadline 1h, stall 20m; no alert rules but the built-in ones."""
    app = Conveyor(url, retention=Retention(**retention) if retention else None)
    etl = app.pipeline("etl", deadline="1h", stall="20m")

    @etl.stage(queue="first")
    def extract(ctx: Any, n: int) -> list[int]:
        return list(range(n))

    @etl.stage(after=extract, queue="second", expect=lambda r: r.rows > 0)
    def load(ctx: Any, values: list[int]) -> Rows:
        if FAIL.get("load") in (-1, len(values)):
            raise ValueError("warehouse is down")
        return Rows(rows=len(values))

    app.configure_monitor(rules=[], reminder=None)
    return app


@pytest.fixture
def app(backend_url: str) -> Iterator[Conveyor]:
    FAIL.clear()
    app = build(backend_url)
    yield app
    app.close()


def incidents(app: Conveyor) -> dict[tuple[str, str], IncidentState]:
    return {(i.rule, i.subject): i.state for i in app.store.list_incidents(include_resolved=True)}


def test_a_stalled_and_late_run_opens_incidents_and_they_resolve_when_it_finishes(
    app: Conveyor,
) -> None:
    monitor = Monitor(app)
    run = app.pipelines["etl"].start(n=3)
    subject = f"run:{run.id}"
    t0 = app.store.now()
    assert monitor.tick(now=t0 + 60).opened == []
    stalled = monitor.tick(now=t0 + 20 * 60 + 1)
    assert stalled.opened == [(RUN_STALL_RULE, subject)]
    [incident] = app.store.firing_incidents()
    assert f"run {run.id}" in incident.summary and "waiting on `extract`" in incident.summary
    late = monitor.tick(now=t0 + 3600 + 1)
    assert late.opened == [(RUN_DEADLINE_RULE, subject)]
    assert monitor.tick(now=t0 + 3600 + 30).opened == []  # one incident per (rule, run)

    drain(app)
    assert run.result(timeout=5) == Rows(rows=3)
    done = monitor.tick(now=t0 + 3600 + 60)
    assert sorted(done.resolved) == [(RUN_DEADLINE_RULE, subject), (RUN_STALL_RULE, subject)]
    assert incidents(app) == {
        (RUN_DEADLINE_RULE, subject): IncidentState.RESOLVED,
        (RUN_STALL_RULE, subject): IncidentState.RESOLVED,
    }


def test_a_stall_resolves_when_a_stage_finishes(app: Conveyor) -> None:
    monitor = Monitor(app)
    run = app.pipelines["etl"].start(n=2)
    t0 = app.store.now()
    assert monitor.tick(now=t0 + 1201).opened == [(RUN_STALL_RULE, f"run:{run.id}")]
    drain(app, queues=["first"])  # extract finishes: progress, the run is still going
    assert app.store.get_run(run.id).state is RunState.RUNNING  # type: ignore[union-attr]
    progressed = app.store.now()
    report = monitor.tick(now=progressed + 60)
    assert report.resolved == [(RUN_STALL_RULE, f"run:{run.id}")]
    assert monitor.tick(now=progressed + 1201).opened == [(RUN_STALL_RULE, f"run:{run.id}")]


def test_a_broken_expectation_fails_the_stage_and_the_run(app: Conveyor) -> None:
    run = app.pipelines["etl"].start(n=0)  # load returns rows=0: expect says no
    drain(app)
    status = run.status()
    assert status.state is RunState.FAILED
    load = status.stage("load")
    assert load.state is StageState.FAILED
    assert "broke its expectation: expect returned False" in (load.error or "")
    assert '{"rows":0}' in (load.error or "")
    [job] = app.store.list_jobs(JobFilter(name="etl.load"))
    assert job.state is JobState.DEAD and job.attempt == 1  # not retried with the same output
    assert job.error_type == ExpectationError.__name__


def test_an_expectation_that_raises_is_broken_too(backend_url: str) -> None:
    app = Conveyor(backend_url)
    p = app.pipeline("p")

    def strict(r: Rows) -> bool:
        raise KeyError("rows")

    @p.stage(expect=strict, each=None)
    def only(ctx: Any, n: int) -> Rows:
        return Rows(rows=n)

    try:
        run = p.start(n=1)
        drain(app)
        error = run.status().stage("only").error or ""
        assert "expect raised KeyError: 'rows'" in error, error
    finally:
        app.close()


def test_expect_on_a_fan_out_stage_checks_each_item(backend_url: str) -> None:
    app = Conveyor(backend_url)
    p = app.pipeline("p")

    @p.stage
    def first(ctx: Any, n: int) -> list[int]:
        return list(range(n))

    @p.stage(after=first, each=lambda xs: xs, on_item_failure="skip", expect=lambda v: v != 2)
    def double(ctx: Any, x: int) -> int:
        return x * 2

    @p.stage(after=double)
    def total(ctx: Any, values: list[int]) -> int:
        return sum(values)

    try:
        run = p.start(n=3)  # items give 0, 2, 4: the item giving 2 breaks expect, skipped
        drain(app)
        assert run.result(timeout=5) == 4
        assert run.status().stage("double").items_failed == 1
    finally:
        app.close()


# -- a schedule that starts a pipeline -------------------------------------------------------


def test_a_schedule_starts_runs_and_the_ledger_judges_the_whole_run(app: Conveyor) -> None:
    app.schedule("nightly", app.pipelines["etl"], every="1h", grace="10m", args={"n": 2},
                  expect=lambda result: result["rows"] == 2)
    monitor = Monitor(app)
    app.store.put_schedules([d.to_row() for d in app.schedules.values()])

    ok = app.trigger_schedule("nightly", by="test")
    assert ok.run_id is not None and ok.job_id is None
    drain(app, queues=["first"])  # the first stage alone does not decide the slot
    monitor.tick()
    [entry] = app.store.schedule_ledger("nightly")
    assert entry.verdict is None and entry.job_state is JobState.RUNNING
    drain(app)
    monitor.tick()
    [entry] = app.store.schedule_ledger("nightly")
    assert (entry.run_id, entry.verdict) == (ok.run_id, Verdict.OK)

    FAIL["load"] = -1  # load dies (no retries left): the run fails, the slot fails
    failed = app.trigger_schedule("nightly", by="test")
    drain(app)
    report = monitor.tick()
    assert report.opened == [("missed_run", "nightly")]
    newest = app.store.schedule_ledger("nightly")[0]
    assert newest.run_id == failed.run_id and newest.verdict is Verdict.FAILED
    [incident] = app.store.firing_incidents()
    assert f"run {failed.run_id} failed" in incident.summary
    assert "warehouse is down" in incident.summary


def test_scheduling_a_pipeline_checks_its_input_and_options(app: Conveyor) -> None:
    etl = app.pipelines["etl"]
    with pytest.raises(ArgumentError, match="missing a required argument: 'n'"):
        app.schedule("typo", etl, every="1h", args={"m": 2})  # as a job's schedule would
    with pytest.raises(ConfigurationError, match="overlap='queue'"):
        app.schedule("q", etl, every="1h", args={"n": 2}, overlap="queue")
    with pytest.raises(ConfigurationError, match="queue= and priority="):
        app.schedule("q", etl, every="1h", args={"n": 2}, queue="other")
    scheduled = app.cron("0 3 * * *", args={"n": 1})(etl)  # the decorator form
    assert scheduled is etl and app.schedules["etl"].pipeline == "etl"
    by_name = app.schedule("by_name", "etl", every="1h", args={"n": 1})
    assert by_name.job_name == "pipeline:etl"


def test_a_scheduler_round_starts_a_run_and_skips_while_it_runs(app: Conveyor) -> None:
    from conveyor.schedules.scheduler import Scheduler

    app.schedule("often", app.pipelines["etl"], every=1, args={"n": 1}, catch_up="all")
    clock = [app.store.now()]
    scheduler = Scheduler(app, now=lambda: clock[0])
    scheduler.run_round()
    clock[0] += 3
    first = scheduler.run_round()
    assert len(first.enqueued.get("often", [])) >= 1
    clock[0] += 3
    second = scheduler.run_round()
    assert second.skipped.get("often", 0) >= 1 and not second.enqueued.get("often")
    drain(app)
    clock[0] += 3
    assert scheduler.run_round().enqueued.get("often")


# -- retention ---------------------------------------------------------------------------------


def test_retention_prunes_finished_runs_and_nothing_a_running_or_resumable_run_needs(
    backend_url: str,
) -> None:
    day = 86400.0
    app = build(backend_url, succeeded=60.0, dead=60.0, cancelled=60.0, runs=7 * day)
    try:
        etl = app.pipelines["etl"]
        finished = etl.start(n=1)
        drain(app)
        assert finished.result(timeout=5) == Rows(rows=1)
        FAIL["load"] = 3
        resumable = etl.start(n=3)
        drain(app)
        running = etl.start(n=2)
        drain(app, queues=["first"])  # extract done; load waits
        assert resumable.status().state is RunState.FAILED
        FAIL.clear()

        now = app.store.now()
        app.store.prune(app.retention, now=now + day)  # jobs past theirs; runs are within
        assert app.store.count_jobs(JobFilter(name="etl.extract")) == 0  # the jobs went...
        for handle in (finished, running, resumable):  # ...the runs and outputs stayed
            assert app.store.get_run(handle.id) is not None

        drain(app)  # load of the running run reads extract's output from the run's items
        assert running.result(timeout=5) == Rows(rows=2)
        extracted = resumable.status().stage("extract").job_ids
        resumable.resume(by="test")
        drain(app)
        assert resumable.result(timeout=5) == Rows(rows=3)
        assert resumable.status().stage("extract").job_ids == extracted  # reused, not re-run
        assert app.store.count_jobs(JobFilter(name="etl.extract")) == 0

        # A week later every run is finished and past its own retention: they all go.
        still = etl.start(n=1)  # ...except one still running, whatever its age
        app.store.prune(app.retention, now=app.store.now() + 8 * day)
        assert [app.store.get_run(h.id) for h in (finished, running, resumable)] == [None] * 3
        assert app.store.get_run(still.id) is not None
        drain(app)
        assert still.result(timeout=5) == Rows(rows=1)
    finally:
        app.close()


def test_the_scheduled_pipeline_example_of_the_guide(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    from pathlib import Path

    guide = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"
    [source] = [
        b for b in re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.S)
        if 'app.pipeline("nightly_etl"' in b
    ]
    monkeypatch.setenv("CONVEYOR_URL", backend_url)
    scope: dict[str, Any] = {"__name__": "guide_example"}
    exec(compile(source, str(guide), "exec"), scope)
    app: Conveyor = scope["app"]
    try:
        assert app.schedules["nightly_eu"].pipeline == "nightly_etl"
        assert app.schedules["nightly_etl"].timing.spec == "cron:0 3 * * *"
        app.store.put_schedules([d.to_row() for d in app.schedules.values()])
        written = app.trigger_schedule("nightly_eu", by="test")
        drain(app)
        assert app.run(written.run_id).result(timeout=5) == {"rows": 3}  # type: ignore[arg-type]
        Monitor(app).tick()
        [entry] = app.store.schedule_ledger("nightly_eu")
        assert entry.verdict is Verdict.OK
    finally:
        app.close()
