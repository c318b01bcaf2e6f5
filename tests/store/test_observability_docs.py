"""The examples of docs/observability.md, run as written (in process, on both stores)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conveyor.testing import drain

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


def example(marker: str) -> str:
    """The ```python block of the page that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    [found] = [b for b in blocks if marker in b]
    return found


def test_the_middleware_example(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_URL", store_url)
    scope: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(example("class RequestId(Middleware)"), str(DOC), "exec"), scope)
    app, handle, slow = scope["app"], scope["handle"], scope["slow"]
    try:
        drain(app)
        assert handle.result(timeout=5) == "req-42"
        assert slow.slow == [handle.id]
    finally:
        app.close()


def test_the_tracing_example(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_URL", store_url)
    scope: dict[str, Any] = {"__name__": "docs_example"}
    code = example("app = Conveyor(middleware=[OpenTelemetryMiddleware()])")
    exec(compile(code, str(DOC), "exec"), scope)
    app = scope["app"]

    @app.job
    def job(ctx: Any) -> str | None:
        return ctx.trace_id

    # Without an SDK the API's spans are not recorded, but the context still travels.
    handle = job.enqueue()
    drain(app)
    handle.result(timeout=5)
    app.close()


def test_the_stall_after_example(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_URL", store_url)
    scope: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(example('stall_after="5m"'), str(DOC), "exec"), scope)
    app, build_export = scope["app"], scope["build_export"]
    try:
        handle = build_export.enqueue(pages=3)
        job = app.store.get_job(handle.id)
        assert job.stall_after == 300.0 and job.stalled_for(job.created_at + 3600) is None
        drain(app)
        assert handle.result(timeout=5) == 3
    finally:
        app.close()


def test_the_web_process_metrics_example(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_URL", store_url)
    scope: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(example("AttemptMetrics(REGISTRY"), str(DOC), "exec"), scope)
    app, registry = scope["app"], scope["REGISTRY"]
    [metrics] = app.middleware.items
    try:
        @app.job(queue="emails")
        def mail(ctx: Any, to: str) -> None: ...

        mail.enqueue(to="a@example.com")
        mail.enqueue(to="b@example.com")
        labels = {"queue": "emails", "job": mail.name}
        assert registry.get_sample_value("conveyor_jobs_enqueued_total", labels) == 2
    finally:
        app.close()
        # The process-wide registry outlives this test: leave it as it was.
        for collector in (metrics.attempts, metrics.enqueued, metrics.timed_out,
                          metrics.duration, metrics.wait):
            registry.unregister(collector)
