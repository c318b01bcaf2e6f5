"""The dashboard and JSON API as one Starlette application (``create_app``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from conveyor.errors import ConveyorError
from conveyor.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_SECONDS,
    AuthConfig,
    Authenticate,
    Role,
)
from conveyor.web.events import StreamLimits
from conveyor.web.forms import read_form
from conveyor.web.metrics import ClusterMetrics
from conveyor.web.pages_common import NO_STORE_HEADERS, SECURITY_HEADERS
from conveyor.web.throttle import AttemptLimiter, TooManyAttempts
from conveyor.web.web_context import ApiError, WebContext, make_templates

if TYPE_CHECKING:
    from conveyor.app import Conveyor

STATIC = Path(__file__).parent / "static"


def create_app(
    app: Conveyor,
    *,
    tokens: Mapping[str, str | Role] | None = None,
    authenticate: Authenticate | None = None,
    secret: str | bytes | None = None,
    stream_limits: StreamLimits | None = None,
    trusted_proxies: Iterable[str] = (),
    secure_cookies: bool | None = None,
    attempt_limiter: AttemptLimiter | None = None,
) -> Starlette:
    """The dashboard and API for ``app``; mount it anywhere (``/conveyor`` say).

    ``tokens`` maps each token to its role (``"admin"`` or ``"read"``); ``authenticate`` is
    a function of the request returning a :class:`~conveyor.web.Principal` or None, to reuse
    the host app's login. One of them is required. ``secret`` signs session cookies (random
    per process by default, which logs browsers out on restart; give every replica the same
    one). Sessions live in the app's store, so a logout ends them in every replica.

    ``trusted_proxies`` lists the addresses (or networks) of reverse proxies whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` headers are believed. ``secure_cookies``
    forces the cookie's ``Secure`` attribute on (True) or off (False); by default it is set
    when the browser's connection is HTTPS. ``attempt_limiter`` replaces the default limit on
    failed logins and wrong tokens per client (10 at once, then one per 6 seconds).
    ``stream_limits`` bounds the job event streams: how many one principal holds open, and
    how long each lasts.
    """
    from conveyor.web.api import api_routes
    from conveyor.web.api_runs import run_api_routes
    from conveyor.web.pages import page_routes

    auth = AuthConfig.build(
        tokens,
        authenticate,
        secret,
        store=lambda: app.store,
        limiter=attempt_limiter,
        trusted_proxies=trusted_proxies,
        secure_cookies=secure_cookies,
    )
    context = WebContext(app, auth, make_templates(), stream_limits or StreamLimits())
    routes: list[BaseRoute] = [
        Route("/login", _login_page(context), methods=["GET", "POST"], name="login"),
        Route("/logout", _logout, methods=["POST"], name="logout"),
        Route("/healthz", _healthz, methods=["GET"], name="healthz"),
        Route("/metrics", ClusterMetrics(context).endpoint, methods=["GET"], name="metrics"),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        *api_routes(context),
        *run_api_routes(context),
        *page_routes(context),
    ]
    web = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _error},  # type: ignore[dict-item]
    )
    web.state.context = context
    return web


HEALTHZ_TIMEOUT = 2.0
"""Seconds the store has to answer ``/healthz``."""


async def _healthz(request: Request) -> Response:
    """Unauthenticated up/down for load balancers: 200 when the store answers a read in
    time, else 503. It says nothing else (no version, no counts, no error text)."""
    context: WebContext = request.app.state.context
    try:
        # A primary-key read: the cheapest real round trip to the store.
        await asyncio.wait_for(run_in_threadpool(context.store.get_job, 0), HEALTHZ_TIMEOUT)
    except (TimeoutError, ConveyorError, OSError):
        return JSONResponse({"status": "down"}, status_code=503, headers=NO_STORE_HEADERS)
    return JSONResponse({"status": "up"}, headers=NO_STORE_HEADERS)


def _wants_json(request: Request) -> bool:
    root = request.scope.get("root_path", "")
    # A scraper of /metrics wants a status it can report, not a login page.
    return request.url.path.startswith((f"{root}/api", f"{root}/metrics")) or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


async def _error(request: Request, exc: HTTPException) -> Response:
    """JSON errors for the API; for pages, a login redirect on 401 and a small page else."""
    code = exc.code if isinstance(exc, ApiError) else _code(exc.status_code)
    extra = exc.extra if isinstance(exc, ApiError) else {}
    if _wants_json(request):
        return JSONResponse(
            {"error": code, "message": exc.detail, **extra},
            status_code=exc.status_code,
            # Retry-After on a 429, Allow on a 405; never cached (errors may name job states)
            headers={**(exc.headers or {}), **NO_STORE_HEADERS},
        )
    if exc.status_code == 401:
        return RedirectResponse(request.url_for("login"), status_code=303)
    context: WebContext = request.app.state.context
    return context.templates.TemplateResponse(
        request,
        "error.html",
        {"status": exc.status_code, "message": exc.detail},
        status_code=exc.status_code,
        headers={**SECURITY_HEADERS, **(exc.headers or {})},  # keeps a 429's Retry-After
    )


def _code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed"}.get(status, f"http_{status}")


def _login_page(context: WebContext) -> Any:
    async def login(request: Request) -> Response:
        """GET shows the form (or logs in from ``?token=``); POST logs in from the form."""
        token: str | None = request.query_params.get("token")
        try:
            if request.method == "POST":
                # A client that keeps failing is refused before its body is even read.
                context.auth.limiter.check(context.auth.proxies.client(request))
                value = (await read_form(request)).get("token")
                token = value if isinstance(value, str) else None
            principal = context.auth.check_token(request, token) if token else None
        except TooManyAttempts as exc:
            return _login_form(context, request, exc.status_code, exc.detail, exc.headers)
        if token and principal is not None:
            response = RedirectResponse(request.url_for("overview"), status_code=303)
            response.set_cookie(
                SESSION_COOKIE,
                await context.auth.open_session(principal, token),
                max_age=SESSION_SECONDS,
                httponly=True,
                secure=context.auth.cookie_secure(request),
                samesite="strict",
                path=_cookie_path(request),
            )
            return response
        failed = "That token is not valid. Copy the login URL that conveyor dashboard printed."
        return _login_form(context, request, 401 if token else 200, failed if token else None)

    return login


def _login_form(
    context: WebContext,
    request: Request,
    status: int,
    error: str | None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return context.templates.TemplateResponse(
        request,
        "login.html",
        {"error": error},
        status_code=status,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def _cookie_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")) or "/"


async def _logout(request: Request) -> Response:
    """End the session everywhere (it must carry its CSRF token) and drop the cookie."""
    context: WebContext = request.app.state.context
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = await context.auth.from_cookie(cookie)
    if principal is not None:
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None:
            value = (await read_form(request)).get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
        if not context.auth.csrf_ok(principal, submitted):
            # Else any site could log a user out by posting here (SameSite aside).
            raise ApiError(
                403,
                "csrf",
                "logging out needs the form's CSRF token; use the dashboard's Log out button "
                "(reload the page if it is stale)",
            )
        await context.auth.close_session(cookie)
    response = RedirectResponse(request.url_for("login"), status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path=_cookie_path(request),
        secure=context.auth.cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response
