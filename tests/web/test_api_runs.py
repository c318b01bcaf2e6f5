"""The runs API (/api/runs) against a real server, on SQLite and PostgreSQL, with the real
worker running the stages (burst mode) in between."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.models import RunState
from conveyor.store.contract.run_records import RunFilter
from conveyor.web import runs_view

from .conftest import Served, database_url
from .run_app import BAD_FEED, GOOD_FEED, finish_runs, make_run_app, run_state
from .test_api import assert_error


@pytest.fixture(params=["sqlite", "postgres"])
def runs(request: pytest.FixtureRequest, tmp_path: Path, serve: Callable[..., Served]) -> Served:
    """The dashboard of the web tests' app with pipeline ``etl``, on each backend."""
    backend: str = request.param
    return serve(make_run_app(database_url(backend, tmp_path, request)), backend)


def start(served: Served, feed: str = GOOD_FEED, **body: Any) -> int:
    """Start a run of ``etl`` through the API; its id."""
    response = served.admin.post("/api/runs", json={"pipeline": "etl", "input": {"feed": feed},
                                                    **body})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def run_count(served: Served) -> int:
    return len(served.app.store.list_runs(RunFilter(limit=1000)))


def actions(served: Served, run_id: int, action: str) -> list[Any]:
    """The audit log's records of ``action`` on run ``run_id``."""
    return [a for a in served.app.store.list_actions(target=f"run:{run_id}")
            if a.action == action]


def test_start_read_and_list_a_run_that_succeeds(runs: Served) -> None:
    response = runs.admin.post("/api/runs", json={"pipeline": "etl",
                                                  "input": {"feed": GOOD_FEED}})
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["pipeline"] == "etl" and started["state"] == "running"
    run_id = started["id"]
    before = runs.admin.get(response.headers["location"]).json()
    assert [s["name"] for s in before["stages"]] == ["extract", "transform", "load"]
    assert [s["state"] for s in before["stages"]] == ["active", "waiting", "waiting"]
    assert before["input"] == {"feed": GOOD_FEED}
    [action] = runs.app.store.list_actions(target=f"run:{run_id}")
    assert (action.actor, action.action) == ("token-1", "run.start")

    finish_runs(runs.app)
    run = runs.reader.get(f"/api/runs/{run_id}").json()
    assert run["state"] == "succeeded" and run["result"] == 3 and run["error"] is None
    extract, transform, load = run["stages"]
    assert extract["output"] == ["apple, 1.20", "pear, 0.90", "plum, 0.85"]
    assert extract["attempts"] == 1 and extract["max_attempts"] >= 1
    assert extract["job_id"] == extract["job_ids"][0]
    assert transform["fan_out"] and transform["on_item_failure"] == "fail"
    assert (transform["items_total"], transform["items_left"], transform["items_failed"]) == (
        3, 0, 0)
    assert transform["attempts"] is None and len(transform["job_ids"]) == 4  # expander + 3
    assert transform["output"][0] == {"sku": "apple", "cents": 120}
    assert load["output"] == 3 and load["duration"] is not None and load["parents"] == [
        "transform"]

    listed = runs.reader.get("/api/runs").json()
    assert [r["id"] for r in listed["runs"]] == [run_id]
    assert listed["runs"][0]["stages_done"] == 3 and listed["next_before_id"] is None
    assert runs.reader.get("/api/runs", params={"state": "failed"}).json()["runs"] == []
    assert runs.reader.get("/api/runs", params={"pipeline": "other"}).json()["runs"] == []
    both = runs.reader.get("/api/runs", params={"state": "running,succeeded"}).json()
    assert len(both["runs"]) == 1


def test_the_list_pages_by_keyset(runs: Served) -> None:
    ids = [start(runs) for _ in range(3)]
    first = runs.reader.get("/api/runs", params={"limit": 2}).json()
    assert [r["id"] for r in first["runs"]] == ids[:0:-1]
    second = runs.reader.get("/api/runs", params={"limit": 2,
                                                  "before_id": first["next_before_id"]}).json()
    assert [r["id"] for r in second["runs"]] == ids[:1] and second["next_before_id"] is None


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ({"pipeline": "nope", "input": {}}, 404, "unknown_pipeline", "declares: etl"),
        ({"input": {"feed": "x"}}, 400, "invalid_request", '"pipeline"'),
        ({"pipeline": "etl", "input": {"feed": "x"}, "queue": "q"}, 400, "invalid_request",
         "'queue'"),
        ({"pipeline": "etl", "input": ["x"]}, 422, "invalid_input", "JSON object"),
        ({"pipeline": "etl", "input": {}}, 422, "invalid_input", "feed"),
        ({"pipeline": "etl", "input": {"feed": 7}}, 422, "invalid_input", "feed"),
        ({"pipeline": "etl", "input": {"feed": "x", "extra": 1}}, 422, "invalid_input",
         "extra"),
        ({"pipeline": "etl", "input": {"feed": "x", "tenant": "a"}}, 422, "invalid_input",
         "tenant"),
        ({"pipeline": "etl", "input": {"feed": "x"}, "tenant": 5}, 422, "invalid_options",
         "tenant"),
        ({"pipeline": "etl", "input": {"feed": "a\x00b"}}, 422, "invalid_input", "NUL"),
        ({"pipeline": "etl", "input": {"feed": "x" * 300_000}}, 413, "too_large", "limit"),
        (["etl"], 400, "invalid_request", "JSON object"),
    ],
)
def test_bad_starts_are_4xx_that_say_what_is_wrong_and_write_nothing(
    runs: Served, body: Any, status: int, code: str, says: str
) -> None:
    found = assert_error(runs.admin.post("/api/runs", json=body), status, code)
    assert says in found["message"], found
    assert run_count(runs) == 0
    assert runs.app.store.list_actions() == []


def test_bodies_that_are_not_json_are_refused(runs: Served) -> None:
    client = runs.admin
    assert_error(client.post("/api/runs", content=b"{nope",
                             headers={"content-type": "application/json"}), 400, "invalid_json")
    assert_error(client.post("/api/runs", content=b""), 400, "invalid_json")
    assert_error(client.post("/api/runs", data={"pipeline": "etl"}), 415,
                 "unsupported_media_type")
    assert run_count(runs) == 0


def test_who_may_start_cancel_and_resume(runs: Served) -> None:
    body = {"pipeline": "etl", "input": {"feed": GOOD_FEED}}
    assert_error(runs.anonymous.post("/api/runs", json=body), 401, "unauthenticated")
    assert_error(runs.anonymous.get("/api/runs"), 401, "unauthenticated")
    assert_error(runs.reader.post("/api/runs", json=body), 403, "read_only")
    browser = runs.browser()
    assert_error(browser.post("/api/runs", json=body), 403, "csrf")
    assert run_count(runs) == 0
    run_id = start(runs)
    assert_error(runs.reader.post(f"/api/runs/{run_id}/cancel"), 403, "read_only")
    assert_error(browser.post(f"/api/runs/{run_id}/resume", json={}), 403, "csrf")
    assert runs.reader.get(f"/api/runs/{run_id}").status_code == 200


def test_cancel_a_running_run(runs: Served) -> None:
    run_id = start(runs)
    response = runs.admin.post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": run_id, "action": "cancel", "changed": True,
                               "state": "cancelled"}
    assert run_state(runs.app, run_id) is RunState.CANCELLED
    again = assert_error(runs.admin.post(f"/api/runs/{run_id}/cancel"), 409,
                         "invalid_transition")
    assert again["state"] == "cancelled"
    [action] = actions(runs, run_id, "run.cancel")
    assert action.actor == "token-1"


@pytest.mark.parametrize("path", ["/api/runs/{}", "/api/runs/{}/cancel", "/api/runs/{}/resume"])
def test_bad_and_unknown_run_ids(runs: Served, path: str) -> None:
    send: Callable[..., httpx.Response] = (runs.admin.get if path == "/api/runs/{}"
                                           else runs.admin.post)
    assert_error(send(path.format(424242)), 404, "run_not_found")
    for bad in ("abc", "0", "-1", "²", str(2**63)):
        found = assert_error(send(path.format(bad)), 400, "invalid_parameter")
        assert found["parameter"] == "run_id"


@pytest.mark.parametrize("query", [{"state": "sleeping"}, {"limit": "0"}, {"before_id": "x"},
                                   {"color": "red"}, {"pipeline": "a\nb"}])
def test_bad_list_parameters_are_400(runs: Served, query: dict[str, str]) -> None:
    assert_error(runs.reader.get("/api/runs", params=query), 400, "invalid_parameter")


def failed_run(served: Served) -> int:
    """A run of ``etl`` failed at transform's item 1 (``pear, n/a``)."""
    run_id = start(served, BAD_FEED)
    finish_runs(served.app)
    assert run_state(served.app, run_id) is RunState.FAILED
    return run_id


def test_resume_with_a_corrected_input_finishes_the_run(runs: Served) -> None:
    run_id = failed_run(runs)
    run = runs.reader.get(f"/api/runs/{run_id}").json()
    assert "pear, n/a" in run["error"] and run["stages"][1]["state"] == "failed"
    extract_job = run["stages"][0]["job_id"]

    fixed = ["apple, 1.20", "pear, 0.90", "plum, 0.85"]
    dry = runs.admin.post(f"/api/runs/{run_id}/resume",
                          json={"from": "transform", "input": fixed, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"run_id": run_id, "pipeline": "etl", "rerun": ["transform", "load"],
                          "reuse": ["extract"], "from": "transform", "input": fixed,
                          "applied": False}
    assert run_state(runs.app, run_id) is RunState.FAILED  # a dry run writes nothing

    done = runs.admin.post(f"/api/runs/{run_id}/resume",
                           json={"from": "transform", "input": fixed})
    assert done.status_code == 200, done.text
    assert done.json()["applied"] is True
    assert run_state(runs.app, run_id) is RunState.RUNNING
    finish_runs(runs.app)
    after = runs.reader.get(f"/api/runs/{run_id}").json()
    assert after["state"] == "succeeded" and after["result"] == 3 and after["resumes"] == 1
    assert after["stages"][0]["job_id"] == extract_job  # extract did not run again
    assert after["stages"][1]["override"] == fixed
    [action] = actions(runs, run_id, "run.resume")
    assert action.actor == "token-1"


def test_resume_refusals_are_4xx_and_write_nothing(runs: Served) -> None:
    running = start(runs)
    found = assert_error(runs.admin.post(f"/api/runs/{running}/resume"), 409, "resume_refused")
    assert "still running" in found["message"]
    run_id = failed_run(runs)
    url = f"/api/runs/{run_id}/resume"
    cases: list[tuple[Any, int, str, str]] = [
        ({"from": "nope"}, 409, "resume_refused", "no stage 'nope'"),
        ({"input": ["x"]}, 409, "resume_refused", "from_="),
        ({"from": "transform", "input": "not a list"}, 422, "invalid_input", "transform"),
        ({"from": "extract", "input": {"feed": 5}}, 422, "invalid_input", "feed"),
        ({"from": 3}, 422, "invalid_resume", '"from"'),
        ({"dry_run": "yes"}, 422, "invalid_resume", "dry_run"),
        ({"form": "transform"}, 400, "invalid_request", "'form'"),
        (["transform"], 400, "invalid_request", "JSON object"),
    ]
    for body, status, code, says in cases:
        found = assert_error(runs.admin.post(url, json=body), status, code)
        assert says in found["message"], (body, found)
    assert run_state(runs.app, run_id) is RunState.FAILED
    assert actions(runs, run_id, "run.resume") == []
    # An empty body resumes what failed: transform (and load after it).
    plain = runs.admin.post(url)
    assert plain.status_code == 200 and plain.json()["rerun"] == ["transform", "load"]


def test_a_run_of_a_pipeline_the_app_does_not_declare(
    runs: Served, serve: Callable[..., Served], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run_id = failed_run(runs)
    # A second dashboard over the same database whose app lacks the pipeline: it can show
    # the run, not resume it (the code is what checks the stored outputs).
    from .conftest import make_app

    other = serve(make_app(runs.app.url), runs.backend)
    assert other.reader.get(f"/api/runs/{run_id}").json()["state"] == "failed"
    found = assert_error(other.admin.post(f"/api/runs/{run_id}/resume"), 409,
                         "pipeline_not_declared")
    assert "etl" in found["message"]


DOCS = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"


def test_the_runs_example_of_the_docs(runs: Served) -> None:
    """docs/dashboard.md's curl example of runs, sent as written: the answers it shows."""
    text = DOCS.read_text()
    block = text[text.index("$ curl -s -X POST http://127.0.0.1:8000/api/runs "):]
    block = block[: block.index("```")]
    bodies = [json.loads(b) for b in re.findall(r"-d '(.*?)'\n", block)]
    answers = [json.loads(line) for line in block.splitlines() if line.startswith("{")]
    assert len(bodies) == len(answers) == 2
    started = runs.admin.post("/api/runs", json=bodies[0])
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    assert started.json() == {**answers[0], "id": run_id}
    finish_runs(runs.app)
    plan = runs.admin.post(f"/api/runs/{run_id}/resume", json=bodies[1])
    assert plan.status_code == 200, plan.text
    assert plan.json() == {**answers[1], "run_id": run_id}


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_runs_api_never_answers_5xx_and_keeps_to_its_document(
    runs: Served, mode: str
) -> None:
    """Schemathesis over the /api/runs operations, with a failed and a running run to hit."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    failed_run(runs)
    start(runs)
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    auth = {"Authorization": f"Bearer {runs.admin_token}"}
    schema = schemathesis.openapi.from_url(f"{runs.url}/api/openapi.json", headers=auth)
    schema = schema.include(path_regex=r"^/api/runs")
    failures: list[str] = []

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(generation_mode=generation))
    def exercise(case: Any) -> None:
        response = case.call(base_url=runs.url, headers=auth, timeout=10)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                            f"{response.text[:300]}")
        assert response.status_code < 500, failures[-1]
        if generation is GenerationMode.POSITIVE:
            case.validate_response(response, headers=auth)

    exercise()
    assert failures == []


def test_retrying_a_dead_stage_job_says_to_resume_its_run(runs: Served) -> None:
    """A finished stage job runs again only with its run (decision 75): the retry is a 409
    that names the run to resume, and writes nothing."""
    run_id = failed_run(runs)
    transform = runs.reader.get(f"/api/runs/{run_id}").json()["stages"][1]
    dead = [j for j in transform["job_ids"]
            if runs.reader.get(f"/api/jobs/{j}").json()["state"] == "dead"]
    assert len(dead) == 1
    found = assert_error(runs.admin.post(f"/api/jobs/{dead[0]}/retry"), 409, "stage_job")
    assert f"conveyor runs resume {run_id}" in found["message"]
    assert found["runs"] == [run_id]
    assert runs.reader.get(f"/api/jobs/{dead[0]}").json()["state"] == "dead"
    assert run_state(runs.app, run_id) is RunState.FAILED


def test_large_outputs_are_summarized_and_paged(
    runs: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output over OUTPUT_SHOWN bytes is left out of the run (its size and item count
    stay), in full with ?include=output, and paged by the stage output route."""
    run_id = start(runs)
    finish_runs(runs.app)
    monkeypatch.setattr(runs_view, "OUTPUT_SHOWN", 60)  # the etl items' list is ~100 bytes
    run = runs.reader.get(f"/api/runs/{run_id}").json()
    extract, transform, load = run["stages"]
    assert transform["output"] is None and transform["output_truncated"] is True
    assert transform["output_items"] == 3 and transform["output_bytes"] > 60
    assert load["output"] == 3 and load["output_truncated"] is False
    assert (load["output_items"], load["output_bytes"]) == (1, 1)
    assert run["result"] == 3 and run["result_truncated"] is False
    full = runs.reader.get(f"/api/runs/{run_id}", params={"include": "output"}).json()
    assert full["stages"][1]["output"][0] == {"sku": "apple", "cents": 120}
    assert full["stages"][1]["output_truncated"] is False

    url = f"/api/runs/{run_id}/stages/transform/output"
    first = runs.reader.get(url, params={"limit": "2"}).json()
    assert first == {"run_id": run_id, "stage": "transform", "state": "succeeded",
                     "fan_out": True, "total": 3, "offset": 0, "limit": 2,
                     "outputs": full["stages"][1]["output"][:2], "next_offset": 2}
    rest = runs.reader.get(url, params={"offset": "2"}).json()
    assert rest["outputs"] == full["stages"][1]["output"][2:] and rest["next_offset"] is None
    plain = runs.reader.get(f"/api/runs/{run_id}/stages/load/output").json()
    assert (plain["total"], plain["outputs"], plain["fan_out"]) == (1, [3], False)
    assert extract["output"] is None or len(extract["output"]) == 3

    assert_error(runs.reader.get(f"/api/runs/{run_id}", params={"include": "all"}), 400,
                 "invalid_parameter")
    assert_error(runs.reader.get(url, params={"limit": "0"}), 400, "invalid_parameter")
    assert_error(runs.reader.get(url, params={"page": "2"}), 400, "invalid_parameter")
    found = assert_error(runs.reader.get(f"/api/runs/{run_id}/stages/nope/output"), 404,
                         "stage_not_found")
    assert "extract, transform, load" in found["message"]
    assert_error(runs.reader.get("/api/runs/999999/stages/load/output"), 404, "run_not_found")
    # The page is read by the store now: a name PostgreSQL cannot take is still a 404.
    assert_error(runs.reader.get(f"/api/runs/{run_id}/stages/lo%00ad/output"), 404,
                 "stage_not_found")


def test_a_fan_out_of_more_items_than_a_run_reads_is_left_out_with_where_to_page_it(
    runs: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fan-out stage of more than RUN_OUTPUTS items is read without its outputs (decision
    109): left out, with its item count, no size, and output_url, the paged route; in full
    with ?include=output. Smaller stages and plain stages are inlined as before."""
    run_id = start(runs)
    finish_runs(runs.app)
    small = runs.reader.get(f"/api/runs/{run_id}").json()
    assert [s["output_url"] for s in small["stages"]] == [None, None, None]
    monkeypatch.setattr(runs_view, "RUN_OUTPUTS", 2)  # the etl fan-out has 3 items
    run = runs.reader.get(f"/api/runs/{run_id}").json()
    extract, transform, load = run["stages"]
    assert (transform["output"], transform["output_bytes"]) == (None, None)
    assert transform["output_truncated"] is True and transform["output_items"] == 3
    assert transform["output_url"].endswith(f"/api/runs/{run_id}/stages/transform/output")
    assert transform["items_total"] == 3 and len(transform["job_ids"]) == 4
    assert {k: v for k, v in transform.items() if not k.startswith("output")} == {
        k: v for k, v in small["stages"][1].items() if not k.startswith("output")}
    assert (extract, load, run["result"]) == (small["stages"][0], small["stages"][2], 3)
    paged = runs.reader.get(transform["output_url"]).json()
    assert paged["outputs"] == small["stages"][1]["output"] and paged["total"] == 3
    full = runs.reader.get(f"/api/runs/{run_id}", params={"include": "output"}).json()
    assert full["stages"][1] == small["stages"][1]
