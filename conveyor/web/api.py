"""The JSON HTTP API under ``/api``: enqueue, read, list, cancel and retry jobs; queues,
workers, schedules, alerts; a job's Server-Sent Events; and the OpenAPI document.

Every route needs a principal (a bearer token, a session cookie or the app's callback);
writes need an admin, and a browser session must also send its CSRF token. Errors are JSON,
``{"error": code, "message": ...}``, and a refused request writes nothing.

``Idempotency-Key``: a POST /api/jobs carrying this header enqueues with the unique key
``idempotency:<key>`` held for 24 hours after the job succeeds (and all the while it waits or
runs), so a client retrying after a timeout gets the first job back (200, ``duplicate``: true)
instead of a second one. Once the job went dead or was cancelled, or 24 hours after it
succeeded, the key is free and the same request enqueues a new job. Keys are shared by every
job type, like all unique keys (see docs/unique-jobs.md).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from conveyor.web.api_base import ApiJson as ApiJson  # noqa: PLC0414 - a re-export
from conveyor.web.api_jobs import JobsApi
from conveyor.web.api_requests import IDEMPOTENCY_HOLD_SECONDS as IDEMPOTENCY_HOLD_SECONDS  # noqa: PLC0414
from conveyor.web.api_requests import IDEMPOTENCY_PREFIX as IDEMPOTENCY_PREFIX  # noqa: PLC0414
from conveyor.web.api_status import StatusApi
from conveyor.web.web_context import WebContext


class JsonApi(JobsApi, StatusApi):
    """Every handler of the API, by resource: jobs (:mod:`.api_jobs`) and the rest
    (:mod:`.api_status`); requests are read by :mod:`.api_requests`."""


def api_routes(context: WebContext) -> list[BaseRoute]:
    """The ``/api`` routes of one dashboard."""
    api = JsonApi(context)
    return [
        Route("/api/health", api.health, methods=["GET"], name="api_health"),
        Route("/api/openapi.json", api.openapi, methods=["GET"], name="api_openapi"),
        Route("/api/jobs", api.list_jobs, methods=["GET"], name="api_jobs"),
        Route("/api/jobs", api.enqueue, methods=["POST"], name="api_enqueue"),
        Route("/api/jobs/{job_id}", api.job, methods=["GET"], name="api_job"),
        Route("/api/jobs/{job_id}/attempts", api.attempts, methods=["GET"],
              name="api_job_attempts"),
        Route("/api/jobs/{job_id}/output", api.output, methods=["GET"], name="api_job_output"),
        Route("/api/jobs/{job_id}/events", api.events, methods=["GET"], name="api_job_events"),
        Route("/api/jobs/{job_id}/cancel", api.cancel, methods=["POST"], name="api_job_cancel"),
        Route("/api/jobs/{job_id}/retry", api.retry, methods=["POST"], name="api_job_retry"),
        Route("/api/queues", api.queues, methods=["GET"], name="api_queues"),
        Route("/api/workers", api.workers, methods=["GET"], name="api_workers"),
        Route("/api/schedules", api.schedules, methods=["GET"], name="api_schedules"),
        Route("/api/alerts", api.alerts, methods=["GET"], name="api_alerts"),
        Route("/api/usage", api.usage, methods=["GET"], name="api_usage"),
        Route("/api/checkins/{name}", api.checkin, methods=["POST"], name="api_checkin"),
    ]
