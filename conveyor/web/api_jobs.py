"""The JSON API's job resource: read, list, follow (Server-Sent Events), enqueue, cancel and
retry jobs under ``/api/jobs``."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from conveyor._handle import JobHandle
from conveyor.errors import (
    ArgumentError,
    ConfigurationError,
    PayloadTooLargeError,
    QueueFull,
    StageJobRetryError,
    UnknownJobError,
)
from conveyor.store.protocol import JobFilter
from conveyor.web import params, serialize
from conveyor.web.api_base import ApiBase, ApiJson
from conveyor.web.api_requests import call_of, job_name, list_filter, query_values, read_json
from conveyor.web.events import JobEvents, SlotResponse
from conveyor.web.pages_common import NO_STORE_HEADERS
from conveyor.web.web_context import ApiError

OUTPUT_PAGE = 500
"""Chunks of a job's output per page of ``GET /api/jobs/{id}/output``."""


class JobsApi(ApiBase):
    """The handlers of ``/api/jobs``; each authenticates first, then validates, then touches
    the store."""

    async def job(self, request: Request) -> Response:
        """One job: state, progress, arguments, result, error, attempts count, times."""
        await self.context.principal(request)
        job = await self._job(request)
        now = await self._run(self.context.store.now)
        return ApiJson(serialize.job_detail(job, now))

    async def attempts(self, request: Request) -> Response:
        """A job's attempts, oldest first, with their tracebacks."""
        await self.context.principal(request)
        job = await self._job(request)
        found = await self._run(self.context.store.list_attempts, job.id)
        return ApiJson(
            {"job_id": job.id, "attempts": [serialize.attempt_detail(a) for a in found]}
        )

    async def output(self, request: Request) -> Response:
        """What the job emitted (``ctx.emit``) after chunk ``after``, a page at a time."""
        await self.context.principal(request)
        job = await self._job(request)
        values = query_values(request.query_params.multi_items(), ("after",))
        after = params.whole(values["after"][0], "after", 0) if "after" in values else 0
        found = await self._run(self.context.store.read_output, job.id, after, OUTPUT_PAGE + 1)
        page = found[:OUTPUT_PAGE]
        return ApiJson(
            {
                "job_id": job.id,
                "chunks": [serialize.output_chunk(chunk) for chunk in page],
                "next_after": page[-1].seq if len(found) > OUTPUT_PAGE else None,
            }
        )

    async def list_jobs(self, request: Request) -> Response:
        """Jobs matching the filters, newest first, one keyset page at a time."""
        await self.context.principal(request)
        flt, limit = list_filter(request.query_params.multi_items())
        found = await self._run(self.context.store.list_jobs, flt)
        page = found[:limit]
        return ApiJson(
            {
                "jobs": [serialize.job_summary(job) for job in page],
                "next_before_id": page[-1].id if len(found) > limit else None,
            }
        )

    async def events(self, request: Request) -> Response:
        """The job's state and progress as Server-Sent Events, until it is final (or the
        stream's maximum age); a 429 past the principal's cap of open streams."""
        principal = await self.context.principal(request)
        job = await self._job(request)
        if request.method == "HEAD":  # headers only: a stream would run until the job ends
            return Response(media_type="text/event-stream", headers=NO_STORE_HEADERS)
        limits = self.slots.limits
        if not self.slots.take(principal.name):
            raise ApiError(
                429, "too_many_streams",
                f"{principal.name} already has {limits.per_principal} event streams open, the "
                "most one principal may hold; close one (a stream ends by itself when its job "
                "is final) and retry, or poll GET /api/jobs/{id} instead",
                limit=limits.per_principal,
            )
        stream = JobEvents(request, job.id, self.context.store.get_job,
                           max_age_seconds=limits.max_age_seconds,
                           read_output=self.context.store.read_output)
        return SlotResponse(
            self.slots,
            principal.name,
            stream.stream(),
            media_type="text/event-stream",
            headers={**NO_STORE_HEADERS, "X-Accel-Buffering": "no"},
        )

    async def enqueue(self, request: Request) -> Response:
        """Enqueue a job by name; 201 with its id, or 200 for an ``Idempotency-Key`` repeat."""
        await self.context.principal(request, act=True)
        body = await read_json(request)
        name = job_name(body)
        handle = await self._run(
            self._enqueue_now, name, body, request.headers.get("idempotency-key")
        )
        return ApiJson(
            {"id": handle.id, "name": handle.name, "state": handle.state.value,
             "duplicate": handle.duplicate},
            status_code=200 if handle.duplicate else 201,
            headers={"Location": str(request.url_for("api_job", job_id=str(handle.id)))},
        )

    def _enqueue_now(
        self, name: str, body: dict[str, Any], idempotency_key: str | None
    ) -> JobHandle:
        app = self.context.app
        try:
            definition = app.get(name)
        except UnknownJobError as exc:
            raise ApiError(404, "unknown_job", str(exc), known=sorted(app.jobs)) from exc
        args, options = call_of(body, idempotency_key)
        try:
            prepared = definition.prepare(**args, **options)
        except PayloadTooLargeError as exc:
            raise ApiError(413, "too_large", str(exc)) from exc
        except ArgumentError as exc:
            raise ApiError(422, "invalid_args", str(exc)) from exc
        except ConfigurationError as exc:
            raise ApiError(422, "invalid_options", str(exc)) from exc
        try:
            return app.enqueue_many([prepared])[0]
        except QueueFull as exc:
            raise ApiError(429, "queue_full", str(exc), queue=exc.queue) from exc

    async def cancel(self, request: Request) -> Response:
        """Cancel a job that is not final yet."""
        return await self._act(request, "cancel")

    async def retry(self, request: Request) -> Response:
        """Run a dead or cancelled job again with fresh attempts, or a waiting one now."""
        return await self._act(request, "retry")

    async def _act(self, request: Request, action: str) -> Response:
        principal = await self.context.principal(request, act=True)
        job = await self._job(request)
        store = self.context.store
        verb = store.cancel_jobs if action == "cancel" else store.retry_jobs
        try:
            changed = await self._run(verb, JobFilter(ids=(job.id,)))
        except StageJobRetryError as exc:
            # A finished stage job runs again by resuming its run (POST /api/runs/{id}/resume).
            raise ApiError(409, "stage_job", str(exc), runs=exc.run_ids) from exc
        if not changed:
            raise ApiError(
                409,
                "invalid_transition",
                f"job {job.id} is {job.state.value}: {_cannot(action)}",
                state=job.state.value,
            )
        details = json.dumps({"via": "api", "from_state": job.state.value})
        await self._run(store.record_action, principal.name, action, f"job:{job.id}", details)
        after = await self._run(store.get_job, job.id)
        state = after.state.value if after is not None else None
        return ApiJson({"id": job.id, "action": action, "changed": True, "state": state})


def _cannot(action: str) -> str:
    if action == "cancel":
        return "only jobs not yet final (scheduled, queued, running, retrying) can be cancelled"
    return "a running or succeeded job cannot be retried (wait for a running one to end)"
