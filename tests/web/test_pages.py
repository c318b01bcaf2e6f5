"""The dashboard pages over real HTTP (uvicorn), on SQLite and PostgreSQL.

Jobs are put in the states a test needs through the store's own verbs (claim, complete), as
a worker would; the pages are read and driven as a browser would, with a session cookie and
the CSRF token the pages carry.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from conveyor import Conveyor
from conveyor.models import JobState
from conveyor.schedules.scheduler import Scheduler
from conveyor.store.protocol import (
    ClaimParams,
    Completion,
    CompletionKind,
    ErrorInfo,
    JobFilter,
    NewJob,
    Store,
)

from .conftest import Served, make_app

DEAD = JobFilter(states=(JobState.DEAD,))
TRACEBACK = (
    'Traceback (most recent call last):\n  File "report.py", line 3\nValueError: no such day'
)


def kill(store: Store, queue: str, name: str, error: str = "ValueError") -> int:
    """Claim the next ``name`` job and fail it for good, as a worker would; its id."""
    [claimed] = store.claim_jobs(ClaimParams("test-worker", (queue,), (name,), 1, 30.0))
    store.complete_jobs([
        Completion(claimed.id, claimed.token, CompletionKind.DEAD,
                   error=ErrorInfo(error, "no such day <b>x</b>", TRACEBACK))
    ])
    return claimed.id


def csrf(page: httpx.Response) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no action form"
    return found.group(1)


def listed_ids(page: httpx.Response) -> list[int]:
    """Job ids linked from a list's id column, in order."""
    return [int(i) for i in re.findall(r'<td class="num"><a href="[^"]*/jobs/(\d+)">', page.text)]


def post(client: httpx.Client, path: str, token: str, **form: Any) -> httpx.Response:
    """Submit a form as the page would (with its CSRF token)."""
    return client.post(path, data={"csrf_token": token, **form})


def flash_of(response: httpx.Response) -> str:
    """The flash message a 303 carries back."""
    assert response.status_code == 303, response.text
    return str(httpx.URL(response.headers["location"]).params.get("flash", ""))


# -- rendering ---------------------------------------------------------------------------------


def test_every_page_renders_for_an_admin(served: Served) -> None:
    app = served.app
    app.enqueue("add", x=1, y=2)
    app.enqueue("report", day="mon")
    dead = kill(app.store, "io", "report")
    app.store.set_queue_paused("io", True, "someone")
    client = served.browser()

    pages = {
        "/": ["<h1>Overview</h1>", "Queues", "Live workers", "<svg"],
        "/jobs": ["<h1>Jobs</h1>", 'name="state"'],
        f"/jobs/{dead}": [f"Job {dead}", "Traceback", "no such day &lt;b&gt;x&lt;/b&gt;",
                          "Replay with edited arguments"],
        "/dlq": ["<h1>Dead letters</h1>", "ValueError", 'name="ids"'],
        "/queues": ["<h1>Queues</h1>", "paused", "Resume"],
        "/schedules": ["<h1>Schedules</h1>"],
        "/actions": ["<h1>Actions</h1>"],
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        for text in expected:
            assert text in response.text, (path, text)
    assert client.get("/jobs/999999").status_code == 404


def test_a_read_only_user_sees_no_action_buttons_and_cannot_act(served: Served) -> None:
    served.app.enqueue("report", day="mon")
    dead = kill(served.app.store, "io", "report")
    reader = served.browser(served.read_token)
    for path in ("/", "/jobs", f"/jobs/{dead}", "/dlq", "/queues", "/schedules"):
        page = reader.get(path)
        assert page.status_code == 200, path
        # The header's Log out form carries the token too (logout needs it); no other does.
        body = page.text.split("</header>", 1)[1]
        assert 'name="csrf_token"' not in body, path
        assert "read-only" in page.text
    admin_page = served.browser().get(f"/jobs/{dead}")
    refused = post(reader, f"/jobs/{dead}/rerun", csrf(admin_page))
    assert refused.status_code == 403
    assert served.app.store.get_job(dead).state is JobState.DEAD  # type: ignore[union-attr]


def test_args_with_markup_render_as_text(served: Served) -> None:
    handle = served.app.enqueue("echo", text="<script>alert(1)</script>")
    client = served.browser()
    for path in (f"/jobs/{handle.id}", "/jobs?q=script", "/jobs?q=%3Cscript%3E"):
        page = client.get(path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text
    page = client.get(f"/jobs/{handle.id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    found = client.get("/jobs", params={"q": "<script>"})
    assert listed_ids(found) == [handle.id]
    assert "&lt;script&gt;" in found.text  # the search box is refilled, escaped


# -- the jobs list -------------------------------------------------------------------------------


def test_filters_narrow_the_jobs_list(served: Served) -> None:
    app = served.app
    plain = app.enqueue("add", x=1, y=2).id
    tenant = app.get("add").enqueue(x=3, y=4, tenant="acme").id
    echo = app.enqueue("echo", text="needle in args").id
    app.enqueue("report", day="mon")
    dead = kill(app.store, "io", "report", error="KeyError")
    client = served.browser()

    def ids(**params: str) -> set[int]:
        page = client.get("/jobs", params=params)
        assert page.status_code == 200, page.text
        return set(listed_ids(page))

    assert ids() == {plain, tenant, echo, dead}
    assert ids(state="dead") == {dead}
    assert ids(state="queued") == {plain, tenant, echo}
    assert ids(queue="io") == {echo, dead}
    assert ids(name="add") == {plain, tenant}
    assert ids(tenant="acme") == {tenant}
    assert ids(error_type="KeyError") == {dead}
    assert ids(q="NEEDLE") == {echo}
    assert ids(q="no such day") == {dead}  # the search reads errors too
    assert ids(newer_than="1h") == {plain, tenant, echo, dead}
    assert ids(older_than="1h") == set()

    bad = client.get("/jobs", params={"state": "sleeping", "newer_than": "soon"})
    assert bad.status_code == 400
    assert "unknown state &#39;sleeping&#39;" in bad.text
    assert "newer_than" in bad.text


def test_the_jobs_list_pages_by_keyset_and_shows_no_payloads(served: Served) -> None:
    definition = served.app.get("echo")
    made = [definition.enqueue(text=f"payload-{i:03d}").id for i in range(57)]
    client = served.browser()
    first = client.get("/jobs")
    assert listed_ids(first) == sorted(made, reverse=True)[:50]
    assert "payload-" not in first.text  # lists never show args
    older = re.search(r'<a class="pager" rel="next" href="([^"]+)"', first.text)
    assert older is not None
    second = client.get(html.unescape(older.group(1)))
    assert listed_ids(second) == sorted(made, reverse=True)[50:]
    assert 'rel="next"' not in second.text


# -- actions -------------------------------------------------------------------------------------


def test_job_actions_work_and_are_recorded(served: Served) -> None:
    app, store = served.app, served.app.store
    app.enqueue("report", day="mon")
    dead = kill(store, "io", "report")
    waiting = app.enqueue("add", x=1, y=2).id
    client = served.browser()
    token = csrf(client.get(f"/jobs/{dead}"))

    assert "queued to run again" in flash_of(post(client, f"/jobs/{dead}/rerun", token))
    assert store.get_job(dead).state is JobState.QUEUED  # type: ignore[union-attr]
    again = post(client, f"/jobs/{dead}/rerun", token)  # no longer dead: says so, changes nothing
    assert "only dead or cancelled" in str(httpx.URL(again.headers["location"]).params["error"])

    assert "cancelled" in flash_of(post(client, f"/jobs/{waiting}/cancel", token))
    assert store.get_job(waiting).state is JobState.CANCELLED  # type: ignore[union-attr]
    assert "queued to run again" in flash_of(post(client, f"/jobs/{waiting}/rerun", token))

    assert "paused" in flash_of(post(client, "/queues/pause", token, name="io"))
    assert "io" in store.paused_queues()
    page = client.get("/queues")
    assert re.search(r'data-queue="io">.*?paused', page.text, re.S)
    assert "resumed" in flash_of(post(client, "/queues/resume", token, name="io"))
    assert "io" not in store.paused_queues()

    log = client.get("/actions").text
    for action, target in [("replay", f"job:{dead}"), ("cancel", f"job:{waiting}"),
                           ("retry", f"job:{waiting}"), ("pause_queue", "queue:io"),
                           ("resume_queue", "queue:io")]:
        assert re.search(rf">{action}</span></td>\s*<td><a [^>]*>{target}</a>", log), action
    assert log.count("token-1") >= 5  # who did it
    assert [a.action for a in store.list_actions()][:2] == ["resume_queue", "pause_queue"]


def test_replay_with_edited_args_is_validated(served: Served) -> None:
    store = served.app.store
    served.app.enqueue("report", day="mon")
    dead = kill(store, "io", "report")
    client = served.browser()
    token = csrf(client.get(f"/jobs/{dead}"))

    for text, message in [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"pages": 2}', "day"),
        ('{"day": "mon", "queue": "io"}', "enqueue option"),
    ]:
        page = post(client, f"/jobs/{dead}/replay", token, args=text)
        assert page.status_code == 422, text
        assert message in html.unescape(page.text), (text, page.text)
        assert f">{text}</textarea>" in html.unescape(page.text)  # what was typed is kept
        assert store.get_job(dead).state is JobState.DEAD  # type: ignore[union-attr]

    done = post(client, f"/jobs/{dead}/replay", token, args='{"day": "tue", "pages": 3}')
    assert "edited args" in flash_of(done)
    job = store.get_job(dead)
    assert job is not None and job.state is JobState.QUEUED
    assert job.args == {"day": "tue", "pages": 3}
    assert store.list_actions()[0].action == "replay_with_args"


def test_dead_letters_confirm_dry_run_and_replay_at_a_rate(served: Served) -> None:
    app, store = served.app, served.app.store
    for day in ("mon", "tue", "wed"):
        app.enqueue("report", day=day)
    dead = sorted(kill(store, "io", "report") for _ in range(3))
    client = served.browser()
    token = csrf(client.get("/dlq"))
    group = {"do": "replay:filter", "name": "report", "error_type": "ValueError"}

    confirm = post(client, "/dlq/confirm", token, **group)
    assert confirm.status_code == 200
    assert "Replay 3 dead jobs?" in confirm.text
    fields = {"verb": "replay", "scope": "filter", "name": "report", "error_type": "ValueError"}
    dry = post(client, "/dlq/run", token, mode="dry", **fields)
    assert "Dry run: nothing was written" in dry.text
    assert all(f"/jobs/{i}\">{i}</a>" in dry.text for i in dead)
    assert store.count_jobs(DEAD) == 3

    bad_rate = post(client, "/dlq/run", token, mode="run", per_second="fast", **fields)
    assert bad_rate.status_code == 422
    assert "jobs per second" in bad_rate.text
    assert store.count_jobs(DEAD) == 3

    done = post(client, "/dlq/run", token, mode="run", per_second="0.5", **fields)
    assert "replayed 3 dead jobs, 0.5 per second" in flash_of(done)
    jobs = store.get_jobs(dead)
    assert {j.state for j in jobs} <= {JobState.QUEUED, JobState.SCHEDULED}
    assert max(j.run_at for j in jobs) - min(j.run_at for j in jobs) >= 3.9  # 2 s apart
    entry = store.list_actions()[0]
    assert (entry.action, entry.target) == ("replay", "dlq:name=report,error_type=ValueError")


def test_dead_letters_discard_a_selection_and_one_job(served: Served) -> None:
    app, store = served.app, served.app.store
    for day in ("mon", "tue", "wed"):
        app.enqueue("report", day=day)
    first, second, third = (kill(store, "io", "report") for _ in range(3))
    client = served.browser()
    token = csrf(client.get("/dlq"))

    nothing = post(client, "/dlq/confirm", token, do="discard:selected")
    assert "tick their boxes" in str(httpx.URL(nothing.headers["location"]).params["error"])
    both = [str(first), str(second)]
    confirm = post(client, "/dlq/confirm", token, do="discard:selected", ids=both)
    assert "Discard 2 dead jobs?" in confirm.text
    done = post(client, "/dlq/run", token, verb="discard", scope="selected", ids=both,
                mode="run")
    assert flash_of(done) == "discarded 2 dead jobs"
    assert store.get_jobs([first, second]) == []

    one = post(client, "/dlq/confirm", token, do=f"replay:one:{third}")
    assert "Replay 1 dead job?" in one.text
    replayed = post(client, "/dlq/run", token, verb="replay", scope="one", ids=str(third),
                    mode="run")
    assert flash_of(replayed) == "replayed 1 dead job"
    actions = [(a.action, a.target) for a in store.list_actions()]
    assert actions[:2] == [("replay", f"job:{third}"), ("discard", f"jobs:{first},{second}")]


def test_schedules_trigger_pause_and_resume(serve: Any, tmp_path: Any) -> None:
    app: Conveyor = make_app(f"sqlite:///{tmp_path / 'conveyor.db'}")
    app.schedule("hourly_sum", "add", every="1h", args={"x": 1, "y": 2})
    served = serve(app)
    Scheduler(app).sync()
    client = served.browser()
    page = client.get("/schedules")
    assert "hourly_sum" in page.text and "every 1h" in page.text
    token = csrf(page)

    triggered = flash_of(post(client, "/schedules/trigger", token, name="hourly_sum"))
    job_id = int(triggered.rsplit(" ", 1)[1])
    assert app.store.get_job(job_id).meta["schedule"] == "hourly_sum"  # type: ignore[union-attr]
    assert "paused" in flash_of(post(client, "/schedules/pause", token, name="hourly_sum"))
    assert app.store.get_schedule("hourly_sum").paused  # type: ignore[union-attr]
    assert "resumed" in flash_of(post(client, "/schedules/resume", token, name="hourly_sum"))
    unknown = post(client, "/schedules/trigger", token, name="nope")
    assert "no schedule named" in str(httpx.URL(unknown.headers["location"]).params["error"])
    assert [a.action for a in app.store.list_actions()] == [
        "resume_schedule", "pause_schedule", "trigger_schedule",
    ]


# -- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/queues/pause", "/jobs/1/cancel", "/dlq/run"])
def test_a_post_without_csrf_is_refused(served: Served, path: str) -> None:
    served.app.enqueue("add", x=1, y=2)
    client = served.browser()
    for form in ({"name": "default", "verb": "discard", "scope": "filter", "mode": "run"},
                 {"csrf_token": "forged", "name": "default"}):
        refused = client.post(path, data=form)
        assert refused.status_code == 403, (path, refused.text)
    assert served.app.store.paused_queues() == frozenset()
    assert served.app.store.get_job(1).state is JobState.QUEUED  # type: ignore[union-attr]
    assert served.app.store.list_actions() == []


# -- charts --------------------------------------------------------------------------------------


def test_a_chart_scales_buckets_to_the_busiest_and_skips_empty_ones() -> None:
    from conveyor.store.web_types import SeriesPoint
    from conveyor.web.charts import LAST_HOUR, bar_chart

    now = 1_700_000_030.0  # 30 s into a minute
    start = LAST_HOUR.start(now)
    points = [
        SeriesPoint(start, "q", succeeded=3, failed=1),
        SeriesPoint(start + 59 * 60, "q", succeeded=8, failed=0),  # the current minute
        SeriesPoint(start - 60, "q", succeeded=100),  # before the window: not drawn
    ]
    chart = bar_chart(points, LAST_HOUR, now, width=120, height=40)
    assert (chart.succeeded, chart.failed, chart.peak) == (11, 1, 8)
    first, last = chart.bars
    assert (first.x, last.x) == (0, 118)
    assert last.ok_height == 40 and last.failed_height == 0
    assert (first.ok_height, first.failed_height) == (15, 5)
    assert first.failed_y + first.failed_height == 40  # failures sit on the axis
    assert "1 failed" in chart.caption and first.label.endswith("3 succeeded, 1 failed")


def test_a_stalled_job_is_flagged_on_its_page_and_in_the_list(served: Served) -> None:
    store = served.app.store
    t = store.now()
    [stuck, moving] = [
        i.id for i in store.insert_jobs([
            NewJob(queue="default", name="add", args_json='{"x": 1, "y": 2}', max_attempts=1,
                   run_at=t - 600, meta_json='{"stall_after": 60}')
            for _ in range(2)
        ])
    ]
    # Both started five minutes ago by the store's clock; only one reported progress since.
    held = store.claim_jobs(ClaimParams("test-worker", ("default",), ("add",), 2, 3600.0,
                                        now=t - 300))
    token = {h.id: h.token for h in held}
    assert store.set_progress(moving, token[moving], 0.5, "half way")
    client = served.browser()
    page = client.get(f"/jobs/{stuck}").text
    assert 'data-code="stalled"' in page and "reported no progress" in page
    assert "stall_after 1m" in page
    assert 'data-code="stalled"' not in client.get(f"/jobs/{moving}").text
    listed = client.get("/jobs", params={"state": "running"}).text
    assert listed.count('class="tag warn stalled"') == 1
    detail = served.reader.get(f"/api/jobs/{stuck}").json()
    assert detail["stall_after"] == 60 and detail["stalled_for"] >= 300
    assert detail["progress_at"] is None
    moved = served.reader.get(f"/api/jobs/{moving}").json()
    assert moved["stalled_for"] is None and moved["progress_at"] is not None


def test_a_held_job_shows_its_sequence_and_what_it_waits_behind(served: Served) -> None:
    store = served.app.store
    first, second = [
        i.id for i in store.insert_jobs([
            NewJob(queue="default", name="add", args_json='{"x": 1, "y": 2}', max_attempts=1,
                   meta_json='{"sequence": "acct:9"}', sequence_key="acct:9")
            for _ in range(2)
        ])
    ]
    client = served.browser()
    page = client.get(f"/jobs/{second}").text
    assert "<dt>Sequence</dt><dd><code>acct:9</code></dd>" in page
    assert "waiting in sequence `acct:9` behind job" in page.replace("&#96;", "`")
    assert f"behind job {first}, which is queued" in page
    assert "<dt>Sequence</dt>" in client.get(f"/jobs/{first}").text
    detail = served.reader.get(f"/api/jobs/{second}").json()
    assert (detail["state"], detail["sequence"]) == ("held", "acct:9")
    listed = served.reader.get("/api/jobs", params={"state": "held"}).json()
    assert [j["id"] for j in listed["jobs"]] == [second]
