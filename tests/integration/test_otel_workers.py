"""Tracing across processes: a worker process's consumer spans join the enqueuer's trace, and
the spans it still buffers are exported when it exits (it leaves with ``os._exit``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from conveyor.models import JobState
from conveyor.otel import OpenTelemetryMiddleware

from .conftest import Workers, load_itapp

pytestmark = pytest.mark.slow


def test_a_worker_process_exports_its_spans_in_the_enqueuers_trace(
    workers: Workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv("IT_SPANS_FILE", str(spans_file))
    workers.env["IT_SPANS_FILE"] = str(spans_file)
    app = load_itapp(tmp_path.name, "otelapp")
    web = TracerProvider()
    with web.get_tracer("web").start_as_current_span("POST /work") as request:
        handles = [app.get("t_sync").enqueue(n=1), app.get("t_async").enqueue(n=2)]
    trace_id = f"{request.get_span_context().trace_id:032x}"
    producers = {}
    for handle in handles:
        job = app.store.get_job(handle.id)
        assert job is not None
        traceparent = job.meta["headers"]["traceparent"]
        _, stored_trace, producer_id, _ = traceparent.split("-")
        assert stored_trace == trace_id
        producers[str(handle.id)] = producer_id

    proc = workers.start("otelapp:app", queues=["traced"], processes=1, burst=True)
    assert proc.wait(timeout=60) == 0
    for handle in handles:
        assert workers.job(handle.id).state is JobState.SUCCEEDED

    # Batched for a minute, so these arrived only through the flush at the process's exit.
    lines = [json.loads(line) for line in spans_file.read_text().splitlines()]
    consumers = [s for s in lines if s["name"] == "process traced"]
    assert len(consumers) == 2
    for span in consumers:
        assert span["trace_id"] == trace_id
        assert span["parent_id"] == producers[span["attributes"]["messaging.message.id"]]
        assert span["attributes"]["conveyor.outcome"] == "succeeded"
    [middleware] = app.middleware.items
    assert isinstance(middleware, OpenTelemetryMiddleware)
    assert middleware.tracer_provider is not None
    middleware.tracer_provider.shutdown()  # type: ignore[attr-defined]  # the SDK's provider
    app.close()
    web.shutdown()
