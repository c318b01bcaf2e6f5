"""What every dashboard page shares: rendering, store calls off the loop, flashes, filters.

Pages are plain server-rendered HTML: Jinja2 autoescapes every value, so user data (args,
errors, names) is always text. A strict Content-Security-Policy on every page backs that up:
no inline script or style runs, even if a value ever slipped through unescaped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from conveyor import _durations as durations
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter, Store
from conveyor.web.auth import Principal
from conveyor.web.params import BadParameter, age, query_text, query_whole
from conveyor.web.web_context import WebContext

P = ParamSpec("P")
T = TypeVar("T")

FLASH_SIGNATURE = "sig"
"""The query parameter carrying the signature of a redirect's flash messages."""
PAGE_SIZE = 50
"""Rows per page of a list; the next page is asked for by keyset (``before_id``)."""

NO_STORE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
"""Sent with every API answer and every page: they carry job data (args, results, errors),
which no shared cache may keep and no browser may sniff into something other than declared."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "same-origin",
    **NO_STORE_HEADERS,
}
"""Sent with every page: scripts and styles only from the dashboard's own static files."""


async def call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a (blocking) store call on a worker thread, never on the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


def install_filters(context: WebContext) -> None:
    """Register the template filters the pages use (idempotent)."""
    env = context.templates.env
    env.filters.update(
        ago=ago,
        clock=utc_clock,
        iso=iso,
        duration=durations.duration,
        age=durations.age,
        pretty_json=pretty_json,
        first_line=first_line,
    )


def ago(moment: float | None, now: float | None = None) -> str:
    """``3m ago`` / ``in 5m`` relative to ``now`` (the store's clock); ``-`` when unknown."""
    if moment is None:
        return "-"
    now = time.time() if now is None else now
    if moment > now + 1:
        return durations.until(moment, now)
    return f"{durations.since(moment, now)} ago"


def utc_clock(moment: float | None) -> str:
    """``2026-01-31 12:00:05 UTC``; ``-`` when unknown."""
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(moment: float | None) -> str:
    """An ISO 8601 timestamp for ``<time datetime=...>``."""
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def pretty_json(value: Any) -> str:
    """Indented JSON of a decoded value (args, result, meta) for a ``<pre>``; text as is."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def first_line(text: str | None, limit: int = 120) -> str:
    """The first line of ``text``, cut to ``limit`` characters (lists stay one line high)."""
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def render(
    context: WebContext,
    request: Request,
    principal: Principal,
    template: str,
    data: Mapping[str, Any],
    *,
    status: int = 200,
) -> Response:
    """A page: ``template`` with ``data`` plus who is looking, their CSRF token and flashes."""
    values: dict[str, Any] = {
        "principal": principal,
        "can_act": principal.can_act,
        "csrf_token": context.auth.csrf_token(principal) or "",
        **_flashes(context, request),
        **data,
    }
    return context.templates.TemplateResponse(
        request, template, values, status_code=status, headers=SECURITY_HEADERS
    )


def back(
    request: Request,
    route: str,
    *,
    flash: str | None = None,
    error: str | None = None,
    query: Mapping[str, str] | None = None,
    **path_params: Any,
) -> RedirectResponse:
    """A 303 to page ``route`` with a flash message in its query string, signed so the page
    shows it (escaped); a flash in a URL the dashboard did not write is never shown."""
    url = request.url_for(route, **path_params)
    params = dict(query or {})
    if flash:
        params["flash"] = flash
    if error:
        params["error"] = error
    if flash or error:
        context: WebContext = request.app.state.context
        params[FLASH_SIGNATURE] = _flash_signature(context, flash or "", error or "")
    if params:
        url = url.include_query_params(**params)
    return RedirectResponse(str(url), status_code=303)


def _flash_signature(context: WebContext, flash: str, error: str) -> str:
    body = f"flash\x00{flash}\x00{error}".encode()
    return hmac.new(context.auth.secret, body, hashlib.sha256).hexdigest()[:32]


def _flashes(context: WebContext, request: Request) -> dict[str, str | None]:
    """The flash messages of the query string, if the dashboard signed them (``back``).

    Unsigned or tampered ones are dropped: a link from anywhere could otherwise make the
    dashboard display any text (``?error=Your session expired, log in at evil.example``)."""
    flash = request.query_params.get("flash")
    error = request.query_params.get("error")
    given = request.query_params.get(FLASH_SIGNATURE, "")
    if (flash or error) and hmac.compare_digest(
        given.encode(), _flash_signature(context, flash or "", error or "").encode()
    ):
        return {"flash": flash, "flash_error": error}
    return {"flash": None, "flash_error": None}


def record(store: Store, principal: Principal, action: str, target: str, **details: Any) -> None:
    """Write an operator action to the audit log (``/actions``)."""
    store.record_action(principal.name, action, target, json.dumps(details, sort_keys=True))


def plural(count: int, word: str) -> str:
    """``1 job`` / ``3 jobs``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def text_field(values: Mapping[str, Any] | FormData, key: str) -> str | None:
    """A trimmed text value of a form, or None when absent or blank (unchecked: query
    parameters go through :mod:`conveyor.web.params`)."""
    value = values.get(key)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


# -- the jobs filter (the jobs list and the dead-letter queue share it) ----------------------------

JOB_FILTER_FIELDS = (
    "state", "queue", "name", "tenant", "error_type", "q", "newer_than", "older_than",
)
"""Query parameters of the jobs list, in the order the filter form shows them."""


@dataclass
class ParsedFilter:
    """A :class:`JobFilter` read from a query string, the values to refill the form with,
    and what was wrong with any of them (shown above the list)."""

    flt: JobFilter
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return any(self.values.get(k) for k in JOB_FILTER_FIELDS)


def parse_job_filter(params: Mapping[str, str], *, limit: int = PAGE_SIZE) -> ParsedFilter:
    """Read the jobs list's filters with the API's validators; a bad value is reported (the
    page answers 400 and lists what was wrong) and ignored, never a 500."""
    errors: list[str] = []

    def checked(key: str, read: Callable[[str], T]) -> T | None:
        try:
            return read(key)
        except BadParameter as exc:
            errors.append(exc.detail)
            return None

    values: dict[str, str] = {}
    for key in JOB_FILTER_FIELDS:
        if (value := checked(key, lambda k: query_text(params, k))) is not None:
            values[key] = value
    states: tuple[JobState, ...] = ()
    if "state" in values:
        try:
            states = (JobState(values["state"]),)
        except ValueError:
            known = ", ".join(s.value for s in JobState)
            errors.append(f"unknown state {values['state']!r}; choose one of {known}")
    ages = {key: checked(key, lambda k: age(values[k], k)) if key in values else None
            for key in ("newer_than", "older_than")}
    flt = JobFilter(
        states=states,
        queue=values.get("queue"),
        name=values.get("name"),
        tenant=values.get("tenant"),
        error_type=values.get("error_type"),
        search=values.get("q"),
        newer_than=ages["newer_than"],
        older_than=ages["older_than"],
        before_id=checked("before_id", lambda k: query_whole(params, k)),
        limit=limit + 1,  # one more than shown: tells whether an older page exists
        payloads=False,  # a list never shows arguments or results
    )
    return ParsedFilter(flt, values, errors)
