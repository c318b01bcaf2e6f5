"""Property: random pipelines (up to 30 stages, random fan-out widths, random failures), run by
real worker processes that are killed with SIGKILL mid-run, on SQLite and PostgreSQL.

Every run ends in a final state (failed exactly when a stage is set to fail), no effect guarded
by ``ctx.once`` inside ``ctx.transaction`` is applied twice, each stage has exactly the jobs it
should (so a fan-in fired once), and a successful run's result is the predicted number.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.errors import RunFailedError
from conveyor.models import RunState
from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Workers, load_itapp
from .test_once import run_sql

_names = itertools.count()


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    """A random DAG in declaration order (parents come first)."""
    size = draw(st.integers(1, 30))
    nodes: list[dict[str, Any]] = []
    for i in range(size):
        parents = sorted(set(draw(st.lists(st.integers(0, i - 1), max_size=3)))) if i else []
        width = None
        if len(parents) == 1 and draw(st.booleans()):
            width = draw(st.integers(0, 6))
        nodes.append({
            "name": f"n{i}",
            "parents": [f"n{p}" for p in parents],
            "width": width,
            "fail": draw(st.integers(0, 19)) == 0,
            "flaky": draw(st.integers(0, 4)) == 0,
        })
    return {"name": f"g{next(_names)}", "nodes": nodes}


def predict(graph: dict[str, Any], seed: int) -> tuple[Any, dict[str, int]]:
    """The run's result and each stage's number of items, computed the way graphapp does."""
    values: dict[str, Any] = {}
    items: dict[str, int] = {}
    for node in graph["nodes"]:
        inputs = [values[p] for p in node["parents"]]
        total = sum(sum(v) if isinstance(v, list) else v for v in inputs)
        if not node["parents"]:
            values[node["name"]], items[node["name"]] = seed + 1, 1
        elif node["width"] is not None:
            values[node["name"]] = [total + i + 1 for i in range(node["width"])]
            items[node["name"]] = node["width"] + 1  # the expander too
        else:
            values[node["name"]], items[node["name"]] = 1 + total, 1
    parents = {p for n in graph["nodes"] for p in n["parents"]}
    sinks = [n["name"] for n in graph["nodes"] if n["name"] not in parents]
    result = values[sinks[0]] if len(sinks) == 1 else {s: values[s] for s in sinks}
    return result, items


@pytest.fixture
def graph_env(workers: Workers, tmp_path: Path) -> Iterator[tuple[Workers, Path]]:
    run_sql(workers.app.url,
            "CREATE TABLE graph_effects (graph TEXT NOT NULL, stage TEXT NOT NULL, "
            "item INTEGER NOT NULL)")
    yield workers, tmp_path


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(graph=graphs(), seed=st.integers(0, 100), kill_after=st.floats(0.0, 1.5))
def test_random_pipelines_survive_kill_9_and_end_final(
    graph_env: tuple[Workers, Path], graph: dict[str, Any], seed: int, kill_after: float
) -> None:
    workers, tmp_path = graph_env
    spec = tmp_path / f"{graph['name']}.json"
    spec.write_text(json.dumps([graph]))
    workers.env["IT_GRAPH_SPEC"] = str(spec)
    os.environ["IT_GRAPH_SPEC"] = str(spec)
    app: Conveyor = load_itapp(graph["name"], "graphapp")
    try:
        run = app.pipelines[graph["name"]].start(seed=seed)
        config = {"queues": ["graph"], "lease": 2.0, "rescue_interval": 0.3,
                  "poll_interval": 0.1, "concurrency": 4, "processes": 2}
        first = workers.start("graphapp:app", **config)
        time.sleep(kill_after)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        workers.start("graphapp:app", **config)
        detail = eventually(
            lambda: (d := app.store.get_run(run.id)) is not None
            and d.state is not RunState.RUNNING and d,
            timeout=90,
        )
        # A fan-out stage of no items runs no handler, so its ``fail`` never happens.
        failing = any(n["fail"] and n["width"] != 0 for n in graph["nodes"])
        assert detail.state is (RunState.FAILED if failing else RunState.SUCCEEDED), detail.error

        rows = run_sql(app.url, "SELECT stage, item FROM graph_effects WHERE graph = ?",
                       graph["name"])
        applied = Counter((stage, item) for stage, item in rows)
        assert all(count == 1 for count in applied.values()), applied  # never twice

        expected, items = predict(graph, seed)
        for node in graph["nodes"]:
            jobs = app.store.count_jobs(JobFilter(name=f"{graph['name']}.{node['name']}"))
            assert jobs <= items[node["name"]], (node, jobs)  # a fan-in fired at most once
        if failing:
            with pytest.raises(RunFailedError, match="is set to fail"):
                run.result(timeout=1)
            return
        assert run.result(timeout=1) == expected
        for node in graph["nodes"]:
            jobs = app.store.count_jobs(JobFilter(name=f"{graph['name']}.{node['name']}"))
            assert jobs == items[node["name"]], (node, jobs)  # ...and exactly once
        want = sum(max(items[n["name"]] - (n["width"] is not None), 0) for n in graph["nodes"])
        assert sum(applied.values()) == want  # every item's effect, once
    finally:
        workers.cleanup()
        workers.procs.clear()
        app.close()
