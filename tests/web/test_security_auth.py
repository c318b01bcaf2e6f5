"""Sessions, cookies, form limits and login limits of the dashboard (issue 11, items 6, 8, 9, 10
and "logout needs the CSRF token").

Sessions are checked against a real uvicorn over SQLite and PostgreSQL, with two dashboard
processes (apps) sharing one database where revocation is the point. Body limits count what
the application pulled from the server, not the process's memory. The attempt limiter runs on
a clock the test moves.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from conveyor.cli.dashboard import dashboard
from conveyor.errors import ConfigurationError
from conveyor.web import create_app
from conveyor.web.auth import SESSION_COOKIE
from conveyor.web.errors import MAX_BODY_BYTES
from conveyor.web.forms import MAX_FIELD_BYTES, MAX_FORM_FIELDS
from conveyor.web.throttle import AttemptLimiter

from .conftest import ADMIN_TOKEN, READ_TOKEN, Served, database_url, make_app
from .test_security import csrf_of

SECRET = "one-secret-shared-by-every-replica"
CHUNK = 64 * 1024

# -- body limits (item 6) ------------------------------------------------------------------------


class Counting:
    """ASGI wrapper that counts the request body bytes the application pulled."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


class Local:
    """A synchronous HTTP client on a dashboard running in this process (httpx over ASGI),
    keeping cookies, from a chosen client address; ``app`` counts the body bytes read."""

    def __init__(self, web: Starlette, base_url: str, client: tuple[str, int]) -> None:
        self.app = Counting(web)
        self.base_url = base_url
        self.client = client
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; redirects are not followed."""

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=self.client)
            async with httpx.AsyncClient(
                transport=transport, base_url=self.base_url, cookies=self.cookies
            ) as http:
                response = await http.request(method, url, **kwargs)
                self.cookies = httpx.Cookies(http.cookies)
                return response

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST ``url``."""
        return self.request("POST", url, **kwargs)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Callable[..., Local]]:
    """In-process clients on a dashboard over a real SQLite file: ``local(**create_app
    kwargs, base_url=..., client=(address, port))``."""
    app = make_app(f"sqlite:///{tmp_path / 'c.db'}")
    app.store.migrate()

    def open_client(base_url: str = "http://testserver",
                    client: tuple[str, int] = ("192.0.2.1", 50000), **kwargs: Any) -> Local:
        kwargs.setdefault("tokens", {ADMIN_TOKEN: "admin", READ_TOKEN: "read"})
        return Local(create_app(app, **kwargs), base_url, client)

    yield open_client
    app.close()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_an_oversized_declared_login_body_is_refused_before_reading_it(
    local: Callable[..., Local],
) -> None:
    client = local()
    body = b"token=" + b"a" * (2 * MAX_BODY_BYTES)
    response = client.post("/login", content=body, headers=FORM)
    assert response.status_code == 413, response.text[:300]
    assert "limit is 1048576 bytes" in response.text
    assert client.app.read == 0


def drive(web: Starlette, path: str, headers: dict[str, str], total: int) -> tuple[int, int]:
    """POST ``total`` bytes to ``path`` as a chunked stream with no Content-Length, straight
    through ASGI; (status, bytes the application pulled). Chunks are made only when pulled."""
    pulled = 0
    status = 0

    async def receive() -> Message:
        nonlocal pulled
        if pulled >= total:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += CHUNK
        return {"type": "http.request", "body": b"a" * CHUNK, "more_body": True}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    asyncio.run(web(scope, receive, send))
    return status, pulled


@pytest.mark.parametrize(
    "kind", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz"]
)
def test_a_streamed_login_body_stops_being_read_at_the_limit(
    tmp_path: Path, kind: str
) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'c.db'}")
    app.store.migrate()
    web = create_app(app, tokens={ADMIN_TOKEN: "admin"})
    status, pulled = drive(web, "/login", {"content-type": kind}, total=200 * 1024 * 1024)
    app.close()
    assert status == 413
    assert pulled <= MAX_BODY_BYTES + CHUNK  # not the 200 MiB on offer


def multipart(*parts: tuple[str, bytes, str | None]) -> tuple[bytes, dict[str, str]]:
    """A multipart body of (name, value, filename) parts, and its Content-Type header."""
    out = b""
    for name, value, filename in parts:
        extra = f'; filename="{filename}"' if filename else ""
        out += (f'--xyz\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'
                ).encode() + value + b"\r\n"
    return out + b"--xyz--\r\n", {"Content-Type": "multipart/form-data; boundary=xyz"}


@pytest.mark.parametrize(
    "parts",
    [
        [("token", b"a" * (2 * MAX_BODY_BYTES), None)],  # over the body limit
        [("token", b"a" * (MAX_FIELD_BYTES + 1), None)],  # one part over the part limit
        [("upload", b"a" * 1000, "big.bin")],  # a file part: no form takes files
    ],
    ids=["body", "part", "file"],
)
def test_oversized_multipart_login_parts_are_refused(
    local: Callable[..., Local], parts: list[tuple[str, bytes, str | None]]
) -> None:
    client = local()
    body, headers = multipart(*parts)
    response = client.post("/login", content=body, headers=headers)
    assert response.status_code == 413, response.text[:300]
    assert client.app.read <= MAX_BODY_BYTES


def test_a_form_with_too_many_fields_is_refused(local: Callable[..., Local]) -> None:
    client = local()
    body = "&".join(f"f{i}=x" for i in range(MAX_FORM_FIELDS + 1)) + f"&token={ADMIN_TOKEN}"
    response = client.post("/login", content=body, headers=FORM)
    assert response.status_code == 413, response.text[:300]
    assert "Too many fields" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_the_admin_forms_share_the_limit(local: Callable[..., Local]) -> None:
    client = local()
    assert client.get("/login", params={"token": ADMIN_TOKEN}).status_code == 303
    for path in ("/queues/pause", "/schedules/trigger", "/dlq/run", "/jobs/1/replay"):
        before = client.app.read
        body = b"name=" + b"a" * (2 * MAX_BODY_BYTES)
        response = client.post(path, content=body, headers=FORM)
        assert response.status_code == 413, (path, response.status_code)
        assert client.app.read == before, path


# -- sessions that can be revoked (item 8) and logout's CSRF token -----------------------------


def logged_out(client: httpx.Client) -> bool:
    """True when the client's cookie no longer opens a page or the API."""
    page, api = client.get("/"), client.get("/api/jobs")
    return (page.status_code == 303 and page.headers["location"].endswith("/login")
            and api.status_code == 401)


def test_logout_ends_the_session_and_the_old_cookie_no_longer_works(served: Served) -> None:
    browser = served.browser()
    cookie = browser.cookies[SESSION_COOKIE]
    assert browser.get("/").status_code == 200
    out = browser.post("/logout", data={"csrf_token": csrf_of(browser) or ""})
    assert out.status_code == 303 and out.headers["location"].endswith("/login")
    replayed = served.client(None, cookies={SESSION_COOKIE: cookie})
    assert logged_out(replayed)


def test_logout_without_its_csrf_token_is_refused(served: Served) -> None:
    browser = served.browser()
    for data in ({}, {"csrf_token": "forged"}):
        refused = browser.post("/logout", data=data)
        assert refused.status_code == 403, refused.text[:300]
        assert "CSRF token" in refused.text
    assert browser.get("/").status_code == 200  # still logged in
    by_header = browser.post("/logout", headers={"X-CSRF-Token": csrf_of(browser) or ""})
    assert by_header.status_code == 303
    assert logged_out(browser)


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One fresh database of each backend, for several dashboards to share."""
    return database_url(request.param, tmp_path, request)


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_a_logout_in_one_replica_ends_the_session_in_another(
    serve: Callable[..., Served], database: str
) -> None:
    one = serve(make_app(database), secret=SECRET)
    two = serve(make_app(database), secret=SECRET)
    browser = one.browser()
    cookie = browser.cookies[SESSION_COOKIE]
    other = two.client(None, cookies={SESSION_COOKIE: cookie})
    assert other.get("/").status_code == 200  # the same session, served by the other replica
    assert browser.post("/logout", data={"csrf_token": csrf_of(browser) or ""}).status_code == 303
    assert logged_out(other)


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize(
    "tokens_after",
    [{ADMIN_TOKEN: "read", READ_TOKEN: "read"}, {READ_TOKEN: "read", "n" * 32: "admin"}],
    ids=["downgraded", "removed"],
)
def test_a_changed_token_ends_its_sessions(
    serve: Callable[..., Served], database: str, tokens_after: dict[str, str]
) -> None:
    before = serve(make_app(database), secret=SECRET)
    browser = before.browser()
    cookie = browser.cookies[SESSION_COOKIE]
    reader = before.browser(READ_TOKEN)
    # The dashboard restarts (or another replica runs) with different tokens, same secret.
    after = serve(make_app(database), secret=SECRET, tokens=tokens_after)
    old = after.client(None, cookies={SESSION_COOKIE: cookie})
    assert logged_out(old)
    acted = old.post("/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}},
                     headers={"X-CSRF-Token": csrf_of(browser) or ""})
    assert acted.status_code == 401
    # A token whose role did not change keeps its session.
    kept = after.client(None, cookies={SESSION_COOKIE: reader.cookies[SESSION_COOKIE]})
    assert kept.get("/").status_code == 200
    if ADMIN_TOKEN in tokens_after:  # logging in again gives the new, lower role
        again = after.browser(ADMIN_TOKEN)
        token = csrf_of(again) or ""
        refused = again.post("/api/jobs", json={"name": "add", "args": {"x": 1, "y": 2}},
                             headers={"X-CSRF-Token": token})
        assert refused.status_code == 403 and refused.json()["error"] == "read_only"


# -- the Secure attribute (item 9) ---------------------------------------------------------------


def login_cookie(client: Local, **headers: str) -> str:
    response = client.get("/login", params={"token": ADMIN_TOKEN}, headers=headers)
    assert response.status_code == 303, response.text[:300]
    found = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(found) == 1 and found[0].startswith(SESSION_COOKIE), found
    return found[0]


def secure(set_cookie: str) -> bool:
    return bool(re.search(r";\s*secure\b", set_cookie, re.IGNORECASE))


def test_the_cookie_is_secure_over_https(local: Callable[..., Local]) -> None:
    assert secure(login_cookie(local(base_url="https://testserver")))
    assert not secure(login_cookie(local(base_url="http://testserver")))


def test_a_trusted_proxy_saying_https_makes_the_cookie_secure(
    local: Callable[..., Local],
) -> None:
    behind = local(client=("10.1.2.3", 40000), trusted_proxies=["10.1.0.0/16"])
    assert secure(login_cookie(behind, **{"X-Forwarded-Proto": "https"}))
    assert not secure(login_cookie(behind, **{"X-Forwarded-Proto": "http"}))
    # The same header from a client that is not a trusted proxy is ignored.
    direct = local(client=("192.0.2.9", 40000), trusted_proxies=["10.1.0.0/16"])
    assert not secure(login_cookie(direct, **{"X-Forwarded-Proto": "https"}))
    untrusting = local(client=("10.1.2.3", 40000))
    assert not secure(login_cookie(untrusting, **{"X-Forwarded-Proto": "https"}))


def test_secure_cookies_can_be_forced(local: Callable[..., Local]) -> None:
    assert secure(login_cookie(local(secure_cookies=True)))


def test_a_bad_trusted_proxy_is_refused(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(ConfigurationError, match="not an IP address or network"):
        create_app(app, tokens={ADMIN_TOKEN: "admin"}, trusted_proxies=["proxy.local"])


# -- attempts limited per client (item 10) -------------------------------------------------------


class Clock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def from_address(served: Served, address: str, token: str | None) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine)."""
    return served.client(token, transport=httpx.HTTPTransport(local_address=address))


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_wrong_bearer_tokens_are_limited_per_client(
    serve: Callable[..., Served], database: str
) -> None:
    clock = Clock()
    served = serve(make_app(database),
                   attempt_limiter=AttemptLimiter(burst=5, refill_seconds=10, clock=clock))
    guesser = from_address(served, "127.0.0.1", None)
    statuses = [guesser.get("/api/health", headers={"Authorization": f"Bearer guess-{i}"})
                for i in range(300)]
    assert [r.status_code for r in statuses[:5]] == [401] * 5
    assert {r.status_code for r in statuses[5:]} == {429}
    limited = statuses[-1]
    assert limited.headers["Retry-After"] == "10"
    assert limited.json()["error"] == "too_many_attempts"
    assert "wait 10 s" in limited.json()["message"]
    # Even the right token waits from that client; another client is not affected.
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert guesser.get("/api/health", headers=right).status_code == 429
    assert from_address(served, "127.0.0.2", ADMIN_TOKEN).get("/api/health").status_code == 200
    clock.now += 10  # one attempt back
    assert guesser.get("/api/health", headers=right).status_code == 200


def test_failed_logins_are_limited_per_client(serve: Callable[..., Served],
                                              tmp_path: Path) -> None:
    clock = Clock()
    served = serve(make_app(f"sqlite:///{tmp_path / 'c.db'}"),
                   attempt_limiter=AttemptLimiter(burst=3, refill_seconds=60, clock=clock))
    guesser = from_address(served, "127.0.0.1", None)
    codes = [guesser.post("/login", data={"token": f"guess-{i}"}).status_code for i in range(3)]
    codes.append(guesser.get("/login", params={"token": "guess-x"}).status_code)
    assert codes == [401, 401, 401, 429]
    limited = guesser.post("/login", data={"token": ADMIN_TOKEN})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert "wait 60 s" in limited.text and SESSION_COOKIE not in limited.cookies
    other = from_address(served, "127.0.0.2", None)
    assert other.post("/login", data={"token": ADMIN_TOKEN}).status_code == 303


def test_the_limiter_refills_over_time_and_forgets_old_clients() -> None:
    clock = Clock()
    limiter = AttemptLimiter(burst=2, refill_seconds=5, max_clients=2, clock=clock)
    limiter.failed("a")
    limiter.failed("a")
    with pytest.raises(Exception, match="wait 5 s") as raised:
        limiter.check("a")
    assert getattr(raised.value, "headers", {}) == {"Retry-After": "5"}
    clock.now += 5
    limiter.check("a")
    limiter.failed("b")
    limiter.failed("c")  # "a" was the least recent: forgotten, so its bucket is full again
    limiter.failed("a")
    limiter.check("a")


# -- short tokens at the command line (item 10) --------------------------------------------------


@pytest.mark.parametrize("option", ["--token", "--read-token"])
def test_the_dashboard_command_refuses_a_token_under_32_characters(option: str) -> None:
    result = CliRunner().invoke(dashboard, ["shopapp:app", option, "x" * 31])
    assert isinstance(result.exception, ConfigurationError)
    assert f"{option} must be at least 32 characters (got 31)" in str(result.exception)
