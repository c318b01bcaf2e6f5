"""Hostile input over HTTP: never a 500, names without control characters, safe headers,
flash messages only the dashboard wrote, and bounded event streams (both stores)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.store.protocol import JobFilter
from conveyor.testing import eventually

from .conftest import Served, database_url, make_app

BAD_QUERIES = [
    ("before_id", "²"),
    ("before_id", "①"),
    ("before_id", "9" * 30),
    ("before_id", str(2**63)),
    ("q", "text\x00more"),
    ("name", "add\x00"),
    ("tenant", "acme\x00"),
    ("queue", "default\n"),
    ("newer_than", "1e308"),
]
"""(parameter, value) pairs no list may answer with anything but a 400 naming the parameter."""


def html_text(response: httpx.Response) -> str:
    """A page's text with the HTML escapes of quotes undone (messages quote values)."""
    return response.text.replace("&#39;", "'").replace("&#34;", '"')


@pytest.mark.parametrize(("parameter", "value"), BAD_QUERIES)
def test_a_bad_query_value_is_a_400_naming_it_on_the_api_and_the_pages(
    served: Served, parameter: str, value: str
) -> None:
    served.app.get("add").enqueue(x=1, y=2)
    api = served.admin.get("/api/jobs", params={parameter: value})
    assert api.status_code == 400, api.text
    assert api.json()["error"] == "invalid_parameter"
    assert api.json()["parameter"] == parameter
    assert parameter in api.json()["message"]
    browser = served.browser()
    pages = ["/jobs"] + (["/dlq", "/actions"] if parameter == "before_id" else [])
    if parameter in ("name", "queue"):
        pages.append("/dlq")
    for page in pages:
        response = browser.get(page, params={parameter: value})
        assert response.status_code == 400, (page, response.text[:300])
        assert "text/html" in response.headers["content-type"]
        assert parameter in html_text(response), page


@pytest.mark.parametrize("raw", ["9999999999999999999", "99999999999999999999999", "0", "²"])
def test_a_job_id_out_of_range_is_a_400_naming_job_id_on_the_api_and_the_pages(
    served: Served, raw: str
) -> None:
    api = served.admin.get(f"/api/jobs/{raw}")
    assert api.status_code == 400, api.text
    assert api.json()["parameter"] == "job_id"
    browser = served.browser()
    page = browser.get(f"/jobs/{raw}")
    assert page.status_code == 400, page.text[:300]
    assert "job_id" in page.text
    acted = served.admin.post(f"/jobs/{raw}/cancel")
    assert acted.status_code == 400, acted.text[:300]


def test_a_dead_letter_form_with_a_non_ascii_digit_id_is_a_400_not_a_500(served: Served) -> None:
    response = served.admin.post("/dlq/confirm", data={"do": "replay:one:²"})
    assert response.status_code == 400, response.text[:300]
    assert "ids" in response.text
    selected = served.admin.post(
        "/dlq/confirm", data={"verb": "discard", "scope": "selected", "ids": ["3", "①"]}
    )
    assert selected.status_code == 400, selected.text[:300]


# -- names with control characters -------------------------------------------------------------


def test_a_queue_named_with_a_trailing_newline_is_refused_over_http(served: Served) -> None:
    enqueue = served.admin.post(
        "/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}, "queue": "default\n"}
    )
    assert enqueue.status_code == 422, enqueue.text
    assert "queue name" in enqueue.json()["message"]
    tenant = served.admin.post(
        "/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}, "tenant": "acme\r\n"}
    )
    assert tenant.status_code == 422, tenant.text
    assert "control character" in tenant.json()["message"]
    assert served.app.store.list_jobs(JobFilter()) == []

    pause = served.admin.post("/queues/pause", data={"name": "default\n"})
    assert pause.status_code == 303
    assert served.app.store.queue_control("default") is None
    assert served.app.store.queue_control("default\n") is None

    checkin = served.admin.post("/api/checkins/nightly%0A")
    assert checkin.status_code == 400, checkin.text
    assert checkin.json()["parameter"] == "name"


# -- headers on answers that carry job data ------------------------------------------------------


def assert_not_cached(response: httpx.Response) -> None:
    assert response.headers.get("cache-control") == "no-store", response.headers
    assert response.headers.get("x-content-type-options") == "nosniff", response.headers


def test_api_answers_with_job_data_are_never_cached_or_sniffed(served: Served) -> None:
    job = served.app.get("echo").enqueue(text="<b>secret</b>")
    admin = served.admin
    for path in (f"/api/jobs/{job.id}", f"/api/jobs/{job.id}/attempts", "/api/jobs",
                 "/api/queues", "/api/workers", "/api/schedules", "/api/alerts",
                 "/api/health", f"/api/jobs/{job.id + 1000}", "/api/jobs?before_id=x"):
        response = admin.get(path)
        assert response.status_code in (200, 400, 404), (path, response.text)
        assert_not_cached(response)
    made = admin.post("/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}})
    assert made.status_code == 201
    assert_not_cached(made)
    cancelled = admin.post(f"/api/jobs/{job.id}/cancel")
    assert cancelled.status_code == 200
    assert_not_cached(cancelled)
    with admin.stream("GET", f"/api/jobs/{job.id}/events") as events:
        assert_not_cached(events)
    page = served.browser().get(f"/jobs/{job.id}")
    assert page.status_code == 200
    assert_not_cached(page)


# -- flash messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", "Your session expired: log in again at https://evil.example"],
)
def test_a_flash_in_a_crafted_link_is_not_shown(served: Served, text: str) -> None:
    browser = served.browser()
    for parameter in ("error", "flash"):
        for page in ("/jobs", "/queues", "/"):
            response = browser.get(page, params={parameter: text, "sig": "0" * 32})
            assert response.status_code == 200
            assert "evil.example" not in response.text
            assert "alert(1)" not in response.text
            assert 'class="flash' not in response.text


def test_a_flash_the_dashboard_wrote_is_shown_and_cannot_be_edited(served: Served) -> None:
    browser = served.browser()
    token = browser.get("/queues").text.split('name="csrf_token" value="', 1)[1].split('"')[0]
    done = browser.post("/queues/pause", data={"name": "io", "csrf_token": token})
    assert done.status_code == 303
    location = httpx.URL(done.headers["location"])
    shown = browser.get(location)
    assert "queue io paused" in shown.text
    assert 'class="flash ok"' in shown.text
    forged = location.copy_set_param("flash", "queue io deleted, call +1 555 0100")
    assert "555 0100" not in browser.get(forged).text
    again = browser.post("/queues/pause", data={"name": "io", "csrf_token": token})
    error = httpx.URL(again.headers["location"])
    assert "already paused" in browser.get(error).text
    assert "already paused" not in browser.get(error.copy_remove_param("sig")).text


# -- bounded event streams -----------------------------------------------------------------------


def events_of(response: httpx.Response) -> list[str]:
    """The event types of a whole stream, read until the server ends it."""
    return [line.removeprefix("event:").strip() for line in response.iter_lines()
            if line.startswith("event:")]


def test_the_stream_of_a_finished_job_ends(served: Served) -> None:
    job = served.app.get("add").enqueue(x=1, y=2)
    assert served.admin.post(f"/api/jobs/{job.id}/cancel").status_code == 200
    with served.admin.stream("GET", f"/api/jobs/{job.id}/events") as response:
        assert events_of(response) == ["job"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_stream_ends_after_its_maximum_age(
    serve: Callable[..., Served], backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from conveyor.web import StreamLimits  # here: the other tests run without it

    served = serve(make_app(database_url(backend, tmp_path, request)), backend,
                   stream_limits=StreamLimits(max_age_seconds=0.5))
    job = served.app.get("add").enqueue(x=1, y=2)  # never run: it stays queued
    with served.admin.stream("GET", f"/api/jobs/{job.id}/events") as response:
        assert response.status_code == 200
        assert events_of(response) == ["job", "expired"]
    assert served.app.store.get_job(job.id).state.value == "queued"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_one_principal_may_hold_only_so_many_streams(
    serve: Callable[..., Served], backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from conveyor.web import StreamLimits  # here: the other tests run without it

    served = serve(make_app(database_url(backend, tmp_path, request)), backend,
                   stream_limits=StreamLimits(per_principal=2))
    job = served.app.get("add").enqueue(x=1, y=2)
    path = f"/api/jobs/{job.id}/events"
    with ExitStack() as streams:
        readers = []  # an abandoned line iterator would close its stream: keep them
        for _ in range(2):
            opened = streams.enter_context(served.admin.stream("GET", path))
            assert opened.status_code == 200
            readers.append(opened.iter_lines())
            assert next(readers[-1]).startswith("retry:")
        refused = served.admin.get(path)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "too_many_streams"
        assert "2 event streams open" in refused.json()["message"]
        with served.reader.stream("GET", path) as other:  # another principal has its own
            assert other.status_code == 200
    # Closed streams give their slots back (once the server notices the client left).
    eventually(lambda: _opens(served, path))


def _opens(served: Served, path: str) -> bool:
    client = served.admin
    with client.stream("GET", path) as response:
        opened = response.status_code == 200
    client.close()
    return opened


# -- a sweep of the pages ------------------------------------------------------------------------

PAGE_VALUES = st.text(st.characters(exclude_categories=["Cs"]), max_size=25) | st.sampled_from(
    ["²", "①", "9" * 25, str(2**63), "1e308", "nan", "-1", "0", "\x00", "default\n", " 15m "]
)
PAGE_PARAMETERS = st.sampled_from(
    ["before_id", "state", "queue", "name", "tenant", "error_type", "q", "newer_than",
     "older_than", "target", "flash", "error", "sig"]
)


def test_no_page_answers_5xx_to_any_query_or_job_id(served: Served) -> None:
    served.app.get("add").enqueue(x=1, y=2)
    browser = served.browser()
    failures: list[str] = []

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(page=st.sampled_from(["/", "/jobs", "/dlq", "/actions", "/queues", "/schedules"]),
           query=st.dictionaries(PAGE_PARAMETERS, PAGE_VALUES, max_size=4), job_id=PAGE_VALUES)
    def sweep(page: str, query: dict[str, str], job_id: str) -> None:
        for response in (browser.get(page, params=query),
                         browser.get(f"/jobs/{quote(job_id, safe='')}")):
            if response.status_code >= 500:
                failures.append(f"{response.request.url} -> {response.status_code}")
            assert response.status_code < 500, failures[-1]

    sweep()
    assert failures == []
