"""The dashboard and JSON API as one Starlette application (``create_app``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from conveyor.web.auth import SESSION_COOKIE, SESSION_SECONDS, AuthConfig, Authenticate, Role
from conveyor.web.context import ApiError, WebContext, make_templates
from conveyor.web.events import StreamLimits
from conveyor.web.pages_common import NO_STORE_HEADERS, SECURITY_HEADERS

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
) -> Starlette:
    """The dashboard and API for ``app``; mount it anywhere (``/conveyor`` say).

    ``tokens`` maps each token to its role (``"admin"`` or ``"read"``); ``authenticate`` is
    a function of the request returning a :class:`~conveyor.web.Principal` or None, to reuse
    the host app's login. One of them is required. ``secret`` signs session cookies (random
    per process by default, which logs browsers out on restart). ``stream_limits`` bounds
    the job event streams: how many one principal holds open, and how long each lasts.
    """
    from conveyor.web.api import api_routes
    from conveyor.web.pages import page_routes

    context = WebContext(app, AuthConfig.build(tokens, authenticate, secret), make_templates(),
                         stream_limits or StreamLimits())
    routes: list[BaseRoute] = [
        Route("/login", _login_page(context), methods=["GET", "POST"], name="login"),
        Route("/logout", _logout, methods=["POST"], name="logout"),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        *api_routes(context),
        *page_routes(context),
    ]
    web = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _error},  # type: ignore[dict-item]
    )
    web.state.context = context
    return web


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(f"{request.scope.get('root_path', '')}/api") or (
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
        headers=SECURITY_HEADERS,
    )


def _code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed"}.get(status, f"http_{status}")


def _login_page(context: WebContext) -> Any:
    async def login(request: Request) -> Response:
        """GET shows the form (or logs in from ``?token=``); POST logs in from the form."""
        token: str | None = request.query_params.get("token")
        if request.method == "POST":
            form = await request.form()
            value = form.get("token")
            token = value if isinstance(value, str) else None
        if token:
            principal = context.auth.login(token)
            if principal is not None:
                response = RedirectResponse(request.url_for("overview"), status_code=303)
                response.set_cookie(
                    SESSION_COOKIE,
                    context.auth.session_cookie(principal),
                    max_age=SESSION_SECONDS,
                    httponly=True,
                    samesite="strict",
                    path=request.scope.get("root_path", "") or "/",
                )
                return response
        return context.templates.TemplateResponse(
            request,
            "login.html",
            {"failed": bool(token)},
            status_code=401 if token else 200,
            headers=SECURITY_HEADERS,
        )

    return login


async def _logout(request: Request) -> Response:
    response = RedirectResponse(request.url_for("login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") or "/")
    return response
