"""OpenTelemetry tracing middleware, on both stores: one trace from a request to every attempt.

Spans go to the SDK's in-memory exporter; jobs run in this process with
:func:`conveyor.testing.drain` (a real worker loop, its executor and the store), so the
exporter sees the consumer spans of every attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from conveyor import Backoff, Cancel, Conveyor
from conveyor.models import JobState
from conveyor.otel import OpenTelemetryMiddleware
from conveyor.store.protocol import JobFilter, Replay
from conveyor.testing import drain

QUICK = Backoff(base=0.01, cap=0.01)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where the spans of the test go."""
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A tracer provider of this test only (the global one is left alone)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    """The spans of one kind, in the order they ended."""
    return [span for span in spans if span.kind is kind]


def parent_id(span: ReadableSpan) -> int | None:
    """The span id of a span's parent, or None for a root."""
    return None if span.parent is None else span.parent.span_id


def check_attempt_spans(
    consumers: list[ReadableSpan], producer: ReadableSpan, job_id: int
) -> None:
    """Three attempts of job ``job_id`` (two failures, then a success): their spans' contents."""
    for number, span in enumerate(consumers, start=1):
        attributes = dict(span.attributes or {})
        assert span.name == "process mail"
        assert attributes["messaging.system"] == "conveyor"
        assert attributes["messaging.destination.name"] == "mail"
        assert attributes["messaging.operation.type"] == "process"
        assert attributes["messaging.message.id"] == str(job_id)
        assert attributes["conveyor.job.name"] == "flaky"
        assert attributes["conveyor.attempt"] == number
        assert attributes["conveyor.max_attempts"] == 3
        assert [link.context.span_id for link in span.links] == [producer.context.span_id]

    failed, succeeded = consumers[:2], consumers[2]
    for number, span in enumerate(failed, start=1):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None
        assert span.attributes["conveyor.outcome"] == "retrying"
        assert span.attributes["error.type"] == "ValueError"
        [event] = span.events
        assert event.name == "exception"
        assert dict(event.attributes or {}) == {
            "exception.type": "ValueError", "exception.message": f"flaky {number}",
        }
    assert succeeded.status.status_code is StatusCode.UNSET
    assert succeeded.attributes is not None
    assert succeeded.attributes["conveyor.outcome"] == "succeeded"
    assert "error.type" not in succeeded.attributes and not succeeded.events


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_request_its_enqueue_and_every_attempt_form_one_trace(
    store_url: str, provider: TracerProvider, exporter: InMemorySpanExporter, kind: str
) -> None:
    app = Conveyor(store_url, middleware=[OpenTelemetryMiddleware(provider)])
    seen: list[tuple[int, str | None]] = []  # (current span id, ctx.trace_id) in the handler

    def work(ctx: Any, fail_times: int) -> str:
        current = trace.get_current_span().get_span_context()
        seen.append((current.span_id, ctx.trace_id))
        if ctx.attempt <= fail_times:
            raise ValueError(f"flaky {ctx.attempt}")
        return "ok"

    if kind == "sync":
        job = app.job(name="flaky", queue="mail", retries=2, backoff=QUICK)(work)
    else:

        async def flaky(ctx: Any, fail_times: int) -> str:
            return work(ctx, fail_times)

        job = app.job(name="flaky", queue="mail", retries=2, backoff=QUICK)(flaky)

    with provider.get_tracer("web").start_as_current_span("POST /signup") as request:
        handle = job.enqueue(fail_times=2)
    result = drain(app)
    assert result.attempts == 3 and result.succeeded == 1

    spans = exporter.get_finished_spans()
    [root] = [span for span in spans if span.name == "POST /signup"]
    [producer] = by_kind(spans, SpanKind.PRODUCER)
    consumers = by_kind(spans, SpanKind.CONSUMER)
    assert len(spans) == 5 and len(consumers) == 3
    trace_id = request.get_span_context().trace_id
    assert {span.context.trace_id for span in spans} == {trace_id}
    assert parent_id(root) is None
    assert parent_id(producer) == root.context.span_id
    assert [parent_id(span) for span in consumers] == [producer.context.span_id] * 3

    assert producer.name == "send mail"
    assert dict(producer.attributes or {}) == {
        "messaging.system": "conveyor",
        "messaging.destination.name": "mail",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "conveyor.job.name": "flaky",
        "messaging.message.id": str(handle.id),
    }
    check_attempt_spans(consumers, producer, handle.id)

    # Inside the handler, sync or async, the attempt's span is the current span, and the
    # job's logs carry the trace id.
    assert seen == [(span.context.span_id, f"{trace_id:032x}") for span in consumers]


def test_a_dead_letter_replay_lands_in_the_same_trace(
    store_url: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = Conveyor(store_url, middleware=[OpenTelemetryMiddleware(provider)])
    broken = [True]

    @app.job(queue="billing", retries=0)
    async def charge(ctx: Any) -> None:
        if broken[0]:
            raise RuntimeError("card service down")

    with provider.get_tracer("web").start_as_current_span("POST /charge"):
        handle = charge.enqueue(tenant="acme")
    assert drain(app).dead == 1
    [dead] = by_kind(exporter.get_finished_spans(), SpanKind.CONSUMER)
    assert dead.attributes is not None and dead.attributes["conveyor.outcome"] == "dead"
    assert dead.status.status_code is StatusCode.ERROR

    broken[0] = False
    assert app.store.retry_jobs(JobFilter(ids=(handle.id,)), replay=Replay()) == [handle.id]
    drain(app)
    assert app.store.get_job(handle.id).state is JobState.SUCCEEDED  # type: ignore[union-attr]

    spans = exporter.get_finished_spans()
    [producer] = by_kind(spans, SpanKind.PRODUCER)
    first, replayed = by_kind(spans, SpanKind.CONSUMER)
    assert first.context == dead.context
    # The replay is the same job with its headers kept: a child of the original producer span
    # in the request's trace, linked to it like every attempt.
    assert replayed.context.trace_id == producer.context.trace_id
    assert parent_id(replayed) == producer.context.span_id
    assert [link.context.span_id for link in replayed.links] == [producer.context.span_id]
    assert replayed.attributes is not None
    assert replayed.attributes["messaging.message.id"] == str(handle.id)
    assert replayed.attributes["conveyor.tenant"] == "acme"
    assert replayed.attributes["conveyor.outcome"] == "succeeded"
    assert replayed.attributes["conveyor.attempt"] == 1  # a replay starts the count again


def test_a_job_enqueued_without_trace_context_gets_a_root_span(
    store_url: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    # Enqueued by an app without the middleware (or before it was installed): no headers.
    plain = Conveyor(store_url)
    traced = Conveyor(store_url, middleware=[OpenTelemetryMiddleware(provider)])
    for app in (plain, traced):

        @app.job(name="ping")
        def ping(ctx: Any) -> str:
            return f"{trace.get_current_span().get_span_context().trace_id:032x}"

    handle = plain.get("ping").enqueue()
    plain.close()
    drain(traced)
    [span] = exporter.get_finished_spans()
    assert span.kind is SpanKind.CONSUMER and span.parent is None and not span.links
    assert traced.store.get_job(handle.id).result == f"{span.context.trace_id:032x}"  # type: ignore[union-attr]


def test_a_timeout_is_an_error_and_a_cancel_is_not(
    store_url: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = Conveyor(store_url, middleware=[OpenTelemetryMiddleware(provider)])

    @app.job(retries=0, timeout=0.05)
    async def stuck(ctx: Any) -> None:
        await asyncio.sleep(5)

    @app.job
    def unwanted(ctx: Any) -> None:
        raise Cancel("not wanted")

    stuck.enqueue()
    drain(app)
    unwanted.enqueue()
    drain(app)
    timed_out, cancelled = by_kind(exporter.get_finished_spans(), SpanKind.CONSUMER)
    assert timed_out.status.status_code is StatusCode.ERROR
    assert timed_out.attributes is not None
    assert timed_out.attributes["conveyor.outcome"] == "dead"
    assert timed_out.attributes["conveyor.timed_out"] is True
    assert timed_out.attributes["error.type"] == "TimeoutError"
    assert [event.name for event in timed_out.events] == ["exception"]
    assert cancelled.status.status_code is StatusCode.UNSET
    assert cancelled.attributes is not None
    assert cancelled.attributes["conveyor.outcome"] == "cancelled"
    assert "error.type" not in cancelled.attributes and not cancelled.events
