"""The example of docs/tracing.md, run as written (in process, on both stores)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from conveyor.testing import drain

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracing.md"


def test_the_tracing_example_gives_the_trace_the_page_draws(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_URL", store_url)
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    scope: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(code, str(DOC), "exec"), scope)
    app, handle, exporter = scope["app"], scope["handle"], scope["exporter"]
    try:
        drain(app)
        spans = {span.context.span_id: span for span in exporter.get_finished_spans()}

        def tree(parent: int | None, depth: int = 0) -> list[tuple[int, str, SpanKind]]:
            children = sorted(
                (s for s in spans.values() if (s.parent and s.parent.span_id) == parent),
                key=lambda s: s.start_time or 0,
            )
            return [
                row for s in children
                for row in [(depth, s.name, s.kind), *tree(s.context.span_id, depth + 1)]
            ]

        assert tree(None) == [
            (0, "POST /checkout", SpanKind.INTERNAL),
            (1, "send mail", SpanKind.PRODUCER),
            (2, "process mail", SpanKind.CONSUMER),
            (3, "render receipt", SpanKind.INTERNAL),
            (2, "process mail", SpanKind.CONSUMER),
            (3, "render receipt", SpanKind.INTERNAL),
        ]
        first, second = sorted(
            (s for s in spans.values() if s.kind is SpanKind.CONSUMER),
            key=lambda s: s.start_time or 0,
        )
        assert first.status.status_code is StatusCode.ERROR
        assert first.attributes is not None
        assert first.attributes["error.type"] == "ConnectionError"
        assert second.attributes is not None
        assert second.attributes["conveyor.outcome"] == "succeeded"
        assert handle.result(timeout=5) == f"{second.context.trace_id:032x}"
    finally:
        app.close()
