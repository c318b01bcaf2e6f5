"""What every web handler needs: the Conveyor app, its store, auth, templates, and guards."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from conveyor.web.auth import CSRF_FIELD, CSRF_HEADER, AuthConfig, Principal
from conveyor.web.errors import MAX_BODY_BYTES, ApiError
from conveyor.web.events import StreamLimits
from conveyor.web.forms import read_form
from conveyor.web.series_cache import SeriesCache

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.store.protocol import Store

TEMPLATES = Path(__file__).parent / "templates"
__all__ = ["MAX_BODY_BYTES", "ApiError", "WebContext", "make_templates"]


@dataclass
class WebContext:
    """Shared by the API and the pages of one dashboard."""

    app: Conveyor
    auth: AuthConfig
    templates: Jinja2Templates
    stream_limits: StreamLimits = field(default_factory=StreamLimits)
    """Caps on the job event streams (per principal, and their age)."""
    series: SeriesCache = field(default_factory=SeriesCache)
    """The overview charts' ended buckets, read once (see :mod:`.series_cache`)."""

    @property
    def store(self) -> Store:
        """The app's synchronous store (handlers run it on a thread)."""
        return self.app.store

    async def principal(self, request: Request, *, act: bool = False) -> Principal:
        """The request's principal, or a 401/403; with ``act``, an admin with a valid CSRF
        token (for a browser session) is required."""
        principal = await self.auth.principal(request)
        if principal is None:
            raise ApiError(
                401,
                "unauthenticated",
                "log in first: open the login URL `conveyor dashboard` printed, or send "
                "Authorization: Bearer <token>",
            )
        if act:
            if not principal.can_act:
                raise ApiError(403, "read_only", f"{principal.name} may look but not act")
            submitted = request.headers.get(CSRF_HEADER)
            if submitted is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                form = await read_form(request)  # bounded: size, fields, parts
                value = form.get(CSRF_FIELD)
                submitted = value if isinstance(value, str) else None
            if not self.auth.csrf_ok(principal, submitted):
                raise ApiError(
                    403,
                    "csrf",
                    "this form is stale or did not come from the dashboard; reload the page "
                    "and try again",
                )
        return principal


def make_templates() -> Jinja2Templates:
    """The dashboard's templates, autoescaped: user data never becomes markup."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.autoescape = True
    return templates
