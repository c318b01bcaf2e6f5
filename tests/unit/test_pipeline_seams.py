"""Unit: declaring pipelines, the import-time seam check and the run-time output and input checks.

No database: a Conveyor app opens its store only on first use, and declaring stages, checking
seams and building a stage's call from a :class:`StageInput` record touch none.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor._lifecycle import JSONText
from conveyor.models import RunState
from conveyor.pipelines import ItemFailure, SeamError
from conveyor.pipelines.seams import OutputCheck, seam_problem
from conveyor.pipelines.wrapper import Expansion, check_output, prepare
from conveyor.store.contract.run_records import (
    EXPANDER_ITEM,
    ParentOutput,
    StageInput,
)
from conveyor.store.contract.run_records import (
    ItemFailure as StoredFailure,
)


class Fetched(pydantic.BaseModel):
    doc_id: int
    chunks: list[str]


class Vector(pydantic.BaseModel):
    doc_id: int
    index: int
    values: list[float]


class RenamedVector(pydantic.BaseModel):
    doc_id: int
    index: int
    vals: list[float]


class Indexed(pydantic.BaseModel):
    doc_id: int
    rows: int


def ingest_app() -> tuple[Conveyor, Any]:
    app = Conveyor("sqlite:///never-opened.db")
    ingest = app.pipeline("ingest", deadline="2h", stall="20m")

    @ingest.stage(retries=5, timeout="1m")
    def fetch(ctx: Any, doc_id: int) -> Fetched:
        return Fetched(doc_id=doc_id, chunks=["a", "b"])

    @ingest.stage(after=fetch, each=lambda f: f.chunks, on_item_failure="collect")
    async def embed(ctx: Any, chunk: str) -> Vector:
        return Vector(doc_id=1, index=0, values=[1.0])

    @ingest.stage(after=embed)
    def index(ctx: Any, vectors: list[Vector | ItemFailure]) -> Indexed:
        return Indexed(doc_id=1, rows=len(vectors))

    return app, ingest


def test_the_issue_example_declares_three_jobs_that_belong_to_a_run() -> None:
    app, ingest = ingest_app()
    assert [s.name for s in ingest.roots] == ["fetch"]
    assert [s.name for s in ingest.sinks] == ["index"]
    assert set(app.jobs) == {"ingest.fetch", "ingest.embed", "ingest.index"}
    assert all(app.jobs[n].in_run for n in app.jobs)
    assert app.jobs["ingest.embed"].is_async and not app.jobs["ingest.fetch"].is_async
    assert app.jobs["ingest.fetch"].options.max_attempts == 6
    assert ingest.deadline == 7200 and ingest.stall == 1200
    template = ingest.stages["fetch"].template()
    assert template.name == "ingest.fetch" and template.timeout == 60


def test_a_renamed_field_at_a_seam_is_refused_at_declaration_naming_both_stages() -> None:
    app = Conveyor("sqlite:///never-opened.db")
    p = app.pipeline("p")

    @p.stage
    def embed(ctx: Any, x: int) -> RenamedVector:
        raise AssertionError

    with pytest.raises(ConfigurationError) as caught:

        @p.stage(after=embed)
        def index(ctx: Any, vector: Vector) -> Indexed:
            raise AssertionError

    message = str(caught.value)
    assert "`index`" in message and "`embed`" in message
    assert "`values: list[float]`" in message and "`vals`" in message
    assert "index" not in p.stages and "p.index" not in app.jobs


def test_fan_in_takes_the_list_of_item_outputs_and_collect_needs_item_failures() -> None:
    app = Conveyor("sqlite:///never-opened.db")
    p = app.pipeline("p")

    @p.stage
    def fetch(ctx: Any, n: int) -> Fetched:
        raise AssertionError

    @p.stage(after=fetch, each=lambda f: f.chunks)
    def embed(ctx: Any, chunk: str) -> Vector:
        raise AssertionError

    with pytest.raises(ConfigurationError, match="list"):

        @p.stage(after=embed)
        def one(ctx: Any, vector: Vector) -> int:
            raise AssertionError

    @p.stage(after=embed)
    def index(ctx: Any, vectors: list[Vector]) -> Indexed:
        raise AssertionError

    q = app.pipeline("q")
    q_fetch = q.stage(name="fetch")(fetch.fn)
    q_embed = q.stage(name="embed", after=q_fetch, each=lambda f: f.chunks,
                      on_item_failure="collect")(embed.fn)
    with pytest.raises(ConfigurationError, match="ItemFailure"):
        q.stage(name="index", after=q_embed)(index.fn)


def test_several_parents_are_taken_by_name() -> None:
    app = Conveyor("sqlite:///never-opened.db")
    p = app.pipeline("p")

    @p.stage
    def a(ctx: Any, n: int) -> int:
        return n

    @p.stage
    def b(ctx: Any, n: int) -> str:
        return str(n)

    with pytest.raises(ConfigurationError, match="named after it"):
        p.stage(name="c", after=[a, b])(lambda ctx, x, y: None)

    with pytest.raises(ConfigurationError, match="`b`"):

        @p.stage(after=[a, b])
        def d(ctx: Any, a: int, b: int) -> None: ...

    @p.stage(after=[a, "b"])
    def e(ctx: Any, b: str, a: float) -> None: ...

    assert [s.name for s in e.parents] == ["a", "b"]


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"each": lambda x: x}, "exactly one parent"),
        ({"on_item_failure": "ignore"}, "on_item_failure"),
        ({"unique": "k"}, "unique="),
        ({"after": "nope"}, "not a stage declared before"),
        ({"retries": -1}, "retries"),
        ({"expect": 3}, "expect="),
    ],
)
def test_bad_options_fail_at_declaration(options: dict[str, Any], needle: str) -> None:
    app = Conveyor("sqlite:///never-opened.db")
    p = app.pipeline("p")
    with pytest.raises(ConfigurationError, match=needle):
        p.stage(name="s", **options)(lambda ctx, n: n)


def test_pipeline_names_are_checked() -> None:
    app = Conveyor("sqlite:///never-opened.db")
    app.pipeline("ok")
    with pytest.raises(ConfigurationError, match="twice"):
        app.pipeline("ok")
    with pytest.raises(ConfigurationError, match=r"'\.'"):
        app.pipeline("a.b")
    with pytest.raises(ConfigurationError, match="deadline"):
        app.pipeline("c", deadline="-5s")


def test_seam_problem_rules() -> None:
    assert seam_problem(float, int) is None
    assert seam_problem(int, float) is not None
    assert seam_problem(Vector | None, Vector) is None
    assert seam_problem(Vector, Vector | RenamedVector) is not None
    assert seam_problem(list[Vector], list[Vector]) is None
    assert seam_problem(dict[str, Any], Vector) is None
    assert seam_problem(Vector, dict[str, Any]) is None  # only the run-time check can tell
    assert seam_problem(Any, RenamedVector) is None

    class Nested(pydantic.BaseModel):
        vector: Vector

    class NestedRenamed(pydantic.BaseModel):
        vector: RenamedVector

    problem = seam_problem(Nested, NestedRenamed)
    assert problem is not None and "`vector.values: list[float]`" in problem


def test_output_violation_names_the_returned_and_the_expected_field() -> None:
    check = OutputCheck("embed", Vector)
    with pytest.raises(SeamError) as caught:
        check.encode({"doc_id": 1, "index": 0, "vals": [0.5]}, 10_000)
    assert str(caught.value) == "embed returned `vals`, expected `values: list[float]`"
    with pytest.raises(SeamError, match=r"`values.1` = 'x'"):
        check.encode({"doc_id": 1, "index": 0, "values": [0.5, "x"]}, 10_000)
    assert json.loads(check.encode(Vector(doc_id=1, index=2, values=[1]), 10_000)) == {
        "doc_id": 1, "index": 2, "values": [1.0]
    }
    # A plain dict of the right shape is accepted: the seam is the shape, not the class.
    assert json.loads(check.encode({"doc_id": 1, "index": 2, "values": []}, 10_000))["index"] == 2
    with pytest.raises(SeamError, match="returned `vals`"):
        check.encode(RenamedVector(doc_id=1, index=2, vals=[1]), 10_000)


def test_output_over_the_size_limit_is_a_permanent_seam_error() -> None:
    app = Conveyor("sqlite:///never-opened.db", max_payload_bytes=100)
    p = app.pipeline("p")

    @p.stage
    def big(ctx: Any, n: int) -> str:
        return "x" * n

    assert check_output(big, "x" * 10) == JSONText(json.dumps("x" * 10))
    with pytest.raises(SeamError, match=r"over the limit of 100 bytes.*return its key"):
        check_output(big, "x" * 200)


def given(**fields: Any) -> StageInput:
    base: dict[str, Any] = {
        "run_id": 1, "stage": "s", "item": 0, "run_state": RunState.RUNNING,
        "run_input_json": "{}", "parents": (),
    }
    return StageInput(**(base | fields))


def test_a_stage_call_is_built_from_its_stored_input() -> None:
    _, ingest = ingest_app()
    fetch, embed, index = (ingest.stages[n] for n in ("fetch", "embed", "index"))
    assert prepare(fetch, given(run_input_json='{"doc_id": 7}'), 1, 0) == {"doc_id": 7}
    expansion = prepare(
        embed,
        given(
            item=EXPANDER_ITEM,
            parents=(ParentOutput("fetch", '{"doc_id":7,"chunks":["a","b"]}'),),
        ),
        1,
        EXPANDER_ITEM,
    )
    assert expansion == Expansion(['"a"', '"b"'])
    assert prepare(embed, given(item=1, item_input_json='"b"'), 1, 1) == {"chunk": "b"}
    vector = '{"doc_id":7,"index":0,"values":[1.0]}'
    call = prepare(
        index,
        given(parents=(ParentOutput("embed", f"[{vector},{vector}]", fan_out=True,
                                    failures=(StoredFailure(1, '"b"', "boom"),)),)),
        1,
        0,
    )
    assert isinstance(call, dict)
    vectors = call["vectors"]
    assert [type(v) for v in vectors] == [Vector, ItemFailure, Vector]
    assert vectors[1] == ItemFailure(item=1, input="b", error="boom")


def test_a_stored_input_that_no_longer_fits_is_a_seam_error() -> None:
    _, ingest = ingest_app()
    with pytest.raises(SeamError, match="stage `fetch` cannot take its input"):
        prepare(ingest.stages["fetch"], given(run_input_json='{"doc_id": "seven"}'), 1, 0)
    with pytest.raises(SeamError, match=r"stored output of `fetch`.*resume from `fetch`"):
        prepare(
            ingest.stages["embed"],
            given(item=EXPANDER_ITEM, parents=(ParentOutput("fetch", '{"doc_id":7}'),)),
            1,
            EXPANDER_ITEM,
        )


def test_a_resume_override_replaces_the_stage_input() -> None:
    _, ingest = ingest_app()
    index = ingest.stages["index"]
    call = prepare(index, given(override_json='[{"doc_id":1,"index":0,"values":[]}]'), 1, 0)
    assert isinstance(call, dict) and call["vectors"][0] == Vector(doc_id=1, index=0, values=[])
