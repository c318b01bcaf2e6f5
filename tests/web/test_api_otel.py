"""An enqueue through the JSON API gets a producer span carrying the new job's id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from conveyor.middleware import MiddlewareChain
from conveyor.otel import OpenTelemetryMiddleware

from .conftest import Served, database_url, make_app


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_api_enqueue_has_a_producer_span_with_the_job_id(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest,
    serve: Callable[..., Served],
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = make_app(database_url(backend, tmp_path, request))
    app.middleware = MiddlewareChain([OpenTelemetryMiddleware(provider)])
    served = serve(app, backend)
    try:
        response = served.admin.post("/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}})
        assert response.status_code == 201, response.text
        bad = served.admin.post("/api/jobs", json={"name": "add", "args": {"x": 1}})
        assert bad.status_code == 422, bad.text  # refused while validating: no span at all
        [span] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER]
        assert (span.attributes or {})["messaging.message.id"] == str(response.json()["id"])
        assert span.status.status_code is StatusCode.UNSET
    finally:
        provider.shutdown()
