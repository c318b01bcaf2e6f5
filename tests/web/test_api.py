"""The JSON HTTP API against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conveyor.models import JobState
from conveyor.store.protocol import (
    ClaimedJob,
    ClaimParams,
    Completion,
    CompletionKind,
    ErrorInfo,
    JobFilter,
)
from conveyor.web.api import IDEMPOTENCY_PREFIX
from conveyor.web.web_context import MAX_BODY_BYTES

from .conftest import Served


def enqueue(served: Served, name: str = "add", **body: Any) -> int:
    """Enqueue through the API; the new job's id."""
    body.setdefault("args", {"x": 1, "y": 2})
    response = served.admin.post("/api/jobs", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def claim(served: Served, name: str = "add", queue: str = "default") -> ClaimedJob:
    """Claim the next ready job of ``name`` as a worker would."""
    claimed = served.app.store.claim_jobs(
        ClaimParams(worker_id="test-worker", queues=(queue,), names=(name,), limit=1,
                    lease_seconds=60)
    )
    assert len(claimed) == 1
    return claimed[0]


def finish(served: Served, job: ClaimedJob, kind: CompletionKind, **fields: Any) -> None:
    """Complete a claimed job's attempt."""
    result = served.app.store.complete_jobs([Completion(job.id, job.token, kind, **fields)])
    assert result[0].accepted


def job_count(served: Served) -> int:
    return served.app.store.count_jobs(JobFilter())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a JSON error with this status and code; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert body["message"]
    return body


# -- enqueue -----------------------------------------------------------------------------------


def test_enqueue_then_read_the_job(served: Served) -> None:
    response = served.admin.post(
        "/api/jobs",
        json={"name": "report", "args": {"day": "2024-05-01"}, "priority": 5,
              "tenant": "acme", "queue": "reports"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["state"] == "queued"
    assert created["duplicate"] is False
    assert created["name"] == "report"
    read = served.admin.get(response.headers["location"])
    assert read.status_code == 200
    job = read.json()
    assert job["id"] == created["id"]
    assert job["args"] == {"day": "2024-05-01"}
    assert (job["queue"], job["priority"], job["tenant"]) == ("reports", 5, "acme")
    assert job["attempts"] == 0
    assert job["result"] is None and job["error"] is None and job["progress"] is None
    assert job["created_at"] > 0 and job["finished_at"] is None


def test_enqueue_with_a_delay_schedules_the_job(served: Served) -> None:
    for delay in ("5m", 300, 299.5):
        job_id = enqueue(served, delay=delay)
        job = served.admin.get(f"/api/jobs/{job_id}").json()
        assert job["state"] == "scheduled"
        assert job["run_at"] - job["created_at"] == pytest.approx(300, abs=1)


def test_enqueue_passes_a_notify_url_on(served: Served) -> None:
    job_id = enqueue(served, notify_url="https://hooks.example.com/done")
    job = served.admin.get(f"/api/jobs/{job_id}").json()
    assert job["meta"]["notify_url"] == "https://hooks.example.com/done"


def test_the_same_idempotency_key_returns_the_same_job(served: Served) -> None:
    body = {"name": "add", "args": {"x": 1, "y": 2}}
    first = served.admin.post("/api/jobs", json=body, headers={"Idempotency-Key": "order-17"})
    again = served.admin.post("/api/jobs", json=body, headers={"Idempotency-Key": "order-17"})
    other = served.admin.post("/api/jobs", json=body, headers={"Idempotency-Key": "order-18"})
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True
    assert other.status_code == 201
    assert job_count(served) == 2
    job = served.app.store.get_job(first.json()["id"])
    assert job is not None and job.unique_key == IDEMPOTENCY_PREFIX + "order-17"


def test_an_idempotency_key_still_answers_after_the_job_succeeded(served: Served) -> None:
    headers = {"Idempotency-Key": "pay-1"}
    body = {"name": "add", "args": {"x": 2, "y": 2}}
    first = served.admin.post("/api/jobs", json=body, headers=headers).json()
    finish(served, claim(served), CompletionKind.SUCCEEDED, result_json="4")
    again = served.admin.post("/api/jobs", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {**first, "state": "succeeded", "duplicate": True}
    assert job_count(served) == 1


# -- bad requests: a JSON error each, and nothing written --------------------------------------


BAD_ENQUEUES: list[tuple[Any, int, str]] = [
    ({"name": "nope", "args": {}}, 404, "unknown_job"),
    ({"name": "add", "args": {"x": 1}}, 422, "invalid_args"),
    ({"name": "add", "args": {"x": "one", "y": 2}}, 422, "invalid_args"),
    ({"name": "add", "args": {"x": 1, "y": 2, "z": 3}}, 422, "invalid_args"),
    ({"name": "add", "args": [1, 2]}, 422, "invalid_args"),
    ({"name": "add", "args": {"x": 1, "y": 2, "queue": "other"}}, 422, "invalid_args"),
    ({"name": "echo", "args": {"text": "a\u0000b"}}, 422, "invalid_args"),
    ({"name": "echo", "args": {"text": "\ud800"}}, 422, "invalid_args"),
    ({"name": "add", "args": {"x": float("nan"), "y": 1}}, 422, "invalid_args"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "tenant": "a\u0000"}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "priority": "high"}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "delay": "soon"}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "delay": -1}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "delay": 10**400}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "delay": "100000d"}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "queue": "no spaces"}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "tenant": ""}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "notify_url": "ftp://x"}, 422, "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "notify_url": "http://169.254.169.254/"}, 422,
     "invalid_options"),
    ({"name": "add", "args": {"x": 1, "y": 2, "notify_url": "http://x"}}, 422, "invalid_args"),
    ({"name": "add", "args": {"x": 1, "y": 2}, "retries": 3}, 400, "invalid_request"),
    ({"args": {"x": 1, "y": 2}}, 400, "invalid_request"),
    ([{"name": "add"}], 400, "invalid_request"),
    ("add", 400, "invalid_request"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_ENQUEUES)
def test_a_bad_enqueue_says_what_is_wrong_and_writes_nothing(
    served: Served, body: Any, status: int, code: str
) -> None:
    response = served.admin.post("/api/jobs", content=json.dumps(body),
                                 headers={"Content-Type": "application/json"})
    assert_error(response, status, code)
    assert job_count(served) == 0


def test_an_unknown_job_lists_the_known_names(served: Served) -> None:
    body = assert_error(served.admin.post("/api/jobs", json={"name": "nope"}), 404,
                        "unknown_job")
    assert body["known"] == ["add", "echo", "report"]
    assert "nope" in body["message"]


def test_args_that_do_not_fit_carry_the_argument_error(served: Served) -> None:
    response = served.admin.post("/api/jobs", json={"name": "add", "args": {"x": 1}})
    message = assert_error(response, 422, "invalid_args")["message"]
    assert "y" in message


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"{not json", "not valid JSON"), (b"", "empty"), (b"[" * 100_000, "")],
)
def test_a_body_that_is_not_json_is_a_400(served: Served, content: bytes, why: str) -> None:
    response = served.admin.post("/api/jobs", content=content,
                                 headers={"Content-Type": "application/json"})
    assert why in assert_error(response, 400, "invalid_json")["message"]
    assert job_count(served) == 0


def test_a_body_too_big_is_a_413(served: Served) -> None:
    text = "x" * (MAX_BODY_BYTES + 10)
    response = served.admin.post("/api/jobs", json={"name": "echo", "args": {"text": text}})
    assert_error(response, 413, "too_large")
    # Streamed without a Content-Length: cut off at the limit all the same.
    chunks = iter([b'{"name": "echo", "args": {"text": "', b"x" * MAX_BODY_BYTES, b'"}}'])
    response = served.admin.post("/api/jobs", content=chunks,
                                 headers={"Content-Type": "application/json"})
    assert_error(response, 413, "too_large")
    assert job_count(served) == 0


def test_arguments_over_the_payload_limit_are_a_413(served: Served) -> None:
    served.app.max_payload_bytes = 1000
    response = served.admin.post("/api/jobs", json={"name": "echo", "args": {"text": "x" * 2000}})
    assert_error(response, 413, "too_large")
    assert job_count(served) == 0


def test_a_full_queue_is_a_429(served: Served) -> None:
    served.app.configure_queue("io", max_queued=1)
    enqueue(served, "echo", args={"text": "first"})
    response = served.admin.post("/api/jobs", json={"name": "echo", "args": {"text": "second"}})
    assert assert_error(response, 429, "queue_full")["queue"] == "io"
    assert job_count(served) == 1


def test_a_form_body_is_refused(served: Served) -> None:
    response = served.admin.post("/api/jobs", data={"name": "add"})
    assert_error(response, 415, "unsupported_media_type")


def test_an_idempotency_key_with_a_unique_key_is_ambiguous(served: Served) -> None:
    response = served.admin.post(
        "/api/jobs", json={"name": "add", "args": {"x": 1, "y": 1}, "unique_key": "k"},
        headers={"Idempotency-Key": "k2"},
    )
    assert_error(response, 400, "invalid_request")
    response = served.admin.post(
        "/api/jobs", json={"name": "add", "args": {"x": 1, "y": 1}},
        headers={"Idempotency-Key": "k" * 201},
    )
    assert_error(response, 400, "invalid_idempotency_key")
    assert job_count(served) == 0


# -- reading -----------------------------------------------------------------------------------


def test_a_missing_job_is_a_404(served: Served) -> None:
    for path in ("/api/jobs/999", "/api/jobs/999/attempts", "/api/jobs/999/events"):
        assert_error(served.admin.get(path), 404, "job_not_found")
    for path in ("/api/jobs/abc", "/api/jobs/0", f"/api/jobs/{2**64}", "/api/jobs/-1/attempts"):
        assert assert_error(served.admin.get(path), 400, "invalid_parameter")["parameter"] == (
            "job_id"
        )


def test_attempts_carry_their_tracebacks(served: Served) -> None:
    job_id = enqueue(served, "report", args={"day": "monday"})
    claimed = claim(served, "report", "io")
    finish(served, claimed, CompletionKind.DEAD,
           error=ErrorInfo("ValueError", "no data for monday", "Traceback ...\nValueError"))
    attempts = served.admin.get(f"/api/jobs/{job_id}/attempts").json()
    assert attempts["job_id"] == job_id
    [attempt] = attempts["attempts"]
    assert attempt["outcome"] == "dead"
    assert attempt["worker_id"] == "test-worker"
    assert attempt["error_type"] == "ValueError"
    assert attempt["traceback"] == "Traceback ...\nValueError"
    assert attempt["duration"] is not None
    job = served.admin.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "dead"
    assert job["error"] == {"type": "ValueError", "message": "no data for monday"}
    assert job["attempts"] == 1


# -- listing -----------------------------------------------------------------------------------


def ids_of(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()["jobs"]]


def test_list_filters(served: Served) -> None:
    a = enqueue(served, "add")
    b = enqueue(served, "echo", args={"text": "hello Widget"}, tenant="acme")
    c = enqueue(served, "report", args={"day": "tue"}, tenant="acme", delay="1h")
    d = enqueue(served, "report", args={"day": "wed"})
    finish(served, claim(served, "report", "io"), CompletionKind.DEAD,
           error=ErrorInfo("KeyError", "missing column"))
    client = served.admin
    assert ids_of(client.get("/api/jobs")) == [d, c, b, a]
    assert ids_of(client.get("/api/jobs", params={"state": "scheduled"})) == [c]
    assert ids_of(client.get("/api/jobs", params={"state": "scheduled,dead"})) == [d, c]
    assert ids_of(client.get("/api/jobs", params=[("state", "queued"), ("state", "dead")])) == [
        d, b, a]
    assert ids_of(client.get("/api/jobs", params={"queue": "io"})) == [d, c, b]
    assert ids_of(client.get("/api/jobs", params={"name": "report"})) == [d, c]
    assert ids_of(client.get("/api/jobs", params={"tenant": "acme"})) == [c, b]
    assert ids_of(client.get("/api/jobs", params={"error_type": "KeyError"})) == [d]
    assert ids_of(client.get("/api/jobs", params={"q": "widget"})) == [b]
    assert ids_of(client.get("/api/jobs", params={"q": "MISSING col"})) == [d]
    assert ids_of(client.get("/api/jobs", params={"newer_than": "1h"})) == [d, c, b, a]
    assert ids_of(client.get("/api/jobs", params={"older_than": "1h"})) == []
    assert ids_of(client.get("/api/jobs", params={"queue": "", "name": "add"})) == [a]


def test_lists_leave_out_payloads(served: Served) -> None:
    enqueue(served, "echo", args={"text": "big secret payload"})
    [job] = served.admin.get("/api/jobs").json()["jobs"]
    assert "args" not in job and "result" not in job
    assert "big secret payload" not in json.dumps(job)


def test_keyset_pages_cover_every_job_once(served: Served) -> None:
    made = [enqueue(served) for _ in range(7)]
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 3}
    pages = 0
    while True:
        body = served.admin.get("/api/jobs", params=params).json()
        seen += [job["id"] for job in body["jobs"]]
        pages += 1
        if body["next_before_id"] is None:
            break
        params["before_id"] = body["next_before_id"]
    assert seen == sorted(made, reverse=True)
    assert pages == 3
    exact = served.admin.get("/api/jobs", params={"limit": 7}).json()
    assert exact["next_before_id"] is None


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"state": "bogus"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before_id": "abc"}, "before_id"),
        ({"before_id": str(2**64)}, "before_id"),
        ({"newer_than": "yesterday"}, "newer_than"),
        ({"older_than": "-5"}, "older_than"),
        ({"older_than": "1e300"}, "older_than"),
        ({"queue": "x\u0000"}, "queue"),
        ({"queue": ["a", "b"]}, "queue"),
        ({"sort": "id"}, "sort"),
    ],
)
def test_a_bad_list_parameter_is_named(
    served: Served, params: dict[str, Any], parameter: str
) -> None:
    body = assert_error(served.admin.get("/api/jobs", params=params), 400, "invalid_parameter")
    assert body["parameter"] == parameter
    assert parameter in body["message"]


# -- acting ------------------------------------------------------------------------------------


def actions_on(served: Served, job_id: int) -> list[tuple[str, str]]:
    return [(a.actor, a.action) for a in served.app.store.list_actions(target=f"job:{job_id}")]


def test_cancel_then_retry(served: Served) -> None:
    job_id = enqueue(served)
    cancelled = served.admin.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"id": job_id, "action": "cancel", "changed": True,
                                "state": "cancelled"}
    again = served.admin.post(f"/api/jobs/{job_id}/cancel")
    assert assert_error(again, 409, "invalid_transition")["state"] == "cancelled"
    retried = served.admin.post(f"/api/jobs/{job_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "queued"
    assert actions_on(served, job_id) == [("token-1", "retry"), ("token-1", "cancel")]


def test_a_running_or_succeeded_job_cannot_be_retried(served: Served) -> None:
    job_id = enqueue(served)
    claimed = claim(served)
    assert_error(served.admin.post(f"/api/jobs/{job_id}/retry"), 409, "invalid_transition")
    finish(served, claimed, CompletionKind.SUCCEEDED, result_json="3")
    assert_error(served.admin.post(f"/api/jobs/{job_id}/retry"), 409, "invalid_transition")
    assert_error(served.admin.post(f"/api/jobs/{job_id}/cancel"), 409, "invalid_transition")
    assert_error(served.admin.post("/api/jobs/999/cancel"), 404, "job_not_found")
    assert actions_on(served, job_id) == []
    job = served.admin.get(f"/api/jobs/{job_id}").json()
    assert (job["state"], job["result"]) == ("succeeded", 3)


def test_retrying_a_dead_job_gives_it_fresh_attempts(served: Served) -> None:
    job_id = enqueue(served, "report", args={"day": "x"})
    finish(served, claim(served, "report", "io"), CompletionKind.DEAD,
           error=ErrorInfo("OSError", "disk full"))
    body = served.admin.post(f"/api/jobs/{job_id}/retry").json()
    assert body["state"] == "queued"
    job = served.admin.get(f"/api/jobs/{job_id}").json()
    assert (job["state"], job["attempts"]) == ("queued", 0)
    assert len(served.admin.get(f"/api/jobs/{job_id}/attempts").json()["attempts"]) == 1


# -- the other reads ---------------------------------------------------------------------------


def test_queues_workers_schedules_alerts_and_health(served: Served) -> None:
    enqueue(served)
    enqueue(served, "echo", args={"text": "x"})
    claimed = claim(served, "echo", "io")
    queues = {q["queue"]: q for q in served.admin.get("/api/queues").json()["queues"]}
    assert queues["default"]["queued"] == 1
    assert queues["io"]["running"] == 1
    assert queues["io"]["paused"] is False
    assert served.admin.get("/api/workers").json() == {"workers": []}
    assert served.admin.get("/api/schedules").json() == {"schedules": []}
    assert served.admin.get("/api/alerts").json() == {"alerts": []}
    health = served.reader.get("/api/health").json()
    assert health["status"] == "ok" and health["role"] == "read"
    finish(served, claimed, CompletionKind.SUCCEEDED, result_json='"x"')
    io = next(q for q in served.admin.get("/api/queues").json()["queues"] if q["queue"] == "io")
    assert (io["succeeded_last_hour"], io["failure_rate"]) == (1, 0.0)


def test_the_openapi_document_describes_every_api_route(served: Served) -> None:
    document = served.reader.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    served_routes = {
        (route.path, method)
        for route in served.web.routes
        if getattr(route, "path", "").startswith("/api/")
        for method in (getattr(route, "methods", None) or ())
        if method != "HEAD"
    }
    assert documented == served_routes


# -- Server-Sent Events ------------------------------------------------------------------------


class EventReader:
    """Reads a text/event-stream response event by event (on the test's thread)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines: Iterator[str] = response.iter_lines()
        self.comments = 0

    def next(self) -> tuple[str, dict[str, Any]] | None:
        """The next event (its type and JSON data), or None when the stream ended."""
        kind, data = "message", None
        for line in self.lines:
            if line == "":
                if data is not None:
                    return kind, json.loads(data)
                continue
            if line.startswith(":"):
                self.comments += 1
            elif line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = line.removeprefix("data:").strip()
        return None

    def wait_comment(self) -> str | None:
        """Read lines up to the next comment line; the comment (None if the stream ended)."""
        for line in self.lines:
            if line.startswith(":"):
                self.comments += 1
                return line
        return None


def test_events_follow_a_job_to_its_end(served: Served) -> None:
    job_id = enqueue(served)
    store = served.app.store
    with served.admin.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = EventReader(response)
        kind, data = events.next() or ("", {})
        assert (kind, data["id"], data["state"]) == ("job", job_id, "queued")
        claimed = claim(served)
        kind, data = events.next() or ("", {})
        assert (kind, data["state"], data["attempts"]) == ("job", "running", 1)
        assert store.set_progress(job_id, claimed.token, 0.5, "half way")
        kind, data = events.next() or ("", {})
        assert (data["progress"], data["progress_message"]) == (0.5, "half way")
        finish(served, claimed, CompletionKind.SUCCEEDED, result_json="3")
        kind, data = events.next() or ("", {})
        assert (kind, data["state"], data["result"]) == ("job", "succeeded", 3)
        assert events.next() is None  # the stream ends after the final event


def test_events_carry_the_output_as_the_job_emits_it(served: Served) -> None:
    job_id = enqueue(served)
    claimed = claim(served)
    store = served.app.store
    with served.admin.stream("GET", f"/api/jobs/{job_id}/events") as response:
        events = EventReader(response)
        assert (events.next() or ("", {}))[0] == "job"  # running
        store.append_output(job_id, claimed.token, 1, '"hello "', 10_000)
        kind, data = events.next() or ("", {})
        assert (kind, data) == ("output", {"seq": 1, "attempt": 1, "chunk": "hello "})
        store.append_output(job_id, claimed.token, 1, '{"rows": 3}', 10_000)
        finish(served, claimed, CompletionKind.SUCCEEDED, result_json="3")
        kind, data = events.next() or ("", {})
        assert (kind, data["chunk"]) == ("output", {"rows": 3})  # before the final state
        kind, data = events.next() or ("", {})
        assert (kind, data["state"]) == ("job", "succeeded")
        assert events.next() is None


def test_output_pages_through_what_the_job_emitted(served: Served) -> None:
    job_id = enqueue(served)
    claimed = claim(served)
    store = served.app.store
    assert served.reader.get(f"/api/jobs/{job_id}/output").json() == {
        "job_id": job_id, "chunks": [], "next_after": None}
    for n in range(3):
        store.append_output(job_id, claimed.token, 1, json.dumps(f"line {n}\n"), 10_000)
    page = served.reader.get(f"/api/jobs/{job_id}/output", params={"after": 1}).json()
    assert [(c["seq"], c["chunk"]) for c in page["chunks"]] == [(2, "line 1\n"),
                                                                (3, "line 2\n")]
    assert page["next_after"] is None and page["chunks"][0]["attempt"] == 1
    for bad in ("-1", "x", "1.5"):
        body = assert_error(served.admin.get(f"/api/jobs/{job_id}/output",
                                             params={"after": bad}), 400, "invalid_parameter")
        assert body["parameter"] == "after"
    assert_error(served.admin.get(f"/api/jobs/{job_id}/output", params={"before": "1"}),
                 400, "invalid_parameter")
    assert_error(served.admin.get("/api/jobs/999/output"), 404, "job_not_found")
    page_html = served.browser().get(f"/jobs/{job_id}").text
    assert "line 0\nline 1\nline 2\n" in page_html and 'id="output-h"' in page_html


def test_events_of_a_finished_job_end_at_once(served: Served) -> None:
    job_id = enqueue(served)
    served.admin.post(f"/api/jobs/{job_id}/cancel")
    with served.reader.stream("GET", f"/api/jobs/{job_id}/events") as response:
        events = EventReader(response)
        kind, data = events.next() or ("", {})
        assert (kind, data["state"]) == ("job", "cancelled")
        assert events.next() is None


def test_a_client_may_leave_a_stream_early(served: Served) -> None:
    job_id = enqueue(served)
    head = served.admin.head(f"/api/jobs/{job_id}/events")
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    for _ in range(3):
        with served.admin.stream("GET", f"/api/jobs/{job_id}/events") as response:
            assert EventReader(response).next() is not None
    assert served.admin.get("/api/health").status_code == 200


def test_events_send_keep_alives_while_nothing_changes(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.web import events

    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    job_id = enqueue(served)
    with served.admin.stream("GET", f"/api/jobs/{job_id}/events") as response:
        reader = EventReader(response)
        assert reader.next() is not None
        assert reader.wait_comment() == ": keep-alive"
        served.app.store.cancel_jobs(JobFilter(ids=(job_id,)))
        kind, data = reader.next() or ("", {})
        assert (kind, data["state"]) == ("job", JobState.CANCELLED.value)
        assert reader.next() is None


# -- check-ins ---------------------------------------------------------------------------------


def test_a_checkin_is_pinged_over_http(served: Served) -> None:
    from conveyor.store.watch_types import CheckinRow

    served.app.store.put_checkin(
        "nightly_backup", CheckinRow("nightly_backup", "every:3600", grace=60)
    )
    response = served.admin.post("/api/checkins/nightly_backup")
    assert response.status_code == 200, response.text
    at = response.json()["at"]
    [row] = served.app.store.list_checkins()
    assert row.last_ping_at == at
    body = assert_error(served.admin.post("/api/checkins/nope"), 404, "checkin_not_found")
    assert "nightly_backup" in body["message"]
    assert_error(served.reader.post("/api/checkins/nightly_backup"), 403, "read_only")
