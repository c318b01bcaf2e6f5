"""OpenTelemetry middleware with the SDK's in-memory exporter, on both stores: a request span,
an enqueue and three attempts form one trace with the right parents."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conveyor import Backoff, Conveyor
from conveyor.otel import OpenTelemetryMiddleware
from conveyor.testing import drain


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_request_enqueue_and_attempts_form_one_trace(
    store_url: str, spans: tuple[TracerProvider, InMemorySpanExporter], asynchronous: bool
) -> None:
    provider, exporter = spans
    app = Conveyor(store_url, middleware=[OpenTelemetryMiddleware(provider)])
    tracer = provider.get_tracer("test")

    def body(ctx: Any) -> str:
        # The handler's own span nests under the attempt's consumer span.
        with tracer.start_as_current_span(f"work {ctx.attempt}"):
            if ctx.attempt < 3:
                raise ValueError(f"attempt {ctx.attempt} fails")
        return "done"

    if asynchronous:
        @app.job(name="traced", queue="mail", retries=3, backoff=Backoff(base=0.01, cap=0.01))
        async def traced(ctx: Any) -> str:
            return body(ctx)
    else:
        @app.job(name="traced", queue="mail", retries=3, backoff=Backoff(base=0.01, cap=0.01))
        def traced(ctx: Any) -> str:
            return body(ctx)

    with tracer.start_as_current_span("POST /signup") as request:
        handle = traced.enqueue()
    drain(app)
    assert handle.result(timeout=5) == "done"
    finished = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    [root] = by_name["POST /signup"]
    [send] = by_name["send mail"]
    process = sorted(by_name["process mail"], key=lambda s: s.attributes["conveyor.attempt"])
    assert len(process) == 3
    trace_id = request.get_span_context().trace_id
    assert {s.context.trace_id for s in finished} == {trace_id}
    assert send.parent.span_id == root.context.span_id
    assert send.kind is trace.SpanKind.PRODUCER
    assert send.attributes["messaging.destination.name"] == "mail"
    for number, span in enumerate(process, start=1):
        assert span.kind is trace.SpanKind.CONSUMER
        assert span.parent.span_id == send.context.span_id
        assert span.attributes["messaging.system"] == "conveyor"
        assert span.attributes["messaging.message.id"] == str(handle.id)
        assert span.attributes["conveyor.job.name"] == "traced"
        [work] = by_name[f"work {number}"]
        assert work.parent.span_id == span.context.span_id
    assert [s.attributes["conveyor.outcome"] for s in process] == [
        "retrying", "retrying", "succeeded",
    ]
    assert process[0].attributes["error.type"] == "ValueError"
    assert process[0].status.status_code is trace.StatusCode.ERROR
    assert process[2].status.status_code is trace.StatusCode.UNSET
    app.close()
