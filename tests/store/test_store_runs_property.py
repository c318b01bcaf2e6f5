"""Property: random graphs with random fan-out widths, item policies and failures always end.

A random graph (up to 30 stages; fan-out stages of up to 6 items) starts as a run; jobs are
then claimed and completed in random batches, the chosen ones dying, until nothing is left to
claim. Whatever happened, the run is final; it failed exactly when a death mattered (a plain
stage, an expander, or an item under ``fail``); no stage ran twice; and every stage that
started got exactly its parents' outputs (fan-in fired once, with every surviving item).
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.models import RunState, StageState
from conveyor.store import Store, open_store
from conveyor.store.contract.run_records import (
    EXPANDER_ITEM,
    ItemPolicy,
    JobTemplate,
    NewRun,
    NewStage,
)
from conveyor.store.protocol import (
    ClaimParams,
    Completion,
    CompletionKind,
    ErrorInfo,
    JobFilter,
)

POLICIES = list(ItemPolicy)


@dataclass(frozen=True)
class Node:
    """A stage of the random graph, and what its jobs will do."""

    name: str
    parents: tuple[str, ...]
    width: int | None
    """Items of a fan-out stage; None for a plain stage."""
    policy: ItemPolicy
    dies: frozenset[int]
    """Items whose job dies (0 for a plain stage, -1 for an expander)."""


@st.composite
def graphs(draw: st.DrawFn) -> list[Node]:
    """A DAG of 1-30 stages: each stage's parents come from the stages before it."""
    size = draw(st.integers(1, 30))
    nodes: list[Node] = []
    for i in range(size):
        names = [n.name for n in nodes]
        parents = draw(st.lists(st.sampled_from(names), max_size=3, unique=True)) if names else []
        fan = len(parents) == 1 and draw(st.booleans())
        width = draw(st.integers(0, 6)) if fan else None
        possible = [EXPANDER_ITEM, *range(width)] if width is not None else [0]
        dies = draw(st.sets(st.sampled_from(possible), max_size=2)) if draw(
            st.integers(0, 9)
        ) == 0 else set()
        nodes.append(
            Node(f"s{i}", tuple(parents), width, draw(st.sampled_from(POLICIES)), frozenset(dies))
        )
    return nodes


def _stage(node: Node) -> NewStage:
    return NewStage(
        name=node.name,
        template=JobTemplate(queue="prop", name=f"p.{node.name}", max_attempts=1),
        parents=node.parents,
        fan_out=node.width is not None,
        on_item_failure=node.policy,
    )


def _output(node: str, item: int) -> str:
    return json.dumps({"n": node, "i": item})


def drive(store: Store, nodes: list[Node], seed: int) -> None:
    """Run the graph to its end and check the properties (see the module docstring)."""
    rng = random.Random(seed)
    by_name = {n.name: n for n in nodes}
    run_id = store.start_run(
        NewRun(pipeline="p", input_json="0", stages=tuple(_stage(n) for n in nodes))
    )
    names = tuple(f"p.{n.name}" for n in nodes)
    fatal = False
    while claimed := store.claim_jobs(
        ClaimParams("w", ("prop",), names, rng.randint(1, 8), 30.0)
    ):
        completions = []
        for job in claimed:
            args = json.loads(job.args_json)
            node = by_name[job.name.removeprefix("p.")]
            item = args["item"]
            if item in node.dies:
                fatal |= item == EXPANDER_ITEM or node.width is None
                fatal |= node.policy is ItemPolicy.FAIL
                boom = ErrorInfo("ValueError", f"{node.name}/{item}")
                completions.append(
                    Completion(job.id, job.token, CompletionKind.DEAD, error=boom, in_run=True)
                )
            elif item == EXPANDER_ITEM:
                assert node.width is not None
                got = store.stage_input(args["stage_run_id"], item)
                assert got is not None and got.parents[0].stage == node.parents[0]
                items = [json.dumps(k) for k in range(node.width)]
                assert store.expand_stage(job.id, job.token, items)
            else:
                _check_input(store, by_name, node, args["stage_run_id"], item)
                completions.append(
                    Completion(
                        job.id, job.token, CompletionKind.SUCCEEDED, _output(node.name, item),
                        in_run=True,
                    )
                )
        rng.shuffle(completions)
        assert all(r.accepted for r in store.complete_jobs(completions))
    run = store.get_run(run_id)
    assert run is not None
    assert run.state is (RunState.FAILED if fatal else RunState.SUCCEEDED), run.error
    assert all(s.state not in (StageState.WAITING, StageState.ACTIVE) for s in run.stages)
    if not fatal:
        assert {s.state for s in run.stages} == {StageState.SUCCEEDED}
    else:
        assert sum(s.state is StageState.FAILED for s in run.stages) == 1
    for s in run.stages:
        node = by_name[s.stage]
        jobs = store.list_jobs(JobFilter(name=f"p.{s.stage}", limit=1000, payloads=False))
        expected = 0 if s.started_at is None else (1 if node.width is None else 1 + s.items_total)
        assert len(jobs) == expected, (s.stage, len(jobs), expected)  # no stage ran twice
        assert not any(not j.state.is_final for j in jobs)


def _check_input(
    store: Store, by_name: dict[str, Node], node: Node, stage_run_id: int, item: int
) -> None:
    """A starting job gets its item, or every parent's output (fan-in over all survivors)."""
    got = store.stage_input(stage_run_id, item)
    assert got is not None
    if node.width is not None:
        assert got.item_input_json == json.dumps(item) and got.parents == ()
        return
    assert [p.stage for p in got.parents] == list(node.parents)
    for parent in got.parents:
        source = by_name[parent.stage]
        if source.width is None:
            assert json.loads(parent.output_json) == json.loads(_output(source.name, 0))
            continue
        survivors = [k for k in range(source.width) if k not in source.dies]
        assert json.loads(parent.output_json) == [
            json.loads(_output(source.name, k)) for k in survivors
        ]
        failed = [f.item for f in parent.failures]
        if source.policy is ItemPolicy.COLLECT:
            assert failed == [k for k in range(source.width) if k in source.dies]
        else:
            assert failed == []


@settings(max_examples=50, deadline=None)
@given(nodes=graphs(), seed=st.integers(0, 2**32))
def test_sqlite_random_runs_always_end(nodes: list[Node], seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'conveyor.db'}")
        try:
            drive(store, nodes, seed)
        finally:
            store.close()


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nodes=graphs(), seed=st.integers(0, 2**32))
def test_postgres_random_runs_always_end(
    fresh_postgres_url: Callable[[], str], nodes: list[Node], seed: int
) -> None:
    store = open_store(fresh_postgres_url())
    try:
        drive(store, nodes, seed)
    finally:
        store.close()
