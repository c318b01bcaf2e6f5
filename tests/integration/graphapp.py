"""Random pipelines for the property test: declared from the spec file ``IT_GRAPH_SPEC``.

Every stage computes a number from its inputs (so the run's result can be predicted), writes
one effect row per (graph, stage, item) into ``graph_effects`` in Conveyor's own database
through ``ctx.transaction`` guarded by ``ctx.once`` (so an effect applied twice would be two
rows), and fails where the spec says: ``fail`` permanently, ``flaky`` on its first attempt.
"""

import inspect
import json
import os
import sqlite3
from typing import Any

from conveyor import Backoff, Conveyor, Permanent

app = Conveyor()
OPTIONS = {"retries": 3, "backoff": Backoff(base=0.05, cap=0.1), "queue": "graph"}


def flatten(value: Any) -> int:
    """The sum of a stage's inputs (a fan-out parent's output is a list)."""
    if isinstance(value, list):
        return sum(flatten(v) for v in value)
    return int(value)


def effect(ctx: Any, graph: str, stage: str, item: int) -> None:
    conn = ctx.transaction
    with ctx.once(graph, stage, item) as first:
        if first:
            mark = "?" if isinstance(conn, sqlite3.Connection) else "%s"
            conn.execute(
                f"INSERT INTO graph_effects (graph, stage, item) VALUES ({mark}, {mark}, {mark})",
                (graph, stage, item),
            )


def declare(graph: dict[str, Any]) -> None:
    pipeline = app.pipeline(graph["name"])
    stages: dict[str, Any] = {}
    for node in graph["nodes"]:
        stages[node["name"]] = pipeline.stage(
            name=node["name"],
            after=[stages[p] for p in node["parents"]] or None,
            each=(lambda v, w=node["width"]: [flatten(v) + i for i in range(w)])
            if node["width"] is not None else None,
            **OPTIONS,
        )(handler(graph["name"], node))


def handler(graph: str, node: dict[str, Any]) -> Any:
    name, parents = node["name"], node["parents"]

    def run(ctx: Any, **inputs: Any) -> int:
        item = 0
        if not parents:
            value = inputs["seed"] + 1
        elif node["width"] is not None:
            item = inputs["value"]
            value = item + 1
        else:
            value = 1 + sum(flatten(v) for v in inputs.values())
        if node["fail"]:
            raise Permanent(f"{name} is set to fail")
        if node["flaky"] and ctx.attempt == 1:
            raise RuntimeError(f"{name} fails its first attempt")
        effect(ctx, graph, name, item)
        return value

    names = ["seed"] if not parents else (
        ["value"] if node["width"] is not None or len(parents) == 1 else list(parents)
    )
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__name__ = name
    return run


if os.environ.get("IT_GRAPH_SPEC"):
    with open(os.environ["IT_GRAPH_SPEC"]) as spec:
        for declared in json.load(spec):
            declare(declared)
