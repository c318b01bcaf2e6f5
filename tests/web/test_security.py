"""No route answers without credentials, read-only principals cannot act, and browser
sessions need their CSRF token; on SQLite and PostgreSQL, against a real server."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.store.protocol import JobFilter
from conveyor.web import Principal, Role, create_app
from conveyor.web.auth import SESSION_COOKIE

from .conftest import ADMIN_TOKEN, Served, make_app

SECRET = "TOP-SECRET-ARGUMENT-7f3a"
PUBLIC = {"/login", "/healthz"}
"""Paths that answer without credentials (static files are a Mount, not listed). ``/healthz``
says only up or down (tests/web/test_healthz.py checks that it reveals nothing else)."""


def routes(served: Served) -> Iterator[tuple[str, str]]:
    """(method, concrete path) of every route of the app but the public ones; HEAD is
    covered by GET."""
    job = served.app.store.list_jobs(JobFilter(limit=1))[0]
    for route in served.web.routes:
        if not isinstance(route, Route) or route.path in PUBLIC:
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: param_value(m.group(1), job.id),
                      route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, path


def param_value(name: str, job_id: int) -> str:
    return str(job_id) if name.endswith("id") else "default"


def every_route(served: Served) -> list[tuple[str, str]]:
    found = list(routes(served))
    # Guard against the enumeration silently finding nothing.
    assert ("POST", "/api/jobs") in found and ("GET", "/") in found, found
    return found


@pytest.fixture
def with_secret(served: Served) -> Served:
    """The served app with one job whose argument is a secret marker."""
    served.app.get("echo").enqueue(text=SECRET)
    return served


def refused_for_lack_of_credentials(method: str, path: str, response: httpx.Response) -> None:
    where = f"{method} {path}"
    assert SECRET not in response.text, where
    if path.startswith("/api/") or path == "/metrics":  # a scraper gets a status, not a page
        assert response.status_code == 401, (where, response.status_code, response.text)
        assert response.json()["error"] == "unauthenticated", where
    else:
        assert response.status_code in (302, 303), (where, response.status_code)
        assert response.headers["location"].endswith("/login"), where


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"headers": {"Authorization": "Bearer not-a-token-but-long-enough"}},
        {"headers": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}},
        {"headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}},
        {"cookies": {SESSION_COOKIE: "forged.0123456789abcdef"}},
    ],
    ids=["none", "unknown-token", "near-miss-token", "basic-auth", "forged-cookie"],
)
def test_every_route_refuses_a_request_without_valid_credentials(
    with_secret: Served, credentials: dict[str, Any]
) -> None:
    client = with_secret.client(None, **credentials)
    for method, path in every_route(with_secret):
        response = client.request(method, path)
        refused_for_lack_of_credentials(method, path, response)
    assert with_secret.app.store.count_jobs(JobFilter()) == 1


def test_a_session_cookie_edited_by_its_holder_is_refused(served: Served) -> None:
    browser = served.browser(served.read_token)
    cookie = browser.cookies[SESSION_COOKIE]
    body, signature = cookie.rsplit(".", 1)
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert data["r"] == "read"
    data["r"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    client = served.client(None, cookies={SESSION_COOKIE: f"{forged}.{signature}"})
    refused_for_lack_of_credentials("GET", "/api/jobs", client.get("/api/jobs"))
    refused_for_lack_of_credentials("GET", "/", client.get("/"))


def post_routes(served: Served) -> list[str]:
    return [path for method, path in every_route(served) if method == "POST"
            and path != "/logout"]


def nothing_changed(served: Served, job_id: int) -> None:
    store = served.app.store
    assert store.count_jobs(JobFilter()) == 1
    job = store.get_job(job_id)
    assert job is not None and job.state == "queued"
    assert store.list_actions() == []
    assert store.paused_queues() == frozenset()


@pytest.mark.parametrize("how", ["bearer", "session"])
def test_a_read_only_principal_cannot_act(with_secret: Served, how: str) -> None:
    client = (with_secret.reader if how == "bearer"
              else with_secret.browser(with_secret.read_token))
    job_id = with_secret.app.store.list_jobs(JobFilter(limit=1))[0].id
    assert client.get(f"/api/jobs/{job_id}").json()["args"] == {"text": SECRET}
    for path in post_routes(with_secret):
        response = client.post(path, json={"name": "add", "args": {"x": 1, "y": 2}},
                               headers={"X-CSRF-Token": csrf_of(client) or ""})
        assert response.status_code == 403, (path, response.status_code, response.text)
        if path.startswith("/api/"):
            assert response.json()["error"] == "read_only"
    nothing_changed(with_secret, job_id)


def csrf_of(client: httpx.Client) -> str | None:
    """The CSRF token inside a logged-in client's session cookie (pages render it in forms)."""
    cookie = client.cookies.get(SESSION_COOKIE)
    if cookie is None:
        return None
    body = cookie.rsplit(".", 1)[0]
    token: str = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["c"]
    return token


def test_a_browser_session_must_send_its_csrf_token(with_secret: Served) -> None:
    browser = with_secret.browser()
    job_id = with_secret.app.store.list_jobs(JobFilter(limit=1))[0].id
    for path in post_routes(with_secret):
        for headers in ({}, {"X-CSRF-Token": "wrong"}):
            response = browser.post(path, json={"name": "add", "args": {"x": 1, "y": 2}},
                                    headers=headers)
            assert response.status_code == 403, (path, response.status_code, response.text)
            if path.startswith("/api/"):
                assert response.json()["error"] == "csrf"
        response = browser.post(path, data={"csrf_token": "wrong", "queue": "default"})
        assert response.status_code == 403, (path, response.status_code)
    nothing_changed(with_secret, job_id)
    token = csrf_of(browser)
    assert token
    created = browser.post("/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}},
                           headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.text
    cancelled = browser.post(f"/api/jobs/{job_id}/cancel", headers={"X-CSRF-Token": token})
    assert cancelled.status_code == 200, cancelled.text
    assert [a.actor for a in with_secret.app.store.list_actions()] == ["token-1"]


def test_a_bearer_token_acts_without_csrf(served: Served) -> None:
    created = served.admin.post("/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}})
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    assert served.admin.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    assert served.admin.post(f"/api/jobs/{job_id}/retry").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"tokens": {"short-token": "admin"}}, "at least 16 characters"),
        ({"tokens": {"x" * 15: "read"}}, "at least 16 characters"),
        ({"tokens": {}}, "needs credentials"),
        ({}, "needs credentials"),
        ({"tokens": {"x" * 16: "root"}}, "'admin' or 'read'"),
    ],
)
def test_weak_or_missing_credentials_are_refused_at_configuration(
    tmp_path: Any, kwargs: dict[str, Any], says: str
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(ConfigurationError, match=says):
        create_app(app, **kwargs)


def test_an_authenticate_callback_decides_who_is_in(
    serve: Callable[..., Served], tmp_path: Any
) -> None:
    def authenticate(request: Any) -> Principal | None:
        user = request.headers.get("x-user")
        return {"alice": Principal("alice", Role.ADMIN), "bob": Principal("bob", Role.READ)}.get(
            user or ""
        )

    served = serve(make_app(f"sqlite:///{tmp_path / 'c.db'}"), tokens=None,
                   authenticate=authenticate)
    nobody = served.client(None)
    assert nobody.get("/api/health").status_code == 401
    bob = served.client(None, headers={"X-User": "bob"})
    assert bob.get("/api/health").json()["principal"] == "bob"
    body = {"name": "add", "args": {"x": 1, "y": 2}}
    assert bob.post("/api/jobs", json=body).status_code == 403
    alice = served.client(None, headers={"X-User": "alice"})
    # The host app's login is likely a cookie, so the callback's principal needs CSRF too.
    assert alice.post("/api/jobs", json=body).json()["error"] == "csrf"
    token = served.web.state.context.auth.csrf_token(Principal("alice", Role.ADMIN, "callback"))
    assert alice.post("/api/jobs", json=body, headers={"X-CSRF-Token": token}).status_code == 201
