"""The producer span of every enqueue path carries the job id, and always ends.

On both stores: ``enqueue``, ``enqueue_many`` (sync and async), ``publish``, a schedule's
fire (a scheduler round and a manual trigger), a workflow's and a pipeline's start. A job
only validated starts no span; a failed write ends its span with an error status; a
middleware whose ``after_enqueue`` raises loses no job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from conveyor import Conveyor, QueueFull
from conveyor.errors import ArgumentError
from conveyor.middleware import Enqueueing, Middleware
from conveyor.otel import OpenTelemetryMiddleware
from conveyor.schedules.scheduler import Scheduler


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where the spans of the test go."""
    return InMemorySpanExporter()


@pytest.fixture
def app(store_url: str, exporter: InMemorySpanExporter) -> Iterator[Conveyor]:
    """A traced app with a job ``mail`` (queue ``mail``) and two subscribers of ``signup``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = Conveyor(store_url, middleware=[OpenTelemetryMiddleware(provider)])

    @app.job(name="mail", queue="mail", unique="mail:{to}")
    def mail(ctx: Any, to: str) -> None:
        pass

    @app.job(name="welcome", on="signup")
    async def welcome(ctx: Any, user: int) -> None:
        pass

    @app.job(name="audit", on="signup")
    def audit(ctx: Any, user: int) -> None:
        pass

    yield app
    app.close()
    provider.shutdown()


def producers(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The producer spans that ended, in the order they ended."""
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER]


def ids(spans: list[ReadableSpan]) -> list[str | None]:
    """Each span's ``messaging.message.id`` (None when it has none)."""
    return [(s.attributes or {}).get("messaging.message.id") for s in spans]  # type: ignore[misc]


def test_enqueue_and_a_unique_duplicate_carry_the_job_id(
    app: Conveyor, exporter: InMemorySpanExporter
) -> None:
    first = app.get("mail").enqueue(to="a")
    again = app.get("mail").enqueue(to="a")
    assert again.duplicate and again.id == first.id
    spans = producers(exporter)
    assert ids(spans) == [str(first.id), str(first.id)]
    assert "conveyor.duplicate" not in (spans[0].attributes or {})
    assert (spans[1].attributes or {})["conveyor.duplicate"] is True
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_enqueue_many_sync_and_async(app: Conveyor, exporter: InMemorySpanExporter) -> None:
    handles = app.get("mail").enqueue_many([{"to": "a"}, {"to": "b"}])
    handles += asyncio.run(app.get("mail").enqueue_many_async([{"to": "c"}, {"to": "d"}]))
    handles.append(asyncio.run(app.get("mail").enqueue_async(to="e")))
    assert len({h.id for h in handles}) == 5
    assert ids(producers(exporter)) == [str(h.id) for h in handles]


def test_publish_sync_and_async(app: Conveyor, exporter: InMemorySpanExporter) -> None:
    handles = app.publish("signup", user=1)
    handles += asyncio.run(app.publish_async("signup", user=2))
    assert len(handles) == 4
    assert ids(producers(exporter)) == [str(h.id) for h in handles]


def test_a_schedule_fire_and_a_trigger(app: Conveyor, exporter: InMemorySpanExporter) -> None:
    app.schedule("often", "mail", every="1m", args={"to": "ops"})
    store = app.store
    start = (store.now() // 60 + 1) * 60
    sched = Scheduler(app, store=store, now=lambda: start + 0.2)
    assert sched.run_round().enqueued == {"often": [start]}
    [entry] = store.schedule_ledger("often", limit=10)
    written = app.trigger_schedule("often")
    assert written.written and written.job_id is not None
    # The trigger's job holds the unique key "mail:ops" too: a duplicate of the fired one.
    assert ids(producers(exporter)) == [str(entry.job_id), str(written.job_id)]


def test_a_pipeline_started_by_a_schedule_carries_trace_context_and_its_first_job_id(
    app: Conveyor, exporter: InMemorySpanExporter
) -> None:
    pipeline = app.pipeline("nightly_etl")

    @pipeline.stage()
    def extract(ctx: Any, day: str) -> str:
        return day

    @pipeline.stage(after=extract)
    def load(ctx: Any, rows: str) -> str:
        return rows

    app.schedule("etl", pipeline, every="1m", args={"day": "mon"})
    store = app.store
    start = (store.now() // 60 + 1) * 60
    sched = Scheduler(app, store=store, now=lambda: start + 0.2)
    assert sched.run_round().enqueued == {"etl": [start]}
    written = app.trigger_schedule("etl")
    assert written.written and written.run_id is not None

    runs = [store.get_run(e.run_id) for e in store.schedule_ledger("etl", limit=10) if e.run_id]
    assert len(runs) == 2
    firsts = sorted(str(r.stages[0].job_ids[0]) for r in runs if r is not None)
    spans = producers(exporter)
    # Each start: the first stage's job (written) and the later stage's (written later).
    assert sorted(i for i in ids(spans) if i is not None) == firsts
    assert ids(spans).count(None) == 2
    for run in runs:
        assert run is not None
        job = store.get_job(run.stages[0].job_ids[0])
        assert job is not None and "traceparent" in job.meta.get("headers", {})


def test_a_workflow_and_a_pipeline_start(app: Conveyor, exporter: InMemorySpanExporter) -> None:
    wf = app.workflow("wf")
    root = wf.add(app.get("mail"), to="x")
    wf.add(app.get("mail"), after=root, name="later", to="y")
    assert producers(exporter) == []  # nothing until the workflow starts
    run = wf.start()
    detail = app.store.get_run(run.id)
    assert detail is not None
    [root_job] = next(s for s in detail.stages if s.stage == root.name).job_ids
    # The root's job is written by start; the later node's when its parent succeeds.
    assert ids(producers(exporter)) == [str(root_job), None]

    exporter.clear()
    pipeline = app.pipeline("one")

    @pipeline.stage()
    def only(ctx: Any, n: int) -> int:
        return n

    handle = asyncio.run(pipeline.start_async(n=1))
    detail = app.store.get_run(handle.id)
    assert detail is not None
    assert ids(producers(exporter)) == [str(detail.stages[0].job_ids[0])]


def test_validating_starts_no_span(app: Conveyor, exporter: InMemorySpanExporter) -> None:
    job = app.get("mail").validate(to="a")
    assert job.enqueueing is None and "headers" not in job.meta_json
    app.schedule("nightly", "mail", cron="0 3 * * *", args={"to": "ops"})  # checked at once
    app.workflow("never").add(app.get("mail"), to="b")  # never started
    assert producers(exporter) == []


def test_a_failed_write_ends_the_span_with_an_error(
    app: Conveyor, exporter: InMemorySpanExporter
) -> None:
    app.configure_queue("mail", max_queued=1)
    app.get("mail").enqueue(to="a")
    with pytest.raises(QueueFull):
        app.get("mail").enqueue(to="b")
    with pytest.raises(ArgumentError, match="item 1"):
        app.get("mail").enqueue_many([{"to": "c"}, {"wrong": 1}])
    ok, full, prepared = producers(exporter)
    assert ok.status.status_code is StatusCode.UNSET
    assert full.status.status_code is StatusCode.ERROR
    assert (full.attributes or {})["error.type"] == "QueueFull"
    assert [e.name for e in full.events] == ["exception"]
    # Item 0 was prepared, then item 1 failed to validate: nothing written, the span ended.
    assert prepared.status.status_code is StatusCode.ERROR
    assert (prepared.attributes or {})["error.type"] == "ArgumentError"
    assert ids([full, prepared]) == [None, None]


class Broken(Middleware):
    """A middleware whose after hook always raises, and that records what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[int | None, bool]] = []

    def after_enqueue(self, job: Enqueueing, job_id: int | None) -> None:
        self.told.append((job_id, job.duplicate))
        raise RuntimeError("after hook broke")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_after_hook_that_raises_loses_no_job(store_url: str, kind: str) -> None:
    broken = Broken()
    app = Conveyor(store_url, middleware=[broken])

    @app.job(name="ping")
    def ping(ctx: Any) -> None:
        pass

    try:
        handle = ping.enqueue() if kind == "sync" else asyncio.run(ping.enqueue_async())
        assert app.store.get_job(handle.id) is not None
        assert broken.told == [(handle.id, False)]
        assert app.middleware.errors["Broken.after_enqueue"] == 1
    finally:
        app.close()
