"""The jobs list: filtered by state, queue, name, tenant, error type, age and text; paged by id.

Paging is by keyset (``before_id``, newest first), so the hundredth page costs what the first
does. The list shows no payloads and no tracebacks: a job's own page has those.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from conveyor.app import Conveyor
from conveyor.models import JobState
from conveyor.web.pages_common import PAGE_SIZE, ParsedFilter, call, parse_job_filter, render
from conveyor.web.web_context import WebContext


def read_jobs(app: Conveyor, parsed: ParsedFilter) -> dict[str, Any]:
    """One page of jobs matching the filter, and whether an older page exists."""
    store = app.store
    found = store.list_jobs(parsed.flt) if not parsed.errors else []
    rows = found[:PAGE_SIZE]
    older = {**parsed.values, "before_id": str(rows[-1].id)} if len(found) > PAGE_SIZE else None
    return {
        "now": store.now(),
        "jobs": rows,
        "older": older,
        "paged": parsed.flt.before_id is not None,
    }


def known_names(app: Conveyor) -> dict[str, list[str]]:
    """Job names and queues this app declares, offered as suggestions in the filter form."""
    return {
        "job_names": sorted(app.jobs),
        "queue_names": sorted({d.options.queue for d in app.jobs.values()}),
    }


class JobsPage:
    """``/jobs``: every job, newest first, narrowed by the filter form."""

    def __init__(self, context: WebContext) -> None:
        self.context = context

    def routes(self) -> list[BaseRoute]:
        """The list's route."""
        return [Route("/jobs", self.jobs, name="jobs")]

    async def jobs(self, request: Request) -> Response:
        """Render one page of the list."""
        principal = await self.context.principal(request)
        parsed = parse_job_filter(request.query_params)
        data = await call(read_jobs, self.context.app, parsed)
        return await render(
            self.context,
            request,
            principal,
            "jobs.html",
            {
                **data,
                **known_names(self.context.app),
                "filters": parsed.values,
                "filter_errors": parsed.errors,
                "filtered": parsed.active,
                "states": [s.value for s in JobState],
                "nav": "jobs",
            },
            status=400 if parsed.errors else 200,
        )
