"""The dashboard pages: overview, jobs, one job, runs, one run, dead letters, queues,
schedules, actions.

Every page needs a principal; every form that changes something is a POST carrying the
session's CSRF token, is refused to read-only principals, is recorded in the audit log, and
answers with a 303 back to a page that shows what happened. The pages live in
``pages_*.py``; this module only gathers their routes.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from conveyor.web.pages_admin import AdminPages
from conveyor.web.pages_common import install_filters
from conveyor.web.pages_dlq import DeadLetterPages
from conveyor.web.pages_job import JobPage
from conveyor.web.pages_jobs import JobsPage
from conveyor.web.pages_overview import OverviewPage
from conveyor.web.pages_runs import RunPages
from conveyor.web.web_context import WebContext


def page_routes(context: WebContext) -> list[BaseRoute]:
    """Every page's routes, for ``create_app``."""
    install_filters(context)
    return [
        *OverviewPage(context).routes(),
        *JobsPage(context).routes(),
        *JobPage(context).routes(),
        *RunPages(context).routes(),
        *DeadLetterPages(context).routes(),
        *AdminPages(context).routes(),
    ]
