"""The examples of docs/pipelines.md, run as written (in process, on both stores)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conveyor.models import RunState
from conveyor.testing import drain

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"


def blocks() -> list[str]:
    """Every ```python block of the guide, in order."""
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def example(marker: str) -> str:
    [found] = [b for b in blocks() if marker in b]
    return found


def run_example(source: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    scope: dict[str, Any] = namespace if namespace is not None else {"__name__": "docs_example"}
    exec(compile(source, str(DOC), "exec"), scope)
    return scope


@pytest.fixture
def url(backend_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CONVEYOR_URL", backend_url)
    return backend_url


def test_the_fetch_embed_index_example_and_its_checkpoint_example(url: str) -> None:
    scope = run_example(example('ingest = app.pipeline("ingest"'))
    app, run = scope["app"], scope["run"]
    try:
        drain(app)
        result = run.result(timeout=5)
        assert (type(result).__name__, result.rows) == ("Indexed", 3)
        assert run.status().stage("embed").items_total == 3
        run_example(example("def refund("), scope)
        handle = scope["refund"].enqueue(order_id=5)
        drain(app)
        assert handle.result(timeout=5) == "ch_5"
    finally:
        app.close()


def test_the_etl_example(url: str) -> None:
    scope = run_example(example('etl = app.pipeline("etl"'))
    app, run = scope["app"], scope["run"]
    try:
        drain(app)
        assert run.result(timeout=5) == 2
        status = run.status()
        assert status.state is RunState.SUCCEEDED
        assert status.stage("transform").items_failed == 1
    finally:
        app.close()


def test_the_workflow_example(url: str) -> None:
    scope = run_example(example('wf = app.workflow("nightly-reports")'))
    app, run = scope["app"], scope["run"]
    try:
        drain(app)
        assert run.result(timeout=5) == "published nightly"
        status = run.status()
        assert [s.name for s in status.stages] == [
            "reports.extract", "reports.extract#2", "reports.extract#3", "reports.publish"
        ]
        assert [s.output for s in status.stages[:3]] == [2, 2, 4]
    finally:
        app.close()


def test_every_python_block_is_an_example_or_a_snippet_of_one() -> None:
    runnable = [b for b in blocks() if "app = Conveyor()" in b or "def refund(" in b]
    snippets = [b for b in blocks() if b not in runnable]
    assert len(runnable) == 5  # the scheduled one runs in test_pipeline_watch.py
    for snippet in snippets:
        assert snippet.lstrip().startswith("run"), snippet
