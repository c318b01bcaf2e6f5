"""The dashboard's run pages over real HTTP, on SQLite and PostgreSQL: the list, a run's
page with its SVG stage graph and stage table, what a stage waits for, and the cancel and
resume forms (CSRF, read-only, audit)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conveyor.models import RunState
from conveyor.store.protocol import ClaimedJob, ClaimParams, Completion, CompletionKind
from conveyor.web import pages_runs, runs_view

from .conftest import Served, database_url
from .run_app import BAD_FEED, GOOD_FEED, finish_runs, make_run_app, run_state
from .test_pages import csrf, flash_of, post


@pytest.fixture(params=["sqlite", "postgres"])
def runs(request: pytest.FixtureRequest, tmp_path: Path, serve: Callable[..., Served]) -> Served:
    """The dashboard of the web tests' app with pipeline ``etl``, on each backend."""
    backend: str = request.param
    return serve(make_run_app(database_url(backend, tmp_path, request)), backend)


def start(served: Served, feed: str = GOOD_FEED) -> int:
    return served.app.pipelines["etl"].start(feed=feed).id


def boxes(page: httpx.Response) -> dict[str, str]:
    """The stage graph's boxes: stage name -> state (from the box's CSS class)."""
    found = re.findall(r'class="stage-box stage-(\w+)" data-stage="([^"]+)"', page.text)
    return {name: state for state, name in found}


def test_the_run_page_draws_the_graph_and_the_stages(runs: Served) -> None:
    run_id = start(runs)
    client = runs.browser()
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text
    assert boxes(page) == {"extract": "active", "transform": "waiting", "load": "waiting"}
    assert page.text.count('class="edge ') == 2  # extract -> transform -> load
    assert 'data-refresh="2"' in page.text  # a running run refreshes itself
    assert 'aria-current="page"' in page.text and ">Runs</a>" in page.text

    finish_runs(runs.app)
    page = client.get(f"/runs/{run_id}")
    assert boxes(page) == {"extract": "succeeded", "transform": "succeeded",
                           "load": "succeeded"}
    assert "3/3 items" in page.text  # the fan-out box counts its items
    assert 'class="edge edge-succeeded"' in page.text
    assert "data-refresh" not in page.text
    text = html.unescape(page.text)
    assert '"sku": "apple"' in text  # the fan-out's output, expandable
    row = re.search(r'<tr id="stage-extract".*?</tr>', page.text, re.S)
    assert row is not None and "1/" in row.group(0)  # attempts
    assert 'name="from"' in page.text  # a finished run can be resumed

    listed = client.get("/runs")
    assert listed.status_code == 200 and f'data-run="{run_id}"' in listed.text
    assert f'data-run="{run_id}"' not in client.get("/runs", params={"state": "failed"}).text
    assert client.get("/runs", params={"state": "asleep"}).status_code == 400

    # A stage job's page links to its run and stage.
    job_id = runs.app.store.get_run(run_id).stages[0].job_ids[0]  # type: ignore[union-attr]
    job_page = client.get(f"/jobs/{job_id}")
    assert f'/runs/{run_id}#stage-extract' in job_page.text


def test_a_fan_out_too_large_to_read_shows_its_first_items_and_links_to_the_rest(
    runs: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fan-out stage of more than RUN_OUTPUTS items is read without its outputs (decision
    109): the page shows its first PAGE_OUTPUTS item outputs, how many there are, and links
    to the paged JSON of all of them."""
    run_id = start(runs)
    finish_runs(runs.app)
    monkeypatch.setattr(runs_view, "RUN_OUTPUTS", 2)  # the etl fan-out has 3 items
    monkeypatch.setattr(pages_runs, "PAGE_OUTPUTS", 2)
    client = runs.browser()
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "first 2 of 3 item outputs" in text
    assert '"sku": "apple"' in text and '"sku": "pear"' in text and '"sku": "plum"' not in text
    link = re.search(r'href="([^"]*/api/runs/\d+/stages/transform/output)"', page.text)
    assert link is not None and "all 3 item outputs, paged" in text
    paged = runs.reader.get(link.group(1))
    assert [o["sku"] for o in paged.json()["outputs"]] == ["apple", "pear", "plum"]


def test_markup_in_outputs_and_errors_is_text(runs: Served) -> None:
    run_id = start(runs, "<script>alert(1)</script>, n/a\n")
    finish_runs(runs.app)
    page = runs.browser().get(f"/runs/{run_id}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def claim(served: Served, limit: int = 1) -> list[ClaimedJob]:
    """Claim ready stage jobs of pipeline etl, as a worker would."""
    names = ("etl.extract", "etl.transform", "etl.load")
    return served.app.store.claim_jobs(ClaimParams("w", ("etl",), names, limit, 30.0))


def test_a_waiting_stage_says_what_it_waits_for(runs: Served) -> None:
    run_id = start(runs, "a, 1\nb, 2\nc, n/a\nd, 4\n")
    store = runs.app.store
    lines = ["a, 1", "b, 2", "c, n/a", "d, 4"]
    [extract] = claim(runs)
    store.complete_jobs([Completion(extract.id, extract.token, CompletionKind.SUCCEEDED,
                                    result_json=json.dumps(lines), in_run=True)])
    [expander] = claim(runs)
    assert store.expand_stage(expander.id, expander.token, [json.dumps(x) for x in lines])
    first, second = claim(runs, 2)
    store.complete_jobs([
        Completion(first.id, first.token, CompletionKind.SUCCEEDED,
                   result_json='{"sku": "a", "cents": 100}', in_run=True),
    ])
    page = runs.browser().get(f"/runs/{run_id}")
    text = html.unescape(page.text)
    assert "stage `load` is waiting for 3 of 4 items of `transform`" in text
    assert "waiting for 3 of 4 items of `transform`; none failed (policy fail)" in text
    assert "no worker is running" in text  # the next waiting item's own reason
    assert boxes(page)["transform"] == "active" and "1/4 items" in page.text
    job_page = runs.browser().get(f"/jobs/{second.id}")
    assert "item 1" in job_page.text and f"/runs/{run_id}#stage-transform" in job_page.text


def test_cancel_from_the_page(runs: Served) -> None:
    run_id = start(runs)
    client = runs.browser()
    token = csrf(client.get(f"/runs/{run_id}"))
    refused = client.post(f"/runs/{run_id}/cancel", data={"csrf_token": "stale"})
    assert refused.status_code == 403
    reader = runs.browser(runs.read_token)
    assert post(reader, f"/runs/{run_id}/cancel", token).status_code == 403
    assert run_state(runs.app, run_id) is RunState.RUNNING
    assert flash_of(post(client, f"/runs/{run_id}/cancel", token)) == f"run {run_id} cancelled"
    assert run_state(runs.app, run_id) is RunState.CANCELLED
    again = post(client, f"/runs/{run_id}/cancel", token)
    assert "nothing to cancel" in str(httpx.URL(again.headers["location"]).params["error"])
    assert [a.actor for a in runs.app.store.list_actions(target=f"run:{run_id}")] == ["token-1"]


def test_resume_from_the_page(runs: Served) -> None:
    run_id = start(runs, BAD_FEED)
    finish_runs(runs.app)
    client = runs.browser()
    page = client.get(f"/runs/{run_id}")
    assert boxes(page)["transform"] == "failed" and "pear, n/a" in html.unescape(page.text)
    token = csrf(page)
    url = f"/runs/{run_id}/resume"

    dry = post(client, url, token, **{"from": "transform", "input": "", "dry_run": "1"})
    assert flash_of(dry) == ("dry run: would re-run transform, load; reusing extract; "
                             "nothing was written")
    assert run_state(runs.app, run_id) is RunState.FAILED

    bad = post(client, url, token, **{"from": "transform", "input": "[1, 2"})
    assert bad.status_code == 422 and "not valid JSON" in bad.text
    assert "[1, 2</textarea>" in bad.text  # what was typed is kept
    wrong = post(client, url, token, **{"from": "transform", "input": '{"a": 1}'})
    assert wrong.status_code == 422 and "transform" in html.unescape(wrong.text)
    refused = post(client, url, token, **{"from": "", "input": '["x"]'})
    assert refused.status_code == 409 and "from_=" in html.unescape(refused.text)
    assert run_state(runs.app, run_id) is RunState.FAILED

    fixed = '["apple, 1.20", "pear, 0.90", "plum, 0.85"]'
    done = post(client, url, token, **{"from": "transform", "input": fixed})
    assert flash_of(done) == "resumed: re-running transform, load; reusing extract"
    finish_runs(runs.app)
    assert run_state(runs.app, run_id) is RunState.SUCCEEDED
    assert boxes(client.get(f"/runs/{run_id}"))["load"] == "succeeded"
    resumes = [a for a in runs.app.store.list_actions(target=f"run:{run_id}")
               if a.action == "run.resume"]
    assert [a.actor for a in resumes] == ["token-1"]


def test_bad_run_addresses(runs: Served) -> None:
    client = runs.browser()
    assert client.get("/runs/424242").status_code == 404
    assert client.get("/runs/abc").status_code == 400
    assert client.get("/runs", params={"before_id": "x"}).status_code == 400
    assert client.get("/runs", params={"pipeline": "a\x01"}).status_code == 400


def test_a_workflow_run_is_shown_and_resumed_like_a_pipeline_run(runs: Served) -> None:
    app = runs.app
    wf = app.workflow("nightly")
    first = wf.add(app.get("add"), x=1, y=2)
    wf.add(app.get("echo"), after=[first], text="done")
    run_id = wf.start().id
    client = runs.browser()
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text
    assert boxes(page) == {"add": "active", "echo": "waiting"}
    job_id = app.store.get_run(run_id).stages[0].job_ids[0]  # type: ignore[union-attr]
    assert f"/runs/{run_id}#stage-add" in client.get(f"/jobs/{job_id}").text
    api = runs.reader.get(f"/api/runs/{run_id}").json()
    assert api["pipeline"] == "nightly" and [s["job_name"] for s in api["stages"]] == [
        "add", "echo"]
    assert runs.admin.post(f"/api/runs/{run_id}/cancel").json()["state"] == "cancelled"
    # A workflow resumes without a declaration: its graph and arguments are in the run.
    page = client.get(f"/runs/{run_id}")
    assert 'name="from"' in page.text
    dry = post(client, f"/runs/{run_id}/resume", csrf(page), dry_run="1")
    assert flash_of(dry).startswith("dry run: would re-run add, echo")
